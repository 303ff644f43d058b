/**
 * `/flexvdi register-host --all` end to end on its own testbed (3 Hosts, real sshd, the Manager stand-in, the
 * bot and worker on the run's Redis under the testbed's own prefix, Slack replaced by its double): one Host
 * registered alone first, then --all registers the other two in one plan and one confirmation (one of them a
 * first contact), the Manager stand-in ends up knowing all three, the key files hold every key once, real
 * OpenSSH works between the new Hosts, and a second --all is a no-op.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { planOf, runConfirmed } from '../support/flow.js';
import { type Stack, startStack } from '../support/harness.js';
import { loadInventory } from '../testbed/helpers.js';
import { keysOf, meshProblems, quietLog, managerHostIds as registeredIds, sshBetween } from './helpers.js';

const NAME = 'rg-all';
let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;

const hostIp = (n: string) => inv.hosts.find((h) => h.name === n)!.ip;

const managerHostIds = () => registeredIds(tb.stateDir);

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, log: quietLog });
  inv = loadInventory(tb.inventoryPath);
  // host3's key is not pinned: --all meets it for the first time
  const file = inv.ssh.knownHostsPath;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith(`${hostIp('host3')},`));
  writeFileSync(file, kept.join('\n'));
  s = await startStack({ inventoryPath: tb.inventoryPath });
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

describe('register-host --all', () => {
  it('registers every Host not registered yet in one plan; the Manager knows all three, keys everywhere', async () => {
    const ack = JSON.parse((await s.send('register-host --all host1')).body || '{}') as { text?: string };
    expect(ack.text).toContain('`--all` takes no Host');

    const one = await runConfirmed(s, 'register-host host1');
    expect(one.record.state).toBe('completed');
    expect(managerHostIds()).toEqual(['host1.flexvdi.test']);

    const run = await runConfirmed(s, 'register-host --all');
    expect(run.plan).toContain('Register 2 Hosts with the Manager (host2, host3)');
    expect(run.plan).toContain('Already registered — skipped (1)');
    expect(run.plan).toMatch(/host3\*[^•]*first contact/);
    expect(run.plan).toContain('same as on host1');
    expect(run.plan).not.toContain('Left out');
    expect(run.record.state).toBe('completed');
    expect(run.text).toContain('2 Hosts registered (host2, host3)');
    expect(run.text).toContain('pinned (first contact)');

    expect(managerHostIds()).toEqual(['host1.flexvdi.test', 'host2.flexvdi.test', 'host3.flexvdi.test']);
    const keys = await Promise.all(['host1', 'host2', 'host3'].map((h) => keysOf(NAME, h)));
    expect(await meshProblems(NAME, keys)).toEqual([]);
    expect((await sshBetween(NAME, 'host2', hostIp('host3'))).code).toBe(0);
    expect((await sshBetween(NAME, 'host3', hostIp('host1'))).code).toBe(0);
    expect(readFileSync(inv.ssh.knownHostsPath, 'utf8')).toContain(
      `${hostIp('host3')},host3.flexvdi.test,host3 `,
    );
  });

  it('a second --all is a no-op that says every Host is registered, with nothing to confirm', async () => {
    const plan = await planOf(s, 'register-host --all');
    expect(plan.record.state).toBe('noop');
    expect(plan.confirmId).toBeUndefined();
    expect(plan.text).toContain(
      'Every Host in the inventory is already registered with the Manager (3 of 3)',
    );
    expect(plan.text).toContain('Already registered — skipped (3)');
  });
});
