/**
 * `register-host --all` resumable and honest about what it leaves out, on its own testbed (5 Hosts, real
 * sshd, the Manager stand-in, workers as real child processes): one job SIGKILLed four times — before
 * registering with the Manager, in the middle of key distribution (after a file was written, before its
 * checkpoint), before the verification and before the result — is resumed by a fresh worker each time and
 * ends with both Hosts registered once and every key once on every Host; a Host whose sshd is down is left out
 * by name with the reason while the other one is registered, and a later --all registers it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failHost, healHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { pendingPlanOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { type CrashPoint, exited, workerRelay } from '../support/workers.js';
import { type HostKeys, keysOf, managerHostIds, meshProblems, quietLog } from './helpers.js';

const NAME = 'rg-allres';
const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 120_000 };
/** Each fires once per job: the one job dies at each of them in turn. */
const CRASH: CrashPoint[] = [
  { command: 'register-host', step: 'register-hosts' },
  { command: 'register-host', step: 'distribute-keys', afterWrite: 3 },
  { command: 'register-host', step: 'verify' },
  { command: 'register-host', step: 'result' },
];

let tb: TestbedInfo;
let s: Stack;
let relay: ReturnType<typeof workerRelay>;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 5, log: quietLog });
  s = await startStack({ inventoryPath: tb.inventoryPath, workers: 0 });
  relay = workerRelay(s, { tuning: TUNING, crash: CRASH });
  await relay.next();
});

afterAll(async () => {
  await relay?.stop();
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

const ids = (...hosts: string[]) => hosts.map((h) => `${h}.flexvdi.test`);

describe('register-host --all', () => {
  it('a worker killed at four points of one job: each next worker resumes it; all registered once, keys once', async () => {
    // host4 and host5 wait for the second test: their sshd is stopped, so this plan leaves them out
    for (const h of ['host4', 'host5'])
      await failHost({ name: NAME, host: h, mode: 'sshd-stop', log: quietLog });
    const plan = await pendingPlanOf(s, 'register-host --all');
    expect(plan.text).toContain('Register 3 Hosts with the Manager (host1, host2, host3)');
    await s.click(OPS, plan.ts);
    for (let kill = 0; kill < CRASH.length; kill++) {
      const dying = relay.current!;
      await exited(dying);
      expect(dying.signalCode, `kill ${kill + 1}`).toBe('SIGKILL');
      await relay.next();
    }
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed', 'partial'], 120_000);
    expect(done.record.state, done.text).toBe('completed');
    expect(done.text).toContain('done in an earlier run');
    expect(managerHostIds(tb.stateDir)).toEqual(ids('host1', 'host2', 'host3'));
    const keys: HostKeys[] = await Promise.all(['host1', 'host2', 'host3'].map((h) => keysOf(NAME, h)));
    expect(await meshProblems(NAME, keys)).toEqual([]);
  });

  it('a Host that cannot be reached is left out by name with why; the others go ahead; a later --all takes it', async () => {
    // workers that do not die from here on (a crash point fires once per job, and these are new jobs)
    await relay.stop();
    relay = workerRelay(s, { tuning: TUNING });
    await relay.next();
    await healHost({ name: NAME, host: 'host4', log: quietLog }); // host5's sshd stays down
    const run = await runConfirmed(s, 'register-host --all');
    expect(run.plan).toContain('Register 1 Host with the Manager (host4)');
    expect(run.plan).toMatch(/Left out[\s\S]*host5[\s\S]*not reachable over SSH/);
    expect(run.record.state).toBe('completed');
    expect(run.text).toMatch(/Left out by the plan — not registered[\s\S]*host5/);
    expect(managerHostIds(tb.stateDir)).toEqual(ids('host1', 'host2', 'host3', 'host4'));

    await healHost({ name: NAME, host: 'host5', log: quietLog });
    const last = await runConfirmed(s, 'register-host --all');
    expect(last.record.state).toBe('completed');
    expect(managerHostIds(tb.stateDir)).toEqual(ids('host1', 'host2', 'host3', 'host4', 'host5'));
    const keys = await Promise.all(['host1', 'host2', 'host3', 'host4', 'host5'].map((h) => keysOf(NAME, h)));
    expect(await meshProblems(NAME, keys)).toEqual([]);
  });
});
