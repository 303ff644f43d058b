/** Small helpers shared by the core fault / scale-out tests (everything reads real Redis or the Slack double). */
import type { Job } from 'bullmq';
import type { JobEnvelopeParsed } from '../../src/jobs/queue.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import { blocksText, findButtonValue, OPS, type Stack } from '../support/harness.js';

const ALL = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed'] as const;

/** Every job of the stack's queue in `phase` (plan | run), whatever its state. */
export async function jobsIn(s: Stack, phase: 'plan' | 'run'): Promise<Job[]> {
  const jobs = await s.runtimes[0]!.queue.getJobs([...ALL], 0, 1000);
  return jobs.filter((j) => (j.data as JobEnvelopeParsed).phase === phase);
}

/** Every job of the queue, all states, both phases. */
export async function allJobs(s: Stack): Promise<Job[]> {
  return s.runtimes[0]!.queue.getJobs([...ALL], 0, 1000);
}

/** The text and blocks of a message as one string, for `toContain` checks. */
export function messageText(s: Stack, ts: string, channel = OPS): string {
  const m = s.double.store.findMessage(channel, ts);
  return m ? `${m.text}\n${blocksText(m.blocks)}` : '';
}

/** Waits until the message at `ts` matches `re` (text or blocks). */
export function waitForState(
  s: Stack,
  ts: string,
  re: RegExp,
  timeoutMs = 20_000,
  channel = OPS,
): Promise<string> {
  return s.double.waitFor(
    () => {
      const t = messageText(s, ts, channel);
      return re.test(t) ? t : undefined;
    },
    { timeoutMs },
  );
}

/** Waits for an ephemeral reply to `user` containing `needle`. */
export function waitForEphemeral(
  s: Stack,
  user: string,
  needle: string,
  channel = OPS,
  timeoutMs = 15_000,
): Promise<string> {
  return s.double.waitFor(
    () => s.double.ephemerals(channel, user).find((e) => e.text.includes(needle))?.text,
    { timeoutMs },
  );
}

/** Sends a mutating command and waits for its plan (Confirm button shown); returns the message ts and confirm id. */
export async function planOf(
  s: Stack,
  text: string,
  opts: { bot?: number } = {},
): Promise<{ ts: string; confirmId: string }> {
  const res = await s.send(text, opts);
  if (res.status !== 200) throw new Error(`send ${text}: HTTP ${res.status}`);
  const msg = await s.double.waitFor(
    () =>
      s.double
        .messages(OPS)
        .find(
          (m) =>
            m.text.startsWith(`/flexvdi ${text} —`) &&
            findButtonValue(m.blocks, CONFIRM_ACTION) !== undefined,
        ),
    { timeoutMs: 20_000 },
  );
  return { ts: msg.ts, confirmId: findButtonValue(msg.blocks, CONFIRM_ACTION)! };
}

/** Polls `check` until it returns a truthy value (for state that lives in Redis, not in the Slack double). */
export async function until<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Trace entries of one job (`<jobId>:<step>:<start|done|aborted>`), in order. */
export async function traceOf(s: Stack, jobId: string): Promise<string[]> {
  return (await s.trace()).filter((t) => t.startsWith(`${jobId}:`)).map((t) => t.slice(jobId.length + 1));
}
