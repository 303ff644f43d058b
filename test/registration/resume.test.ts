/**
 * Idempotent and resumable: a worker process SIGKILLed at every step boundary of register-host (and twice in
 * the middle of key distribution, right after a file was written and before its checkpoint) leaves a job
 * that the next worker process resumes and completes, with exactly one line per key on every Host. The
 * workers are real child processes (crash-worker.ts); the bot runs in this process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { loadInventory } from '../testbed/helpers.js';
import {
  countLines,
  type HostKeys,
  hostFile,
  keysOf,
  meshProblems,
  planOf,
  quietLog,
  runConfirmed,
  waitForState,
} from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NAME = 'rg-resume';
const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 120_000 };

/** Where the worker dies while registering each Host (host1 is registered without a crash). */
const CRASHES: Record<string, string> = {
  host2: 'before:pin-host-key',
  host3: 'before:register',
  host4: 'before:distribute-keys',
  host5: 'writes:1',
  host6: 'writes:5',
  host7: 'before:verify',
  host8: 'before:manager-lists',
  host9: 'before:result',
};

let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;
let worker: ChildProcess | undefined;
const registered: HostKeys[] = [];

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 9, log: quietLog });
  inv = loadInventory(tb.inventoryPath);
  s = await startStack({ inventoryPath: tb.inventoryPath, workers: 0 });
  worker = await startWorker();
  const r = await runConfirmed(s, 'register-host host1');
  if (!r.text.includes('— completed')) throw new Error(`setup: register host1 failed:\n${r.text}`);
  registered.push(await keysOf(NAME, 'host1'));
});

afterEach(async () => {
  // a test that failed half way may leave a worker behind; the next test needs exactly one
  if (worker && worker.exitCode === null && worker.signalCode === null) return;
  worker = await startWorker();
});

afterAll(async () => {
  if (worker) await stop(worker);
  if (standby) await stop(standby.worker.child);
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

interface Worker {
  child: ChildProcess;
  stderr: () => string;
}

/** A worker process with everything loaded, waiting for a line on stdin before it takes jobs. */
function spawnStandby(): { worker: Worker; loaded: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/registration/crash-worker.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...s.env,
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      REG_CRASH: JSON.stringify(CRASHES),
      REG_TUNING: JSON.stringify(TUNING),
      REG_STANDBY: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env['TEST_LOG_LEVEL']) process.stderr.write(d);
  });
  const loaded = waitForLine(child, 'loaded', () => stderr);
  loaded.catch(() => {});
  return { worker: { child, stderr: () => stderr }, loaded };
}

function waitForLine(child: ChildProcess, word: string, stderr: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker: no "${word}" within 30 s:\n${stderr()}`)),
      30_000,
    );
    const onData = (d: Buffer) => {
      if (d.toString().includes(word)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited early (${code ?? signal}):\n${stderr()}`));
    });
  });
}

let standby: ReturnType<typeof spawnStandby> | undefined;

/** Starts the standby worker (spawning one if there is none) and prepares the next standby. */
async function startWorker(): Promise<ChildProcess> {
  const next = standby ?? spawnStandby();
  standby = spawnStandby();
  await next.loaded;
  const ready = waitForLine(next.worker.child, 'ready', next.worker.stderr);
  next.worker.child.stdin!.write('go\n');
  await ready;
  return next.worker.child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited(child);
}

describe('a worker killed while registering a Host', () => {
  for (const [host, where] of Object.entries(CRASHES)) {
    it(`${where}: the next worker resumes the job; exactly one line per key on every Host`, async () => {
      const dying = worker!;
      const plan = await planOf(s, `register-host ${host}`);
      if (!plan.confirmId) throw new Error(plan.text);
      await s.click(OPS, plan.ts);
      await exited(dying);
      expect(dying.signalCode).toBe('SIGKILL');
      if (where.startsWith('writes:')) {
        // killed half way: some Hosts hold the new key already, not all
        const key = (await keysOf(NAME, host)).flexvdi.split(' ')[1]!;
        const members = [...registered.map((k) => k.name), host];
        let holding = 0;
        for (const m of members) {
          if (countLines(await hostFile(NAME, m, '/home/flexvdi/.ssh/authorized_keys'), key) > 0) holding++;
        }
        expect(holding).toBeGreaterThanOrEqual(1);
        expect(holding).toBeLessThan(members.length);
      }
      worker = await startWorker();
      const text = await waitForState(s, plan.ts, /— (completed|failed)/, 60_000);
      expect(text).toContain('— completed');
      if (where !== 'before:pin-host-key') expect(text).toContain('done in an earlier run');
      registered.push(await keysOf(NAME, host));
      expect(await meshProblems(NAME, registered)).toEqual([]);
      expect(inv.hosts.some((h) => h.name === host)).toBe(true);
    });
  }

  it('registering an already registered Host after all this is a no-op', async () => {
    const plan = await planOf(s, 'register-host host6');
    expect(plan.text).toContain('— noop');
    expect(plan.text).toContain(`in sync on all ${registered.length} Hosts`);
  });
});
