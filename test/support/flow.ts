/**
 * Flow helpers for tests that drive a stack as Slack does (test/support/harness.ts): send a command, wait for
 * its plan, confirm it, wait for the job's state. A job's state is read from its job-state record in Redis
 * (src/jobs/job-state.ts) through the product's own reader (`JobMessages.read`), never by a regex over the
 * rendered message, so a wording change in the renderer breaks no engine test. A wait for a state also waits
 * until Slack shows that record (the message's text is what the one renderer makes of it), so what a test
 * then reads from the message is the state it waited for.
 */

import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { runJobIdFor } from '../../src/bot/actions.js';
import { unescapeSlack } from '../../src/core/args.js';
import { JobMessages } from '../../src/jobs/job-messages.js';
import { isFinal, JOB_STATES, type JobRecord, type JobState } from '../../src/jobs/job-state.js';
import { keys } from '../../src/jobs/keys.js';
import type { JobEnvelope } from '../../src/jobs/queue.js';
import { createLogger } from '../../src/log.js';
import { renderJob } from '../../src/slack/job-view.js';
import type { RecordedMessage } from '../../src/slack-double/index.js';
import { blocksText, OPS, type Stack } from './harness.js';
import { poll } from './poll.js';

// ------------------------------------------------------------------------------------------------ waiting

/** Polls `check` until it gives a value (for state that lives in Redis, not in the Slack double). */
export function until<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  return poll(what, check, { timeoutMs });
}

/** Waits for `check` on the Slack double to return something (its default of 5 s is short on a loaded machine). */
export function eventually<T>(s: Stack, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return s.double.waitFor(check, { timeoutMs });
}

/** Waits for an ephemeral reply to `user` containing `needle`. */
export function waitForEphemeral(
  s: Stack,
  user: string,
  needle: string,
  channel = OPS,
  timeoutMs = 15_000,
): Promise<string> {
  return eventually(
    s,
    () => s.double.ephemerals(channel, user).find((e) => e.text.includes(needle))?.text,
    timeoutMs,
  );
}

// ------------------------------------------------------------------------------------------ the Slack side

/** The text and blocks of a message as one string, for `toContain` checks of what the user sees. */
export function messageText(s: Stack, ts: string, channel = OPS): string {
  const m = s.double.store.findMessage(channel, ts);
  return m ? `${m.text}\n${blocksText(m.blocks)}` : '';
}

/** Waits until the message at `ts` shows `re` (text or blocks): for what the user sees, not a job's state. */
export function waitForText(
  s: Stack,
  ts: string,
  re: RegExp,
  timeoutMs = 20_000,
  channel = OPS,
): Promise<string> {
  return eventually(
    s,
    () => {
      const t = messageText(s, ts, channel);
      return re.test(t) ? t : undefined;
    },
    timeoutMs,
  );
}

// ------------------------------------------------------------------------------------------- the queue side

const ALL = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed'] as const;

/** Every job of the stack's queue, all states, both phases. */
export async function allJobs(s: Stack): Promise<Job<JobEnvelope, unknown, string>[]> {
  return s.runtimes[0]!.queue.getJobs([...ALL], 0, 1000);
}

/** Every job of the queue in `phase` (plan | run), whatever its state. */
export async function jobsIn(s: Stack, phase: 'plan' | 'run'): Promise<Job<JobEnvelope, unknown, string>[]> {
  return (await allJobs(s)).filter((j) => j.data.phase === phase);
}

/** The ids of every job in the queue now (to tell the jobs a later command makes). */
export async function jobIds(s: Stack): Promise<Set<string>> {
  return new Set((await allJobs(s)).flatMap((j) => (j.id ? [j.id] : [])));
}

// ---------------------------------------------------------------------------------------- the job's record

/**
 * A job: its message's ts (`1712345678.000100`), a job id (`p-…`, `j-…`: BullMQ ids are never all digits), or
 * the command as typed after `/flexvdi` (the newest job for it, leaving out the job ids in `excluding`).
 */
export type JobRef =
  | string
  | { command: string | ((typed: string) => boolean); excluding?: ReadonlySet<string> };

const readers = new WeakMap<Stack, JobMessages>();
const recordIdsByTs = new WeakMap<Stack, Map<string, string>>();

/** The product's job-message service on the stack's Redis, used here for its validated reader only. */
function readerOf(s: Stack): JobMessages {
  let r = readers.get(s);
  if (!r) {
    r = new JobMessages({
      slack: new WebClient(undefined, { slackApiUrl: s.double.apiUrl }),
      redis: s.redis,
      keys: keys(s.prefix),
      log: createLogger({ level: 'silent' }),
    });
    readers.set(s, r);
  }
  return r;
}

const recordIdOfJob = (j: Job<JobEnvelope, unknown, string>): string => j.data.recordId ?? j.id ?? '';

/** The id of the job-state record `ref` is shown in, once the job (and for a ts, its record) exists. */
async function recordIdOf(s: Stack, ref: JobRef): Promise<string | undefined> {
  if (typeof ref !== 'string') {
    const match = typeof ref.command === 'string' ? (t: string) => t === ref.command : ref.command;
    const newest = (await allJobs(s))
      .filter((j) => j.id && !ref.excluding?.has(j.id) && match(j.data.text))
      .sort((a, b) => b.timestamp - a.timestamp)[0];
    return newest && recordIdOfJob(newest);
  }
  if (!/^\d+\.\d+$/.test(ref)) {
    const job = await s.runtimes[0]!.queue.getJob(ref);
    return job && recordIdOfJob(job);
  }
  const known = recordIdsByTs.get(s) ?? new Map<string, string>();
  recordIdsByTs.set(s, known);
  const cached = known.get(ref);
  if (cached) return cached;
  for (const id of new Set((await allJobs(s)).map(recordIdOfJob))) {
    if ((await readerOf(s).read(id))?.messageTs !== ref) continue;
    known.set(ref, id);
    return id;
  }
  return undefined;
}

/** The job's record now, read and validated by the product's reader (undefined until it exists). */
export async function jobRecord(s: Stack, ref: JobRef): Promise<JobRecord | undefined> {
  const id = await recordIdOf(s, ref);
  return id ? readerOf(s).read(id) : undefined;
}

/** A job's record and its Slack message, which shows that record. */
export interface JobSeen {
  record: JobRecord;
  ts: string;
  /** The message's text and blocks as one string (what `messageText` gives). */
  text: string;
  blocks: unknown[];
  /** The message as Slack holds it. */
  message: RecordedMessage;
}

/**
 * The message showing `r`, when Slack shows it: its text and blocks are the renderer's for this very record
 * (a plan awaiting confirmation shows minutes left, which move with the clock: its text only is compared).
 */
function shown(s: Stack, r: JobRecord): JobSeen | undefined {
  if (!r.messageTs) return undefined;
  const m = s.double.store.findMessage(r.channel, r.messageTs);
  const want = renderJob(r);
  if (!m || m.text !== want.text) return undefined;
  if (r.state !== 'awaiting-confirmation' && JSON.stringify(m.blocks) !== JSON.stringify(want.blocks))
    return undefined;
  const text = messageText(s, r.messageTs, r.channel);
  return { record: r, ts: r.messageTs, text, blocks: m.blocks, message: m };
}

const describeRef = (ref: JobRef): string =>
  typeof ref === 'string' ? ref : typeof ref.command === 'string' ? `\`${ref.command}\`` : 'a new command';

/** Waits until the job's record passes `test` and its message shows that record; returns both. */
export async function waitForJobRecord(
  s: Stack,
  ref: JobRef,
  test: (r: JobRecord) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<JobSeen> {
  let last: JobRecord | undefined;
  try {
    return await until(
      async () => {
        last = await jobRecord(s, ref);
        return last && test(last) ? shown(s, last) : undefined;
      },
      timeoutMs,
      `job ${describeRef(ref)} to be ${what}`,
    );
  } catch (err) {
    const seen = last
      ? `its record is ${last.state}${last.error ? ` (${last.error})` : ''}${shown(s, last) ? '' : ', not shown yet'}`
      : 'no record';
    throw new Error(`${(err as Error).message}; ${seen}`);
  }
}

/** Waits until the job's record is in `state` (or one of `states`) and Slack shows it; returns both. */
export function waitForJobState(
  s: Stack,
  ref: JobRef,
  state: JobState | readonly JobState[],
  timeoutMs = 60_000,
): Promise<JobSeen> {
  const states: readonly JobState[] = typeof state === 'string' ? [state] : state;
  return waitForJobRecord(s, ref, (r) => states.includes(r.state), states.join(' or '), timeoutMs);
}

/** The states the message at `ts` was edited to, in order (each edit's text is the renderer's for a state). */
export async function editedStates(s: Stack, ts: string, channel = OPS): Promise<JobState[]> {
  const r = await jobRecord(s, ts);
  if (!r) throw new Error(`no job-state record for the message ${ts}`);
  const byText = new Map(JOB_STATES.map((state) => [renderJob({ ...r, state }).text, state]));
  return s.double.edits(channel, ts).flatMap((e) => byText.get(e.text) ?? []);
}

// ------------------------------------------------------------------------------------------ commands

/** The states that end a job (until a retry). */
export const ENDED: readonly JobState[] = JOB_STATES.filter(isFinal);
const DECIDED: readonly JobState[] = ['awaiting-confirmation', ...ENDED];

export interface PlanSeen extends JobSeen {
  confirmId?: string;
}

/**
 * Waits for the plan (or refusal, no-op, result) of a job that is not in `before` (job ids) and whose command
 * as typed passes `match`.
 */
export async function waitForNewPlan(
  s: Stack,
  before: ReadonlySet<string>,
  match: (typed: string) => boolean,
  timeoutMs = 60_000,
): Promise<PlanSeen> {
  const seen = await waitForJobState(s, { command: match, excluding: before }, DECIDED, timeoutMs);
  return { ...seen, ...(seen.record.confirmId ? { confirmId: seen.record.confirmId } : {}) };
}

/** Sends `/flexvdi <text>` and waits for that command's plan (or refusal, no-op, result). */
export async function planOf(
  s: Stack,
  text: string,
  o: { user?: string; bot?: number; timeoutMs?: number } = {},
): Promise<PlanSeen> {
  const before = await jobIds(s);
  const res = await s.send(text, { ...(o.user ? { user: o.user } : {}), ...(o.bot ? { bot: o.bot } : {}) });
  if (res.status !== 200) throw new Error(`send ${text}: HTTP ${res.status}`);
  const body = res.body ? (JSON.parse(res.body) as { text?: string }) : {};
  if (body.text) throw new Error(`refused at once: ${body.text}`);
  // the command as the bot reads it (Slack sends <, > and & entity-escaped)
  const typed = unescapeSlack(text).trim();
  return waitForNewPlan(s, before, (t) => t === typed, o.timeoutMs);
}

/** `planOf` for a plan that must be awaiting confirmation (throws with what it is otherwise). */
export async function pendingPlanOf(
  s: Stack,
  text: string,
  o: { user?: string; bot?: number; timeoutMs?: number } = {},
): Promise<PlanSeen & { confirmId: string }> {
  const plan = await planOf(s, text, o);
  if (plan.record.state !== 'awaiting-confirmation' || !plan.confirmId)
    throw new Error(`no plan to confirm for ${text} (${plan.record.state}):\n${plan.text}`);
  return { ...plan, confirmId: plan.confirmId };
}

/** Plans, clicks Confirm and returns the message ts and the run job's id, without waiting for the run. */
export async function confirmed(s: Stack, text: string): Promise<{ ts: string; jobId: string }> {
  const plan = await pendingPlanOf(s, text);
  const res = await s.click(OPS, plan.ts);
  if (res.status !== 200) throw new Error(`Confirm ${text}: HTTP ${res.status}`);
  return { ts: plan.ts, jobId: runJobIdFor(plan.confirmId) };
}

/** Plan, Confirm, and wait for the job to end; its final record and message, the run job's id and the plan. */
export async function runConfirmed(
  s: Stack,
  text: string,
  timeoutMs = 120_000,
): Promise<JobSeen & { jobId: string; plan: string }> {
  const plan = await pendingPlanOf(s, text);
  await s.click(OPS, plan.ts);
  const done = await waitForJobState(s, plan.ts, ENDED, timeoutMs);
  return { ...done, jobId: runJobIdFor(plan.confirmId), plan: plan.text };
}
