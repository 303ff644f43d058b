/**
 * Scale-out is BullMQ's: two bot replicas and two worker replicas on one Redis. Commands arrive at either
 * bot, every Confirm is double-clicked with the two clicks landing on different bots at the same moment, and
 * still: one plan job and one run job per command, every step once, one job message, one result post.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { jobsIn, pendingPlanOf, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ bots: 2, workers: 2, tuning: { confirmTtlMs: 120_000, lockRetryMs: 200 } });
});
afterAll(async () => {
  await s?.stop();
});

const N = 10;

it(`${N} confirmed commands across 2 bots and 2 workers: no duplicate job, step, message or result`, async () => {
  expect(s.runtimes.filter((r) => r.bot)).toHaveLength(2);
  expect(s.runtimes.filter((r) => r.worker)).toHaveLength(2);
  const texts = Array.from({ length: N }, (_, i) => `test change sx${i}`);
  // commands alternate between the two bots; each plan is double-clicked on both bots at once
  const plans = await Promise.all(texts.map((t, i) => pendingPlanOf(s, t, { bot: i % 2 })));
  const clicks = await Promise.all(
    plans.flatMap((p) => [s.click(OPS, p.ts, { bot: 0 }), s.click(OPS, p.ts, { bot: 1 })]),
  );
  expect(clicks.every((c) => c.status === 200)).toBe(true);

  for (const p of plans) await waitForJobState(s, p.ts, 'completed', 30_000);

  const runs = await jobsIn(s, 'run');
  expect(runs).toHaveLength(N);
  expect(new Set(runs.map((j) => j.id))).toEqual(new Set(plans.map((p) => runJobIdFor(p.confirmId))));
  expect(await jobsIn(s, 'plan')).toHaveLength(N);
  for (const j of runs) {
    expect(await traceOf(s, j.id!)).toEqual(['a:start', 'a:done', 'b:start', 'b:done', 'c:start', 'c:done']);
    // the message shows "completed" a moment before BullMQ records it
    expect(await until(async () => (await j.getState()) === 'completed' && 'completed')).toBe('completed');
  }
  // one job message per command, and the result posted exactly once in each message's thread
  for (const [i, t] of texts.entries()) {
    expect(s.double.messages(OPS).filter((m) => m.text.startsWith(`/flexvdi ${t} `))).toHaveLength(1);
    const thread = s.double.thread(OPS, plans[i]!.ts);
    expect(thread.filter((m) => m.text.includes('Result of'))).toHaveLength(1);
  }
  // the losing click of every pair was told the plan was already confirmed
  await s.double.waitFor(
    () => s.double.ephemerals(OPS).filter((e) => e.text.includes('Already confirmed by')).length >= N,
  );
  expect(s.double.ephemerals(OPS).filter((e) => e.text.includes('Already confirmed by'))).toHaveLength(N);
  await waitForEphemeral(s, 'U0ADMIN01', 'Already confirmed by');
  // plans were made once each
  const planTrace = (await s.trace()).filter((t) => t.startsWith('plan:'));
  expect(planTrace.sort()).toEqual(texts.map((t) => `plan:${t.split(' ').pop()}`).sort());
});
