/**
 * Job messages are edited in place without tripping Slack's limits: a burst of 200 progress updates becomes
 * at most about one `chat.update` per second (the newest view wins), and a 429's `Retry-After` is honoured
 * before the next attempt, after which the message still reaches its final state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksText, OPS, type Stack, startStack } from '../support/harness.js';
import { planOf, waitForState } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000 } });
});
afterAll(async () => {
  await s?.stop();
});

describe('progress coalescing', () => {
  it('200 progress updates in a step give about one edit per second, the newest view, and the final state', async () => {
    const plan = await planOf(s, 'test change pr1 --progress-burst 200 --slow-ms 2500');
    await s.click(OPS, plan.ts);
    const final = await waitForState(s, plan.ts, /— completed/);
    expect(final).toContain('changed (a,b,c)');

    const updates = s.double.calls('chat.update').filter((c) => c.params['ts'] === plan.ts);
    const posted = s.double.calls('chat.postMessage').find((c) => c.params['text'] === '/flexvdi test change pr1 --progress-burst 200 --slow-ms 2500 — planning');
    expect(posted).toBeDefined();
    const seconds = (updates.at(-1)!.at - posted!.at) / 1000;
    // ≤ 1 edit per second per message, plus one for the edge of the first second
    expect(updates.length).toBeLessThanOrEqual(Math.floor(seconds) + 2);
    // consecutive edits of the message are at least ~1 s apart (the per-message slot lives in Redis)
    const edits = s.double.edits(OPS, plan.ts);
    // coalescing keeps the newest view: the last burst line reached Slack, (nearly) none of the 199 others did
    const shown = new Set(edits.flatMap((e) => /"burst (\d+)"/.exec(blocksText(e.blocks))?.[1] ?? []));
    expect(shown).toContain('199');
    expect(shown.size).toBeLessThanOrEqual(2);
    // the final edit is the final state
    expect(edits.at(-1)!.text).toContain('— completed');
  });
});

describe('Slack rate limits', () => {
  it('a 429 with Retry-After 2 s delays the next attempt on that message by at least 2 s; the final state still lands', async () => {
    const plan = await planOf(s, 'test change pr2 --progress-burst 50 --slow-ms 1500');
    await s.click(OPS, plan.ts);
    // the worker has started editing: the next chat.update is answered with 429 Retry-After: 2
    await waitForState(s, plan.ts, /— running/);
    s.double.failNext('chat.update', { status: 429, retryAfterSeconds: 2 });
    await waitForState(s, plan.ts, /— completed/);

    const updates = s.double.calls('chat.update').filter((c) => c.params['ts'] === plan.ts);
    const limited = updates.findIndex((c) => c.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const next = updates[limited + 1];
    expect(next).toBeDefined();
    // lower bound only: Retry-After was honoured (1 ms of timer slack allowed)
    expect(next!.at - updates[limited]!.at).toBeGreaterThanOrEqual(1999);
    expect(updates.filter((c) => c.status === 429)).toHaveLength(1);
    expect(s.double.edits(OPS, plan.ts).at(-1)!.text).toContain('— completed');
  });
});
