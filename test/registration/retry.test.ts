/**
 * One registered Host down while a new Host is registered: the other Hosts finish, the job fails naming the
 * Host that did not, and once it is back `/flexvdi retry <id>` finishes only what is missing (the Hosts
 * already done keep their files untouched; every Host ends with exactly one line per key).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { failHost, healHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { onHost } from '../support/hosts.js';
import { loadInventory } from '../testbed/helpers.js';
import { inventoryVariant, keysOf, meshProblems, quietLog, sshBetween } from './helpers.js';

const NAME = 'rg-retry';
let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;

const ip = (n: string) => inv.hosts.find((h) => h.name === n)!.ip;
/** inode and mtime of a file on a Host: unchanged means not rewritten. */
const identity = (host: string, file: string) => onHost(NAME, host, 'stat -c "%i %Y.%y" "$1"', [file]);

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 4, log: quietLog });
  inv = loadInventory(tb.inventoryPath);
  // Short SSH deadlines: a Host that is cut off fails in seconds, not minutes; one automatic retry.
  const file = inventoryVariant(tb, 'inventory-retry.yaml', (d) => {
    d.ssh.connectTimeoutMs = 2000;
    d.ssh.commandTimeoutMs = 5000;
    d.jobs.attempts = 2;
    d.jobs.backoffMs = 100;
  });
  s = await startStack({ inventoryPath: file });
  for (const h of ['host1', 'host2', 'host3']) {
    const r = await runConfirmed(s, `register-host ${h}`);
    if (r.record.state !== 'completed') throw new Error(`setup: register ${h} failed:\n${r.text}`);
  }
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

it('a Host down during key distribution: the others finish, the failure names it, retry finishes the rest', async () => {
  await failHost({ name: NAME, host: 'host2', mode: 'link-down', log: quietLog });
  let healed = false;
  try {
    const plan = await planOf(s, 'register-host host4');
    expect(plan.text).toContain('host2 does not answer');
    expect(plan.confirmId).toBeDefined();
    await s.click(OPS, plan.ts);
    const failed = await waitForJobState(s, plan.ts, ['completed', 'failed', 'partial'], 90_000);
    expect(failed.record.state).toBe('partial');
    expect(failed.text).toMatch(/Updating the SSH keys failed on host2 \(/);
    expect(failed.text).toContain('3 other Hosts are done');
    expect(failed.text).toMatch(/host2 +failed/);
    // the Hosts that answered hold the new Host's keys already
    const k4 = await keysOf(NAME, 'host4');
    const done = [await keysOf(NAME, 'host1'), await keysOf(NAME, 'host3'), k4];
    expect(await meshProblems(NAME, done)).toEqual([]);
    const untouched = {
      ak: await identity('host1', '/home/flexvdi/.ssh/authorized_keys'),
      kh: await identity('host3', '/etc/ssh/ssh_known_hosts'),
    };

    await healHost({ name: NAME, host: 'host2', log: quietLog });
    healed = true;
    const jobId = failed.record.jobId!;
    await s.send(`retry ${jobId}`);
    await s.double.waitFor(() =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes(`Retrying \`${jobId}\``)),
    );
    const { text } = await waitForJobState(s, plan.ts, 'completed', 90_000);
    expect(text).toContain('⏭️ Pin the host key');
    expect(text).toContain('⏭️ Register the Host with the Manager');
    expect(text).toMatch(/host1\*: already in sync/);
    expect(text).toMatch(/host2\*: \+1 authorized_keys, \+1 ssh_known_hosts/);
    // host4 had host2's host key from the product's pins already; it lacked only host2's flexvdi key
    expect(text).toMatch(/host4\*: \+1 authorized_keys(?!,)/);
    const all = [...done, await keysOf(NAME, 'host2')];
    expect(await meshProblems(NAME, all)).toEqual([]);
    expect(await identity('host1', '/home/flexvdi/.ssh/authorized_keys')).toBe(untouched.ak);
    expect(await identity('host3', '/etc/ssh/ssh_known_hosts')).toBe(untouched.kh);
    expect((await sshBetween(NAME, 'host2', ip('host4'))).code).toBe(0);
    expect((await sshBetween(NAME, 'host4', ip('host2'))).code).toBe(0);
  } finally {
    if (!healed) await healHost({ name: NAME, host: 'host2', log: quietLog });
  }
}, 180_000);
