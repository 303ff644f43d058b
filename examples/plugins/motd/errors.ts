/** Error codes of the motd plugin (namespaced; none is retryable: each needs a person to act). */
export const MotdErrorCode = {
  /** The text is empty, too long or holds control characters. */
  invalidText: 'motd.invalid_text',
  /** No Host is registered: there is nothing to write to. */
  noHosts: 'motd.no_hosts',
  /** A pinned Host left the inventory between the plan and the run. */
  changedSincePlan: 'motd.changed_since_plan',
  /** Reading /etc/motd back did not give the planned text. */
  verifyFailed: 'motd.verify_failed',
} as const;

export type MotdErrorCodeValue = (typeof MotdErrorCode)[keyof typeof MotdErrorCode];
