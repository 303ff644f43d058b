/**
 * Failures and retries: a non-retryable failure stops the job at once and `/flexvdi retry` resumes it after
 * the last finished step; a retryable failure (a transient SSH error) is retried by BullMQ with backoff and
 * the finished steps are not repeated. Per-Host locks: jobs on one Host never overlap, jobs on different
 * Hosts do run side by side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  confirmed,
  editedStates,
  until,
  waitForEphemeral,
  waitForJobRecord,
  waitForJobState,
} from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000, lockRetryMs: 100 } });
});
afterAll(async () => {
  await s?.stop();
});

const jobState = async (id: string) => (await s.runtimes[0]!.queue.getJob(id))?.getState();

describe('retry', () => {
  it('a non-retryable failure at step b fails at once; /flexvdi retry runs b and c but not a again', async () => {
    const job = await confirmed(s, 'test change rt1 --fail-step b --fail-code test.boom --fail-times 1');
    const failed = await waitForJobState(s, job.ts, 'failed');
    expect(failed.text).toContain('Step b failed on purpose (1).');
    await until(async () => (await jobState(job.jobId)) === 'failed', 10_000, 'BullMQ state failed');
    expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start']);
    const bull = await s.runtimes[0]!.queue.getJob(job.jobId);
    expect(bull!.attemptsMade).toBe(1);
    await s.double.waitFor(() =>
      s.double.thread(OPS, job.ts).find((m) => m.text.includes('code `test.boom`')),
    );

    // only admins may retry
    await s.send(`retry ${job.jobId}`, { user: USER });
    await waitForEphemeral(s, USER, 'Only flexVDI admins can retry jobs.');

    await s.send(`retry ${job.jobId}`);
    await waitForEphemeral(s, ADMIN, `Retrying \`${job.jobId}\``);
    const done = await waitForJobState(s, job.ts, 'completed');
    expect(done.text).toContain('changed (a,b,c)');
    expect(await traceOf(s, job.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
    // the new run posts its own result in the thread; the earlier failure details stay
    await s.double.waitFor(() => s.double.thread(OPS, job.ts).find((m) => m.text.includes('Result of')));
    // retrying a job that is no longer failed is refused
    await until(async () => (await jobState(job.jobId)) === 'completed', 10_000, 'BullMQ state completed');
    await s.send(`retry ${job.jobId}`);
    await waitForEphemeral(s, ADMIN, 'only failed jobs can be retried');
  });

  it('a retryable failure (ssh.connect_failed) is retried automatically with backoff; step a runs once', async () => {
    const job = await confirmed(
      s,
      'test change rt2 --fail-step b --fail-code ssh.connect_failed --fail-times 1',
    );
    const done = await waitForJobState(s, job.ts, 'completed');
    expect(done.text).toContain('changed (a,b,c)');
    expect(await traceOf(s, job.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
    await until(async () => (await jobState(job.jobId)) === 'completed', 10_000, 'BullMQ state completed');
    const bull = await s.runtimes[0]!.queue.getJob(job.jobId);
    expect(bull!.attemptsMade).toBe(2);
    // the message went through "retrying" on the way
    expect(await editedStates(s, job.ts)).toContain('retrying');
  });

  it('a retryable failure that persists fails after the configured attempts', async () => {
    const job = await confirmed(s, 'test change rt3 --fail-step c --fail-code ssh.timeout');
    await waitForJobState(s, job.ts, 'failed');
    await until(async () => (await jobState(job.jobId)) === 'failed', 10_000, 'BullMQ state failed');
    const bull = await s.runtimes[0]!.queue.getJob(job.jobId);
    expect(bull!.attemptsMade).toBe(s.config.inventory.jobs.attempts);
    const t = await traceOf(s, job.jobId);
    expect(t.filter((x) => x === 'a:start')).toHaveLength(1);
    expect(t.filter((x) => x === 'b:start')).toHaveLength(1);
    expect(t.filter((x) => x === 'c:start')).toHaveLength(s.config.inventory.jobs.attempts);
  });
});

describe('per-Host locks', () => {
  it('two jobs on the same Host never overlap: the second starts only after the first has finished', async () => {
    const first = await confirmed(s, 'test change lk1 --slow-ms 1500');
    await until(
      async () => (await traceOf(s, first.jobId)).includes('a:start'),
      20_000,
      'first job to start',
    );
    const second = await confirmed(s, 'test change lk1');
    for (const j of [first, second]) await waitForJobState(s, j.ts, 'completed');

    const trace = await s.trace();
    const idx = (id: string, e: string) => trace.indexOf(`${id}:${e}`);
    expect(idx(second.jobId, 'a:start')).toBeGreaterThan(idx(first.jobId, 'c:done'));
    // the second was told it was waiting for the Host
    expect(await editedStates(s, second.ts)).toContain('waiting');
    for (const j of [first, second]) {
      expect(await traceOf(s, j.jobId)).toEqual([
        'a:start',
        'a:done',
        'b:start',
        'b:done',
        'c:start',
        'c:done',
      ]);
    }
  });

  it('two commands naming the same inventory Host differently (name, FQDN, IP) exclude each other', async () => {
    // h1 is the inventory's Host h1.flexvdi.test, 10.230.9.11 (test/support/harness.ts)
    const first = await confirmed(s, 'test change h1 --slow-ms 1500');
    await until(
      async () => (await traceOf(s, first.jobId)).includes('a:start'),
      20_000,
      'first job to start',
    );
    const byFqdn = await confirmed(s, 'test change h1.flexvdi.test');
    const byIp = await confirmed(s, 'test change 10.230.9.11');
    for (const j of [first, byFqdn, byIp]) await waitForJobState(s, j.ts, 'completed');
    const trace = await s.trace();
    const idx = (id: string, e: string) => trace.indexOf(`${id}:${e}`);
    for (const j of [byFqdn, byIp]) {
      expect(idx(j.jobId, 'a:start')).toBeGreaterThan(idx(first.jobId, 'c:done'));
      expect(await editedStates(s, j.ts)).toContain('waiting');
    }
    // and the two later ones did not overlap either
    const [a, b] =
      idx(byFqdn.jobId, 'a:start') < idx(byIp.jobId, 'a:start') ? [byFqdn, byIp] : [byIp, byFqdn];
    expect(idx(b.jobId, 'a:start')).toBeGreaterThan(idx(a.jobId, 'c:done'));
  });

  it('a job on another Host is not held back: it completes while the first is still in its step b', async () => {
    const busy = await confirmed(s, 'test change lk3 --slow-ms 30000');
    await until(async () => (await traceOf(s, busy.jobId)).includes('b:start'), 20_000, 'lk3 step b');
    const other = await confirmed(s, 'test change lk4');
    await waitForJobState(s, other.ts, 'completed');
    expect(await traceOf(s, busy.jobId)).toEqual(['a:start', 'a:done', 'b:start']);
    // end the long job
    await s.send(`cancel ${busy.jobId}`);
    await waitForJobState(s, busy.ts, 'cancelled');
  });

  it('a lease that expired while no other job took the Host is taken again; the job completes', async () => {
    const job = await confirmed(s, 'test change lk6 --slow-ms 2500');
    await until(async () => (await traceOf(s, job.jobId)).includes('b:start'), 20_000, 'lk6 step b');
    // as after a Redis restart longer than the lease: the lock key is gone, nobody else holds the Host
    await s.redis.del(`${s.prefix}:lock:host:lk6`);
    await until(
      async () => (await s.redis.get(`${s.prefix}:lock:host:lk6`))?.startsWith(`${job.jobId}:`),
      10_000,
      're-taken lock',
    );
    await waitForJobState(s, job.ts, 'completed');
    expect(await traceOf(s, job.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
  });

  it('a job whose Host lock was taken over stops its step, waits for the Host, then resumes from its checkpoints', async () => {
    const job = await confirmed(s, 'test change lk7 --slow-ms 6000');
    await until(async () => (await traceOf(s, job.jobId)).includes('b:start'), 20_000, 'lk7 step b');
    // another job holds the Host now (its lease after ours had expired)
    const intruder = 'j-intruder00:999999';
    await s.redis.set(`${s.prefix}:lock:host:lk7`, intruder, 'PX', 60_000);
    await s.redis.set(`${s.prefix}:lock:host:lk7:last`, intruder, 'EX', 600);
    const waiting = await waitForJobRecord(
      s,
      job.ts,
      (r) => r.state === 'waiting' && Boolean(r.note?.mrkdwn.includes('j-intruder00')),
      'waiting for the intruder',
    );
    expect(waiting.text).not.toContain('Cancelled');
    expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start', 'b:aborted']);
    // the intruder's lock was left alone while it held the Host
    expect(await s.redis.get(`${s.prefix}:lock:host:lk7`)).toBe(intruder);
    await s.redis.del(`${s.prefix}:lock:host:lk7`, `${s.prefix}:lock:host:lk7:last`);
    await waitForJobState(s, job.ts, 'completed');
    // a is not repeated; b runs again (it never finished), then c
    expect(await traceOf(s, job.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:aborted',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
  });
});
