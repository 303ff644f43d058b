/**
 * A pending confirmation expires (TTL shortened for the test): a click after that is told so, the job
 * message is edited to the expired state, the audit says "expired", and nothing is enqueued or run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jobsIn, pendingPlanOf, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 1500 } });
});
afterAll(async () => {
  await s?.stop();
});

it('clicking Confirm after expiry runs nothing and marks the message expired', async () => {
  const plan = await pendingPlanOf(s, 'test change ex1');
  expect(plan.record.state).toBe('awaiting-confirmation');
  // the pending confirmation is a Redis key with a TTL: wait until Redis has dropped it
  await until(
    async () => (await s.redis.exists(`${s.prefix}:confirm:${plan.confirmId}`)) === 0,
    10_000,
    'confirmation to expire',
  );

  const res = await s.click(OPS, plan.ts);
  expect(res.status).toBe(200);
  await waitForEphemeral(s, ADMIN, 'This plan has expired; nothing was run');
  const expired = await waitForJobState(s, plan.ts, 'expired');
  expect(expired.text).toContain('The plan expired before anyone confirmed it');
  expect(expired.text).not.toContain('flexvdi_confirm');

  // a second click (e.g. another admin) is told the same; still nothing queued or run
  await s.click(OPS, plan.ts, { value: plan.confirmId, user: 'U0ADMIN01' });
  await s.double.waitFor(
    () => s.double.ephemerals(OPS, ADMIN).filter((e) => e.text.includes('has expired')).length >= 2,
  );
  expect(await jobsIn(s, 'run')).toHaveLength(0);
  expect((await s.trace()).filter((t) => !t.startsWith('plan:'))).toEqual([]);
  // each click is audited after its (rate-spaced) message edit
  const audit = await until(async () => {
    const rows = await s.redis.xrevrange(`${s.prefix}:audit`, '+', '-');
    return rows.filter(([, f]) => f.includes('expired')).length >= 2 && rows;
  });
  expect(audit.filter(([, f]) => f.includes('expired'))).toHaveLength(2);
  expect(audit.filter(([, f]) => f.includes('confirmed'))).toHaveLength(0);
});
