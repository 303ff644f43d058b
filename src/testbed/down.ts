/**
 * `testbed down`: removes everything a testbed made — processes (by cgroup, fault helpers first, then by
 * network namespace), the cgroups (freezer and cpu), namespaces, links, the registry claim, the disks' loop
 * devices and the state folder (keys, inventory, disk images). Works from the name alone, so it also sweeps what a crashed `up` left
 * behind, and checks that nothing is left.
 */
import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { AppError } from '../errors.js';
import { cgroupTreeExists, removeCgroupTree } from './cgroup.js';
import { detachDisks } from './common-files.js';
import { resolveRef, type TestbedRef } from './context.js';
import { TestbedErrorCode } from './errors.js';
import { sleep } from './exec.js';
import { layoutFor, tagOf } from './layout.js';
import { findTestbedNetwork, removeTestbedNetwork } from './network.js';
import { readRegistry, readState, releaseRegistry, saveState } from './state.js';

export interface TestbedDownResult {
  name: string;
  /** False when there was nothing to remove. */
  removed: boolean;
}

/** Kills processes living in the testbed's namespaces but outside its cgroups (a crash mid-start). */
async function killNetnsProcesses(netns: readonly string[]): Promise<void> {
  const inodes = new Set<string>();
  for (const ns of netns) {
    try {
      inodes.add(String(statSync(`/run/netns/${ns}`).ino));
    } catch {
      // already gone
    }
  }
  if (inodes.size === 0) return;
  for (let round = 0; round < 50; round++) {
    const pids = readdirSync('/proc').filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      try {
        const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/ns/net`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(20);
  }
}

export async function testbedDown(ref: TestbedRef): Promise<TestbedDownResult> {
  const { name, stateDir } = resolveRef(ref);
  const log = ref.log.child({ testbed: name });
  const tag = tagOf(name);
  const holder = readRegistry().find((e) => e.tag === tag);
  if (holder && (holder.name !== name || holder.stateDir !== stateDir)) {
    // Same tag, someone else's testbed: its namespaces carry the same prefix, so sweeping would hit it.
    throw new AppError(
      TestbedErrorCode.conflict,
      `the namespaces of testbed "${name}" (${stateDir}) are held by testbed "${holder.name}" (${holder.stateDir}); ` +
        'give the same --name and --state-root to bring it down',
    );
  }
  const probe = layoutFor(name, stateDir, 0, 0);
  const state = readState(probe.files.state);
  const before = await findTestbedNetwork(tag);
  const found =
    state !== null || before.netns.length > 0 || before.links.length > 0 || cgroupTreeExists(probe.cgroup);
  if (state) {
    state.phase = 'removing';
    saveState(probe.files.state, state);
  }
  await removeCgroupTree(probe.cgroup);
  await killNetnsProcesses(before.netns);
  await removeTestbedNetwork(tag);
  releaseRegistry(name);
  await detachDisks(probe.files.disks);
  rmSync(stateDir, { recursive: true, force: true });

  const after = await findTestbedNetwork(tag);
  if (after.netns.length || after.links.length || cgroupTreeExists(probe.cgroup)) {
    throw new AppError(
      TestbedErrorCode.tool,
      `testbed "${name}" left behind: ${[...after.netns, ...after.links].join(', ') || 'its cgroup'}`,
    );
  }
  if (found) log.info({ stateDir }, 'testbed down');
  return { name, removed: found };
}
