/**
 * Job messages are edited in place without tripping Slack's limits: a burst of 200 progress updates becomes
 * at most about one `chat.update` per second (the newest view wins), and a 429's `Retry-After` is honoured
 * before the next attempt, after which the message still reaches its final state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderJob } from '../../src/slack/job-view.js';
import { jobsIn, pendingPlanOf, until, waitForJobState } from '../support/flow.js';
import { blocksText, OPS, type Stack, startStack, USER } from '../support/harness.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000 } });
});
afterAll(async () => {
  await s?.stop();
});

describe('progress coalescing', () => {
  it('200 progress updates in a step give about one edit per second, the newest view, and the final state', async () => {
    const plan = await pendingPlanOf(s, 'test change pr1 --progress-burst 200 --slow-ms 2500');
    await s.click(OPS, plan.ts);
    const final = await waitForJobState(s, plan.ts, 'completed');
    expect(final.text).toContain('changed (a,b,c)');

    const updates = s.double.calls('chat.update').filter((c) => c.params['ts'] === plan.ts);
    const posted = s.double
      .calls('chat.postMessage')
      .find(
        (c) => c.params['text'] === '/flexvdi test change pr1 --progress-burst 200 --slow-ms 2500 — planning',
      );
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
    expect(edits.at(-1)!.text).toBe(renderJob(final.record).text);
    await s.double.waitFor(() => s.double.thread(OPS, plan.ts).find((m) => m.text.includes('Result of')));
  });
});

describe('Slack rate limits', () => {
  it('a 429 with Retry-After 2 s delays the next attempt on that message by at least 2 s; the final state still lands', async () => {
    const plan = await pendingPlanOf(s, 'test change pr2 --progress-burst 50 --slow-ms 1500');
    await s.click(OPS, plan.ts);
    // the worker has started editing: the next chat.update is answered with 429 Retry-After: 2
    await waitForJobState(s, plan.ts, 'running');
    s.double.failNext('chat.update', { status: 429, retryAfterSeconds: 2 });
    const final = await waitForJobState(s, plan.ts, 'completed');

    const updates = s.double.calls('chat.update').filter((c) => c.params['ts'] === plan.ts);
    const limited = updates.findIndex((c) => c.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const next = updates[limited + 1];
    expect(next).toBeDefined();
    // lower bound only: Retry-After was honoured (1 ms of timer slack allowed)
    expect(next!.at - updates[limited]!.at).toBeGreaterThanOrEqual(1999);
    expect(updates.filter((c) => c.status === 429)).toHaveLength(1);
    expect(s.double.edits(OPS, plan.ts).at(-1)!.text).toBe(renderJob(final.record).text);
    await s.double.waitFor(() => s.double.thread(OPS, plan.ts).find((m) => m.text.includes('Result of')));
  });
});

describe('Slack rate limits on posts', () => {
  it('a 429 on the job message post is retried after Retry-After; one message, final state, job completed', async () => {
    s.double.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 2 });
    const res = await s.send('test probe rl-post', { user: USER });
    expect(res.status).toBe(200);
    // the message Slack shows is the completed record
    await waitForJobState(s, { command: 'test probe rl-post' }, 'completed');
    const posts = s.double
      .calls('chat.postMessage')
      .filter((c) => String(c.params['text']).includes('rl-post'));
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    // lower bound only: the second post waited for Retry-After
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1999);
    expect(s.double.messages(OPS).filter((m) => m.text.includes('rl-post'))).toHaveLength(1);
    const job = (await jobsIn(s, 'run')).find((j) => j.data.text === 'test probe rl-post')!;
    await until(async () => (await job.getState()) === 'completed', 10_000, 'completed');
  });

  it('a 429 on a thread post (the result details) is retried after Retry-After, and the post is not lost', async () => {
    const plan = await pendingPlanOf(s, 'test change pr3');
    // the job message exists: the next post is the run's thread post of its 12-line result
    s.double.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    await s.click(OPS, plan.ts);
    await waitForJobState(s, plan.ts, 'completed');
    const result = await s.double.waitFor(() =>
      s.double.thread(OPS, plan.ts).find((m) => m.text.includes('Result of')),
    );
    expect(result.text).toContain('line 12: all good');
    const posts = s.double.calls('chat.postMessage').filter((c) => c.params['thread_ts'] === plan.ts);
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(999);
    expect(s.double.thread(OPS, plan.ts).filter((m) => m.text.includes('Result of'))).toHaveLength(1);
  });
});
