/**
 * Idempotent and resumable: a worker process SIGKILLed at every step boundary of register-host (and twice in
 * the middle of key distribution, right after a file was written and before its checkpoint) leaves a job
 * that the next worker process resumes and completes, with exactly one line per key on every Host. The
 * workers are real child processes (crash-worker.ts); the bot runs in this process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { pendingPlanOf, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { hostFile } from '../support/hosts.js';
import { type CrashPoint, exited, workerRelay } from '../support/workers.js';
import { loadInventory } from '../testbed/helpers.js';
import { countLines, type HostKeys, keysOf, meshProblems, quietLog } from './helpers.js';

const NAME = 'rg-resume';
const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 120_000 };

/** Where the worker dies while registering each Host (host1 is registered without a crash). */
const CRASHES: Record<string, Omit<CrashPoint, 'command' | 'host'>> = {
  host2: { step: 'pin-host-key' },
  host3: { step: 'register' },
  host4: { step: 'distribute-keys' },
  // right after the n-th key file write, before its per-Host checkpoint
  host5: { step: 'distribute-keys', afterWrite: 1 },
  host6: { step: 'distribute-keys', afterWrite: 5 },
  host7: { step: 'verify' },
  host8: { step: 'manager-lists' },
  // after the last step's checkpoint, before the result is posted
  host9: { step: 'result' },
};
const crash = Object.entries(CRASHES).map(([host, p]) => ({ command: 'register-host', host, ...p }));
const where = (p: Omit<CrashPoint, 'command' | 'host'>) =>
  p.afterWrite === undefined ? `before ${p.step}` : `${p.step}, after write ${p.afterWrite}`;

let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;
let relay: ReturnType<typeof workerRelay>;
const registered: HostKeys[] = [];

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 9, log: quietLog });
  inv = loadInventory(tb.inventoryPath);
  s = await startStack({ inventoryPath: tb.inventoryPath, workers: 0 });
  relay = workerRelay(s, { tuning: TUNING, crash });
  await relay.next();
  const r = await runConfirmed(s, 'register-host host1');
  if (r.record.state !== 'completed') throw new Error(`setup: register host1 failed:\n${r.text}`);
  registered.push(await keysOf(NAME, 'host1'));
});

afterEach(async () => {
  // a test that failed half way may leave a worker behind; the next test needs exactly one
  const w = relay.current;
  if (w && w.exitCode === null && w.signalCode === null) return;
  await relay.next();
});

afterAll(async () => {
  await relay?.stop();
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

describe('a worker killed while registering a Host', () => {
  for (const [host, p] of Object.entries(CRASHES)) {
    it(`${where(p)}: the next worker resumes the job; exactly one line per key on every Host`, async () => {
      const dying = relay.current!;
      const plan = await pendingPlanOf(s, `register-host ${host}`);
      await s.click(OPS, plan.ts);
      await exited(dying);
      expect(dying.signalCode).toBe('SIGKILL');
      if (p.afterWrite !== undefined) {
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
      await relay.next();
      const done = await waitForJobState(s, plan.ts, ['completed', 'failed'], 60_000);
      expect(done.record.state).toBe('completed');
      if (p.step !== 'pin-host-key') expect(done.text).toContain('done in an earlier run');
      registered.push(await keysOf(NAME, host));
      expect(await meshProblems(NAME, registered)).toEqual([]);
      expect(inv.hosts.some((h) => h.name === host)).toBe(true);
    });
  }

  it('registering an already registered Host after all this is a no-op', async () => {
    const plan = await planOf(s, 'register-host host6');
    expect(plan.record.state).toBe('noop');
    expect(plan.text).toContain(`in sync on all ${registered.length} Hosts`);
  });
});
