/**
 * The queue: one BullMQ queue per deployment (Redis key prefix from the inventory), job name = command id,
 * deterministic job ids so the same request can never make two jobs (BullMQ ignores an add whose jobId
 * exists). Two phases per command: `plan` (preflight on the Hosts, produces the plan and the Confirm
 * button) and `run` (the steps). Read-only commands skip straight to `run`.
 */
import { createHash } from 'node:crypto';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from './keys.js';

export const jobEnvelopeSchema = z.object({
  phase: z.enum(['plan', 'run']),
  /** The command as typed after `/flexvdi` (for display and audit). */
  text: z.string().max(2000),
  args: z.unknown(),
  requester: z.string(),
  isAdmin: z.boolean(),
  channel: z.string(),
  /**
   * The thread the job's message goes in (its parent's ts): a job started from a button in an alert thread
   * (Diagnose, Replace) shows its plan, progress and result there. Absent: a top-level message.
   */
  threadTs: z
    .string()
    .regex(/^\d+\.\d+$/)
    .optional(),
  /** The job-state record this job shows its progress in (default: the job's own id). */
  recordId: z.string().optional(),
  /** Slack's response_url of the command (30 min, 5 uses): for ephemeral errors when posting fails. */
  responseUrl: z.string().url().optional(),
  confirmId: z.string().optional(),
  confirmedBy: z.string().optional(),
  /** What the confirmed plan pinned; parsed with the command's own `pinned` schema before a step sees it. */
  pinned: z.unknown().optional(),
  /**
   * A plan job that confirms itself when its plan is not refused (the monitor's automatic failover, which the
   * inventory opts into): `by` is who is named as confirming, `why` goes in the audit record.
   */
  autoConfirm: z.object({ by: z.string().max(100), why: z.string().max(300) }).optional(),
  /** Bumped by `/flexvdi retry` so messages posted once per run are posted again for the new run. */
  generation: z.number().int().min(0).default(0),
});
export type JobEnvelope = z.input<typeof jobEnvelopeSchema>;
export type JobEnvelopeParsed = z.output<typeof jobEnvelopeSchema>;

/**
 * Job names are command ids. Plugins are registered at run time (tests add their own), so the honest type is
 * a string that the worker looks up in the registry (an unknown name fails the job as `job.unknown_command`).
 */
export type JobName = string;
export type FlexQueue = Queue<JobEnvelope, unknown, JobName>;

/** The run phase's job of a confirmed plan: the same envelope whether a person or the product confirmed it. */
export function runEnvelope(
  p: { text: string; args?: unknown; requester: string; channel: string; recordId: string; pinned?: unknown },
  run: { isAdmin: boolean; confirmId: string; confirmedBy: string; threadTs?: string | undefined },
): JobEnvelope {
  return {
    phase: 'run',
    text: p.text,
    args: p.args,
    requester: p.requester,
    isAdmin: run.isAdmin,
    channel: p.channel,
    ...(run.threadTs ? { threadTs: run.threadTs } : {}),
    recordId: p.recordId,
    confirmId: run.confirmId,
    confirmedBy: run.confirmedBy,
    pinned: p.pinned,
  };
}

/** A short, readable, deterministic id: no ':' and never all digits (BullMQ's rules for custom ids). */
export function deterministicId(kind: 'p' | 'j', ...parts: string[]): string {
  const h = createHash('sha256')
    .update(parts.join('\u0000'))
    .digest('base64url')
    .replace(/[-_]/g, '')
    .slice(0, 10);
  return `${kind}-${h.toLowerCase()}`;
}

/** The run job of a confirmed plan: one per confirmation (a second Confirm cannot start a second run). */
export const runJobIdFor = (confirmId: string) => deterministicId('j', 'confirm', confirmId);

export interface QueueSettings {
  attempts: number;
  backoffMs: number;
}

/** The inventory's retry settings for the jobs it adds. */
export const queueSettingsOf = (jobs: QueueSettings): QueueSettings => ({
  attempts: jobs.attempts,
  backoffMs: jobs.backoffMs,
});

export function createQueue(connection: Redis, prefix: string): FlexQueue {
  return new Queue<JobEnvelope, unknown, JobName>(keys(prefix).queueName, { connection, prefix });
}

export function jobOptions(jobId: string, s: QueueSettings, phase: 'plan' | 'run'): JobsOptions {
  return {
    jobId,
    // Plans are cheap previews: one retry for flaky networks. Runs use the configured attempts.
    attempts: phase === 'plan' ? 2 : s.attempts,
    backoff: { type: 'exponential', delay: s.backoffMs },
    removeOnComplete: { age: 7 * 86_400, count: 5000 },
    removeOnFail: { age: 30 * 86_400, count: 5000 },
  };
}

export async function enqueue(
  queue: FlexQueue,
  name: JobName,
  data: JobEnvelope,
  jobId: string,
  s: QueueSettings,
) {
  return queue.add(name, data, jobOptions(jobId, s, data.phase));
}
