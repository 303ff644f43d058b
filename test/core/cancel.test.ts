/**
 * `/flexvdi cancel <id>` across processes: the bot runs in one runtime and the worker in another (separate
 * roles, separate Redis connections, as on two machines), so the cancel must travel through Redis. A running
 * step sees its AbortSignal and no later step starts; a job waiting for a Host lock never runs; only the
 * requester or an admin may cancel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmed, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, type Stack, startStack, USER } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({
    roles: [
      { bot: true, worker: false },
      { bot: false, worker: true },
    ],
    tuning: { confirmTtlMs: 60_000, lockRetryMs: 1000 },
  });
});
afterAll(async () => {
  await s?.stop();
});

describe('cancel across processes', () => {
  it('the roles really are separate', () => {
    expect(s.runtimes.map((r) => [Boolean(r.bot), Boolean(r.worker)])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('a running step sees its AbortSignal, the next step never starts, the message says cancelled', async () => {
    const job = await confirmed(s, 'test change cx1 --slow-ms 30000');
    await until(async () => (await traceOf(s, job.jobId)).includes('b:start'), 20_000, 'step b to start');

    // someone who is neither the requester nor an admin cannot cancel it
    await s.send(`cancel ${job.jobId}`, { user: USER });
    await waitForEphemeral(s, USER, `Only <@${ADMIN}> or an admin can cancel \`${job.jobId}\``);
    expect(await s.redis.exists(`${s.prefix}:cancel:${job.jobId}`)).toBe(0);

    await s.send(`cancel ${job.jobId}`);
    await waitForEphemeral(s, ADMIN, `Cancelling \`${job.jobId}\``);
    const cancelled = await waitForJobState(s, job.ts, 'cancelled');
    expect(cancelled.text).toContain(`Cancelled by <@${ADMIN}>`);
    expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start', 'b:aborted']);
    const bull = await s.runtimes[0]!.queue.getJob(job.jobId);
    await until(async () => (await bull!.getState()) === 'failed', 10_000, 'job to be failed (cancelled)');
    // c never runs, even later
    expect((await traceOf(s, job.jobId)).some((t) => t.startsWith('c:'))).toBe(false);
    // a cancelled job cannot be cancelled again
    await s.send(`cancel ${job.jobId}`);
    await waitForEphemeral(s, ADMIN, 'has already finished');
  });

  it('a job waiting for its Host lock, cancelled, never runs; the lock holder is unaffected', async () => {
    const holder = await confirmed(s, 'test change cx2 --slow-ms 2500');
    await until(async () => (await traceOf(s, holder.jobId)).includes('b:start'), 20_000, 'holder step b');
    const waiter = await confirmed(s, 'test change cx2');
    await waitForJobState(s, waiter.ts, 'waiting');

    // usually delayed until its next lock attempt (then promoted at once), or active in that attempt
    await s.send(`cancel ${waiter.jobId}`);
    await waitForEphemeral(s, ADMIN, `\`${waiter.jobId}\``);
    await waitForJobState(s, waiter.ts, 'cancelled');
    await waitForJobState(s, holder.ts, 'completed');
    expect(await traceOf(s, waiter.jobId)).toEqual([]);
    expect(await traceOf(s, holder.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
    // the Host lock was released by the holder and not taken by the cancelled job
    await until(
      async () => (await s.redis.exists(`${s.prefix}:lock:host:cx2`)) === 0,
      10_000,
      'lock release',
    );
  });
});
