/**
 * A worker process killed with SIGKILL (no clean-up, no lock release, no final edit) in the middle of a step,
 * or between two steps: BullMQ's stalled-job recovery hands the job to a new worker process, which resumes it
 * from the checkpoints: finished steps are not repeated, the interrupted step runs again, the job completes.
 * The workers are real child processes (test/support/worker-process.ts); the bot runs in this process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { planOf, traceOf, until, waitForState } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
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

/** Starts a worker-only runtime as a child process and waits until it takes jobs. */
async function startWorker(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...s.env,
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      TEST_TRACE_KEY: s.traceKey,
      TEST_TUNING: JSON.stringify(TUNING),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env['TEST_LOG_LEVEL']) process.stderr.write(d);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within 30 s:\n${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited early (${code ?? signal}):\n${stderr}`));
    });
  });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  children.delete(child);
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exited(child);
}

async function confirmed(text: string): Promise<{ ts: string; jobId: string }> {
  const plan = await planOf(s, text);
  await s.click(OPS, plan.ts);
  return { ts: plan.ts, jobId: runJobIdFor(plan.confirmId) };
}

it('SIGKILL in the middle of step b: a new worker resumes the job; a is not repeated, b runs again, c once', async () => {
  const first = await startWorker();
  const job = await confirmed('test change ck1 --slow-ms 2000');
  await until(async () => (await traceOf(s, job.jobId)).includes('b:start'), 20_000, 'step b to start');
  await stopChild(first, 'SIGKILL');
  expect(first.signalCode).toBe('SIGKILL');
  expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start']);

  await startWorker();
  const text = await waitForState(s, job.ts, /— completed/, 40_000);
  expect(text).toContain('done in an earlier run');
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
  const crashing = await startWorker({ TEST_CRASH_BEFORE_STEP: 'b' });
  const job = await confirmed('test change ck2');
  await exited(crashing);
  children.delete(crashing);
  expect(crashing.signalCode).toBe('SIGKILL');
  expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done']);
  expect(await s.redis.hexists(`${s.prefix}:ckpt:${job.jobId}`, 'step:a')).toBe(1);

  await startWorker();
  await waitForState(s, job.ts, /— completed/, 40_000);
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
    const j = await confirmed('test change ck3 --slow-ms 3000');
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
  await waitForState(s, job.ts, /— completed/, 60_000);
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
