/**
 * The job-state record: what a job's one Slack message shows, kept in Redis under the job's record id (the
 * plan job's id for a mutating command, shared by its run job; the job's own id for a read-only one). It is
 * parsed with this schema whenever it is read back (another process, an older version, or a crash may have
 * written it), and rendered only by the job-message service (src/jobs/job-messages.ts), whichever role asks.
 */
import { z } from 'zod';
import { commandResultSchema, storedPlanSchema } from '../core/plugin.js';
import { mdSchema } from '../core/text.js';

export const JOB_STATES = [
  'planning',
  'awaiting-confirmation',
  'refused',
  'noop',
  'queued',
  'waiting',
  'running',
  'retrying',
  'completed',
  'findings',
  'partial',
  'failed',
  'cancelled',
  'expired',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const STEP_STATES = ['pending', 'running', 'done', 'warning', 'skipped', 'failed'] as const;
export type StepState = (typeof STEP_STATES)[number];
export const HOST_STATES = ['pending', 'running', 'ok', 'failed', 'skipped'] as const;

export const stepViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  state: z.enum(STEP_STATES),
  detail: z.string().optional(),
});
export const hostViewSchema = z.object({ state: z.enum(HOST_STATES), detail: z.string().optional() });

/** What BullMQ's job progress holds: the step and Host tables only (for `/flexvdi job <id>`). */
export const jobProgressSchema = z.object({
  steps: z.array(stepViewSchema).default([]),
  hosts: z.record(hostViewSchema).default({}),
});
export type JobProgress = z.output<typeof jobProgressSchema>;

export const jobRecordSchema = z.object({
  /** Key of this record; the plan job's id, or the job's own for a read-only command. */
  recordId: z.string(),
  channel: z.string(),
  /** The thread the message is posted in (its parent's ts); absent: a top-level message. */
  threadTs: z.string().optional(),
  /** The Slack message, once posted. */
  messageTs: z.string().optional(),
  /** The command as typed after `/flexvdi` (user input: escaped when rendered). */
  text: z.string(),
  requester: z.string(),
  state: z.enum(JOB_STATES),
  /** The job doing the work now (the run job once confirmed). */
  jobId: z.string().optional(),
  note: mdSchema.optional(),
  plan: storedPlanSchema.optional(),
  confirmId: z.string().optional(),
  expiresAt: z.number().optional(),
  confirmedBy: z.string().optional(),
  /** Four eyes: how many must confirm, and who has (in order); absent when one Confirm is enough. */
  approvals: z.object({ required: z.number().int(), by: z.array(z.string()) }).optional(),
  /** Extra buttons a plan offers beside Confirm/Cancel (e.g. OCFS2's Edit). */
  extraButtons: z.array(z.object({ text: z.string(), actionId: z.string() })).optional(),
  steps: z.array(stepViewSchema).optional(),
  hosts: z.record(hostViewSchema).optional(),
  current: z.string().optional(),
  result: commandResultSchema.optional(),
  /** An error's user message (prose we wrote, possibly with foreign values: entity-escaped when rendered). */
  error: z.string().optional(),
  updatedAt: z.number().default(0),
});
export type JobRecord = z.output<typeof jobRecordSchema>;

/** A state after which nothing more happens to the job (until a retry). */
export const isFinal = (s: JobState): boolean =>
  ['refused', 'noop', 'completed', 'findings', 'partial', 'failed', 'cancelled', 'expired'].includes(s);
