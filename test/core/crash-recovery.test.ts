/**
 * A worker process killed with SIGKILL (no clean-up, no lock release, no final edit) in the middle of a step,
 * or between two steps: BullMQ's stalled-job recovery hands the job to a new worker process, which resumes it
 * from the checkpoints: finished steps are not repeated, the interrupted step runs again, the job completes.
 * The workers are real child processes (test/support/worker-process.ts); the bot runs in this process.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { confirmed, until, waitForJobState } from '../support/flow.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { exited, startWorker as startChild, stopWorker, type WorkerOptions } from '../support/workers.js';
import { traceOf } from './helpers.js';

const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 60_000 };

let s: Stack;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  s = await startStack({ bots: 1, workers: 0 });
});
afterEach(async () => {
  for (const c of children) await stopChild(c, 'SIGTERM');
});
afterAll(async () => {
  await s?.stop();
});

/** Starts a worker-only runtime with the test plugin as a child process and waits until it takes jobs. */
async function startWorker(o: WorkerOptions = {}): Promise<ChildProcess> {
  const child = await startChild(s, { traceKey: s.traceKey, tuning: TUNING, ...o });
  children.add(child);
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  children.delete(child);
  await stopWorker(child, signal);
}

it('SIGKILL in the middle of step b: a new worker resumes the job; a is not repeated, b runs again, c once', async () => {
  const first = await startWorker();
  const job = await confirmed(s, 'test change ck1 --slow-ms 2000');
  await until(async () => (await traceOf(s, job.jobId)).includes('b:start'), 20_000, 'step b to start');
  await stopChild(first, 'SIGKILL');
  expect(first.signalCode).toBe('SIGKILL');
  expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start']);

  await startWorker();
  const done = await waitForJobState(s, job.ts, 'completed', 40_000);
  expect(done.record.steps?.map((x) => [x.id, x.state])).toEqual([
    ['a', 'skipped'],
    ['b', 'done'],
    ['c', 'done'],
  ]);
  expect(await traceOf(s, job.jobId)).toEqual([
    'a:start',
    'a:done',
    'b:start',
    'b:start',
    'b:done',
    'c:start',
    'c:done',
  ]);
  const bull = await s.runtimes[0]!.queue.getJob(job.jobId);
  await until(async () => (await bull!.getState()) === 'completed', 10_000, 'BullMQ state completed');
  // the result was posted once in the thread
  expect(s.double.thread(OPS, job.ts).filter((m) => m.text.includes('Result of'))).toHaveLength(1);
});

it('SIGKILL between steps (after a is checkpointed, before b starts): b and c run once, a is not repeated', async () => {
  const crashing = await startWorker({ crash: [{ command: 'test change', step: 'b' }] });
  const job = await confirmed(s, 'test change ck2');
  await exited(crashing);
  children.delete(crashing);
  expect(crashing.signalCode).toBe('SIGKILL');
  expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done']);
  expect(await s.redis.hexists(`${s.prefix}:ckpt:${job.jobId}`, 'step:a')).toBe(1);

  await startWorker();
  await waitForJobState(s, job.ts, 'completed', 40_000);
  expect(await traceOf(s, job.jobId)).toEqual([
    'a:start',
    'a:done',
    'b:start',
    'b:done',
    'c:start',
    'c:done',
  ]);
});

it('three workers killed in turn, each while it runs step b: the fourth finishes the job; a and c run once', async () => {
  const job = await (async () => {
    const w = await startWorker();
    const j = await confirmed(s, 'test change ck3 --slow-ms 3000');
    await until(async () => (await traceOf(s, j.jobId)).includes('b:start'), 20_000, 'step b to start');
    await stopChild(w, 'SIGKILL');
    return j;
  })();
  const bStarts = async () => (await traceOf(s, job.jobId)).filter((t) => t === 'b:start').length;
  for (let kill = 2; kill <= 3; kill++) {
    // each next worker takes the job over only after the dead one's hold lapsed (more than a stall interval)
    const w = await startWorker();
    await until(async () => (await bStarts()) === kill, 30_000, `step b to start again (${kill})`);
    await stopChild(w, 'SIGKILL');
  }
  expect(await bStarts()).toBe(3);
  await startWorker();
  await waitForJobState(s, job.ts, 'completed', 60_000);
  expect(await traceOf(s, job.jobId)).toEqual([
    'a:start',
    'a:done',
    'b:start',
    'b:start',
    'b:start',
    'b:start',
    'b:done',
    'c:start',
    'c:done',
  ]);
});
