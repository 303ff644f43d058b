/** Every Redis key the program writes, in one place, under the deployment's prefix. */
export function keys(prefix: string) {
  return {
    queueName: 'flexvdi',
    bullPrefix: prefix,
    audit: `${prefix}:audit`,
    confirm: (id: string) => `${prefix}:confirm:${id}`,
    confirmUsed: (id: string) => `${prefix}:confirm-used:${id}`,
    dedup: (id: string) => `${prefix}:dedup:${id}`,
    checkpoints: (jobId: string) => `${prefix}:ckpt:${jobId}`,
    lock: (resource: string) => `${prefix}:lock:${resource}`,
    fence: `${prefix}:lock-fence`,
    cancel: (jobId: string) => `${prefix}:cancel:${jobId}`,
    cancelChannel: `${prefix}:cancel-events`,
    posted: (key: string) => `${prefix}:posted:${key}`,
    jobRecord: (recordId: string) => `${prefix}:job-state:${recordId}`,
    rawOutput: (jobId: string, host: string) => `${prefix}:raw:${jobId}:${host}`,
    messageRate: (channel: string, ts: string) => `${prefix}:msg-rate:${channel}:${ts}`,
  };
}
export type Keys = ReturnType<typeof keys>;
