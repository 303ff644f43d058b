/**
 * Worker processes for crash tests: the options of the one worker child program (worker-process.ts), and
 * starting, holding in standby and stopping such children for a stack (test/support/harness.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { z } from 'zod';
import type { Stack } from './harness.js';

/** Where a worker SIGKILLs itself (no clean-up, no lock release, no final edit): once per job. */
export const crashPointSchema = z
  .object({
    /** The command id, e.g. `test change`, `register-host`. */
    command: z.string(),
    /** Only in jobs whose args name this Host (`args.host`). */
    host: z.string().optional(),
    /** A step id, or `result`: after the last step's checkpoint, before the result is posted. */
    step: z.string(),
    /**
     * Without it: as the step is about to start (after the previous step's checkpoint, before this one does
     * anything). A number n: right after the step's n-th file write on a Host; a path: right after the step
     * writes that file; either way before the step's checkpoint.
     */
    afterWrite: z.union([z.number().int().positive(), z.string()]).optional(),
    /** Right after the step runs this program on a Host (the first word of the command, e.g. `mkfs.ocfs2`). */
    afterExec: z.string().optional(),
  })
  .strict();
export type CrashPoint = z.output<typeof crashPointSchema>;

export const workerOptionsSchema = z
  .object({
    /** Also load the test plugin (test/support/test-plugin.ts); its steps trace to this Redis list. */
    traceKey: z.string().optional(),
    /** Worker tuning, e.g. short lock and stall intervals so a dead worker's job is taken over soon. */
    tuning: z
      .object({
        lockDurationMs: z.number(),
        stalledIntervalMs: z.number(),
        confirmTtlMs: z.number(),
        lockRetryMs: z.number(),
      })
      .partial()
      .strict()
      .optional(),
    crash: z.array(crashPointSchema).default([]),
    /** Load everything, print `loaded`, and take jobs only when a line arrives on stdin. */
    standby: z.boolean().default(false),
  })
  .strict();
export type WorkerOptions = z.input<typeof workerOptionsSchema>;

/** The environment variable that carries the options (JSON) to the child. */
export const WORKER_OPTIONS = 'WORKER_OPTIONS';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROGRAM = 'test/support/worker-process.ts';

export interface WorkerChild {
  child: ChildProcess;
  /** What it wrote on stderr so far (its logs). */
  stderr(): string;
  /** Resolves once the child printed `word` on stdout; rejects if it exits first or takes over 30 s. */
  line(word: string): Promise<void>;
}

/** Spawns the worker program for the stack (its Redis, inventory and Slack double), with `o`. */
export function spawnWorker(s: Stack, o: WorkerOptions = {}): WorkerChild {
  const child = spawn(process.execPath, ['--import', 'tsx', PROGRAM], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...s.env,
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      [WORKER_OPTIONS]: JSON.stringify(workerOptionsSchema.parse(o)),
    },
    stdio: [o.standby ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env['TEST_LOG_LEVEL']) process.stderr.write(d);
  });
  const line = (word: string) =>
    new Promise<void>((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        fn();
      };
      const onData = (d: Buffer) => {
        if (d.toString().includes(word)) done(resolve);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        done(() => reject(new Error(`worker exited early (${code ?? signal}):\n${stderr}`)));
      const timer = setTimeout(
        () => done(() => reject(new Error(`worker: no "${word}" within 30 s:\n${stderr}`))),
        30_000,
      );
      child.stdout!.on('data', onData);
      child.once('exit', onExit);
    });
  return { child, stderr: () => stderr, line };
}

/** Spawns a worker and waits until it takes jobs. */
export async function startWorker(s: Stack, o: WorkerOptions = {}): Promise<ChildProcess> {
  const w = spawnWorker(s, { ...o, standby: false });
  await w.line('ready');
  return w.child;
}

/** A worker with everything loaded, waiting for `go()`: so the next worker is ready the moment one dies. */
export function standbyWorker(
  s: Stack,
  o: WorkerOptions = {},
): { child: ChildProcess; loaded: Promise<void>; go(): Promise<ChildProcess> } {
  const w = spawnWorker(s, { ...o, standby: true });
  const loaded = w.line('loaded');
  loaded.catch(() => {});
  return {
    child: w.child,
    loaded,
    async go() {
      await loaded;
      const ready = w.line('ready');
      w.child.stdin!.write('go\n');
      await ready;
      return w.child;
    },
  };
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal` unless the child has exited, and waits for the exit. */
export async function stopWorker(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exited(child);
}

/**
 * Workers one after another, as a crash test needs them: `next()` starts the standby (already loaded, so the
 * job is taken over the moment the previous worker died) and loads the one after it; `stop()` ends both.
 */
export function workerRelay(s: Stack, o: WorkerOptions) {
  let standby: ReturnType<typeof standbyWorker> | undefined;
  let current: ChildProcess | undefined;
  return {
    get current(): ChildProcess | undefined {
      return current;
    },
    async next(): Promise<ChildProcess> {
      const go = standby ?? standbyWorker(s, o);
      standby = standbyWorker(s, o);
      current = await go.go();
      return current;
    },
    async stop(): Promise<void> {
      if (current) await stopWorker(current);
      if (standby) await stopWorker(standby.child);
      current = undefined;
      standby = undefined;
    },
  };
}
