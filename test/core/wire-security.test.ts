/**
 * What reaches POST /slack/events from outside: forged or replayed signatures, malformed bodies, wrong
 * content types, and Slack's redeliveries. Bad requests are refused before any handler runs (nothing posted,
 * nothing enqueued) and the bot keeps serving; redeliveries of a command or a click make exactly one job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import {
  blockActionsBody,
  newTriggerId,
  type SendResult,
  sendSigned,
  signSlackRequest,
  slashCommandBody,
} from '../../src/slack-double/index.js';
import { allJobs, jobsIn, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, findButtonValue, OPS, type Stack, startStack } from '../support/harness.js';

let s: Stack;
let url: string;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000 } });
  url = s.botUrls[0]!;
});
afterAll(async () => {
  await s?.stop();
});

const command = (text: string, triggerId = newTriggerId()) =>
  slashCommandBody({
    text,
    userId: ADMIN,
    channelId: OPS,
    responseUrl: s.double.responseUrl(OPS, ADMIN),
    triggerId,
  });

/** Nothing reached a handler: no job, no message, no ephemeral, no Web API call. */
async function expectUntouched(): Promise<void> {
  expect(await allJobs(s)).toHaveLength(0);
  expect(s.double.messages()).toHaveLength(0);
  expect(s.double.ephemerals()).toHaveLength(0);
  expect(s.double.calls().filter((c) => c.method !== 'auth.test')).toHaveLength(0);
}

describe('requests that must not reach a handler', () => {
  it('a forged signature gets 401', async () => {
    const res = await sendSigned(url, command('test change h1'), { secret: 'not-the-signing-secret' });
    expect(res.status).toBe(401);
    await expectUntouched();
  });

  it('a correctly signed request older than 5 minutes (a replay) gets 401', async () => {
    const old = Math.floor(Date.now() / 1000) - 5 * 60 - 30;
    const res = await sendSigned(url, command('test change h1'), {
      secret: s.double.signingSecret,
      timestamp: old,
    });
    expect(res.status).toBe(401);
    await expectUntouched();
  });

  it('a signed body altered in transit gets 401', async () => {
    const signed = command('test probe a');
    const altered = signed.replace('test+probe+a', 'test+probe+b');
    expect(altered).not.toBe(signed);
    const res = await sendSigned(url, altered, {
      secret: s.double.signingSecret,
      headers: { ...signSlackRequest(s.double.signingSecret, signed) },
    });
    expect(res.status).toBe(401);
    await expectUntouched();
  });

  it('a missing signature header gets 401', async () => {
    const res = await sendSigned(url, command('test change h1'), {
      secret: s.double.signingSecret,
      headers: { 'x-slack-signature': '' },
    });
    expect(res.status).toBe(401);
    await expectUntouched();
  });

  it('a malformed payload= JSON (interaction) gets 400', async () => {
    const res = await sendSigned(
      url,
      `payload=${encodeURIComponent('{"type":"block_actions","actions":[{')}`,
      { secret: s.double.signingSecret },
    );
    expect(res.status).toBe(400);
    await expectUntouched();
  });

  it('a form body of a command sent as text/plain or JSON gets 400', async () => {
    for (const contentType of ['text/plain', 'application/json']) {
      const res = await sendSigned(url, command('test change h1'), {
        secret: s.double.signingSecret,
        contentType,
      });
      expect(res.status).toBe(400);
    }
    await expectUntouched();
  });

  it('a signed form body that is no Slack request at all is not acted on', async () => {
    const res = await sendSigned(url, 'foo=%%%bar&&baz', { secret: s.double.signingSecret });
    // Bolt cannot tell what it is; no listener acks, so its unhandled-request timer answers 404.
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    await expectUntouched();
  });

  it('still serves correct requests afterwards', async () => {
    const res = await s.send('test probe after-faults');
    expect(res.status).toBe(200);
    await waitForJobState(s, { command: 'test probe after-faults' }, 'completed');
    expect((await jobsIn(s, 'run')).map((j) => j.data.text)).toEqual(['test probe after-faults']);
  });
});

describe('Slack redeliveries (X-Slack-Retry-Num) are idempotent', () => {
  it('a slash command delivered three times (same trigger_id) makes one plan job and one job message', async () => {
    const body = command('test change h1', newTriggerId());
    const sends: SendResult[] = [];
    sends.push(await sendSigned(url, body, { secret: s.double.signingSecret }));
    // Slack retries with the same body; one retry lands on the bot while the first is still being handled
    const [r1, r2] = await Promise.all([
      sendSigned(url, body, { secret: s.double.signingSecret, retryNum: 1, retryReason: 'http_timeout' }),
      sendSigned(url, body, { secret: s.double.signingSecret, retryNum: 2, retryReason: 'http_timeout' }),
    ]);
    sends.push(r1, r2);
    expect(sends.map((r) => r.status)).toEqual([200, 200, 200]);
    const plan = await waitForJobState(s, { command: 'test change h1' }, 'awaiting-confirmation');
    expect(await jobsIn(s, 'plan')).toHaveLength(1);
    const mine = () => s.double.messages(OPS).filter((m) => m.text.startsWith('/flexvdi test change h1 '));
    expect(mine()).toHaveLength(1);
    expect((await s.trace()).filter((t) => t === 'plan:h1')).toHaveLength(1);
    // the audit trail records the request once, not once per delivery
    const requested = async () =>
      (await s.redis.xrange(`${s.prefix}:audit`, '-', '+')).filter(
        ([, f]) => f.includes('requested') && f.includes('test change h1'),
      );
    expect(await requested()).toHaveLength(1);

    // the same block_actions click delivered twice (identical body, the second marked as a retry)
    const confirmId = findButtonValue(plan.blocks, CONFIRM_ACTION) ?? '';
    expect(confirmId).toMatch(/^c/);
    const click = blockActionsBody({
      userId: ADMIN,
      channelId: OPS,
      responseUrl: s.double.responseUrl(OPS, ADMIN),
      messageTs: plan.ts,
      triggerId: newTriggerId(),
      message: { ts: plan.ts, text: plan.message.text, blocks: plan.message.blocks },
      action: { actionId: CONFIRM_ACTION, value: confirmId },
    });
    const c1 = await sendSigned(url, click, { secret: s.double.signingSecret });
    const c2 = await sendSigned(url, click, {
      secret: s.double.signingSecret,
      retryNum: 1,
      retryReason: 'http_timeout',
    });
    expect([c1.status, c2.status]).toEqual([200, 200]);
    await waitForEphemeral(s, ADMIN, `Already confirmed by <@${ADMIN}>: job \`${runJobIdFor(confirmId)}\``);
    await waitForJobState(s, plan.ts, 'completed');
    const runs = (await jobsIn(s, 'run')).filter((j) => j.data.text === 'test change h1');
    expect(runs.map((j) => j.id)).toEqual([runJobIdFor(confirmId)]);
    const trace = await s.trace();
    for (const step of ['a', 'b', 'c'])
      expect(trace.filter((t) => t.endsWith(`:${step}:start`))).toHaveLength(1);
    expect(mine()).toHaveLength(1);
  });

  it('a read-only command redelivered runs once', async () => {
    const body = command('test probe redelivered', newTriggerId());
    await sendSigned(url, body, { secret: s.double.signingSecret });
    await sendSigned(url, body, { secret: s.double.signingSecret, retryNum: 1, retryReason: 'http_timeout' });
    await waitForJobState(s, { command: 'test probe redelivered' }, 'completed');
    const runs = (await jobsIn(s, 'run')).filter((j) => j.data.text === 'test probe redelivered');
    expect(runs).toHaveLength(1);
    expect(s.double.messages(OPS).filter((m) => m.text.includes('redelivered'))).toHaveLength(1);
  });
});
