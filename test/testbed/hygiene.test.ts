/**
 * What a crashed run leaves is cleaned by the next `up` or `down`, from the testbed name alone, and two
 * testbeds coexist without touching each other. Test-scoped testbeds "vt-hygiene" and "vt-hygiene2".
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupDir, killCgroup } from '../../src/testbed/cgroup.js';
import { testbedDown, testbedStatus, testbedUp } from '../../src/testbed/index.js';
import { layoutFor, tagOf } from '../../src/testbed/layout.js';
import { defaultStateRoot } from '../../src/testbed/paths.js';
import { leftovers, loadInventory, quietLog, runCmd, ssh } from './helpers.js';

const NAME = 'vt-hygiene';
const OTHER = 'vt-hygiene2';
const ref = { name: NAME, log: quietLog };
const stateDir = `${defaultStateRoot}/${NAME}`;

afterAll(async () => {
  await testbedDown(ref);
  await testbedDown({ name: OTHER, log: quietLog });
});

describe('crash recovery', () => {
  it('rejects bad options before making anything', async () => {
    const bad = 'vt-bad';
    await expect(testbedUp({ name: bad, hosts: 0, log: quietLog })).rejects.toMatchObject({
      code: 'testbed.invalid_options',
    });
    await expect(testbedUp({ name: bad, hosts: 2, oddBridges: ['host7'], log: quietLog })).rejects.toThrow(
      /--odd-bridges host7: no such Host/,
    );
    await expect(testbedUp({ name: 'Bad_Name', log: quietLog })).rejects.toThrow(/testbed name "Bad_Name"/);
    await expect(testbedUp({ name: bad, diskSize: '10K', log: quietLog })).rejects.toThrow(/below 64M/);
    expect(await leftovers(bad, `${defaultStateRoot}/${bad}`)).toEqual([]);
  });

  it('down removes namespaces and links of a run that crashed before writing any state', async () => {
    const tag = tagOf(NAME);
    const batch = [
      `link add fvtb${tag} type bridge`,
      `netns add fvtb-${tag}-host1`,
      `link add fvtb${tag}h1 type veth peer name eth0 netns fvtb-${tag}-host1`,
      `link set fvtb${tag}h1 master fvtb${tag}`,
      // a Manager guest's port (its other end in a namespace only the Host knew)
      `link add fvtb${tag}g1 type veth peer name mgr0 netns fvtb-${tag}-host1`,
      `link set fvtb${tag}g1 master fvtb${tag}`,
    ].join('\n');
    expect((await runCmd('ip', ['-batch', '-'], `${batch}\n`)).code).toBe(0);
    expect(await leftovers(NAME, stateDir)).toContain(`link fvtb${tag}g1`);
    expect((await leftovers(NAME, stateDir)).length).toBeGreaterThanOrEqual(4);
    expect((await testbedDown(ref)).removed).toBe(true);
    expect(await leftovers(NAME, stateDir)).toEqual([]);
  });

  it('up rebuilds a testbed whose processes died, and coexists with another testbed', async () => {
    const first = await testbedUp({ ...ref, hosts: 2 });
    const other = await testbedUp({ name: OTHER, hosts: 1, log: quietLog });
    expect(other.managerUrl).not.toBe(first.managerUrl);
    // Simulate a crash: the Manager and host2 die, their namespaces stay.
    const t = layoutFor(NAME, first.stateDir, 0, 0);
    await killCgroup(cgroupDir(t.cgroup, 'manager'));
    await killCgroup(cgroupDir(t.cgroup, 'host2'));
    expect((await testbedStatus(ref)).hosts.map((h) => h.running)).toEqual([true, false]);

    const again = await testbedUp({ ...ref, hosts: 2 });
    expect(again.created).toBe(true);
    const inv = loadInventory(again.inventoryPath);
    expect((await ssh(inv, 'host2', 'hostname')).stdout).toBe('host2\n');
    // The other testbed was not touched.
    const otherInv = loadInventory(other.inventoryPath);
    expect((await ssh(otherInv, 'host1', 'hostname')).stdout).toBe('host1\n');
    expect((await testbedDown({ name: OTHER, log: quietLog })).removed).toBe(true);
    expect((await ssh(inv, 'host1', 'echo still')).stdout).toBe('still\n');
  });
});
