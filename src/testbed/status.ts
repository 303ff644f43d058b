/** `testbed status`: what is running, as seen from this machine (processes, links, sshd, faults). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cgroupDir, cgroupPids, cpuLimit, isFrozen } from './cgroup.js';
import { layoutOfState, resolveRef, type TestbedRef } from './context.js';
import type { FaultOptions } from './fault-options.js';
import { guestWhereabouts } from './guest.js';
import { holderPid } from './host-process.js';
import { jitterRunning } from './jitter.js';
import { layoutFor, SUBNET_PREFIX, type TestbedLayout } from './layout.js';
import { linkIsUp } from './network.js';
import { readRegistry, readState, type TestbedState } from './state.js';

export interface HostStatus {
  name: string;
  fqdn: string;
  ip: string;
  /** The Host's namespace holder is alive. */
  running: boolean;
  linkUp: boolean;
  frozen: boolean;
  sshd: boolean;
  fault: string | null;
  /** The fault's options (jitter: pauseMs, everyMs; slow: cpuPercent), null for the others. */
  faultOptions: FaultOptions | null;
  /** The Host's CPU limit as its cpu cgroup says, % of one core (null: none). */
  cpuLimitPercent: number | null;
  /** The jitter fault's pauser process is alive. */
  jitterRunning: boolean;
  hostKeyFingerprint: string;
  generation: number;
}

export interface TestbedStatus {
  name: string;
  stateDir: string;
  /** No state: the testbed is not up (or was never made). */
  exists: boolean;
  phase: string | null;
  inventoryPath: string | null;
  manager: ManagerStatus | null;
  hosts: HostStatus[];
}

export interface ManagerStatus {
  url: string;
  fingerprint256: string;
  /** How the testbed started it: its own namespace, or as a Host's guest (it may have moved since). */
  mode: 'standalone' | 'guest';
  /** Its process is alive (standalone: in its own group; guest: on some Host, frozen or not). */
  running: boolean;
  /** Guest mode: the Host it runs on (null: none); standalone: null. */
  runningOn: string | null;
  /** Guest mode: every Host with a live guest process (an old one that has yet to exit shows here too). */
  instances: string[];
  /** Guest mode: the lease next to its disk image (owner FQDN, expiry); null when there is none. */
  lease: { owner: string; expiresMs: number; expired: boolean } | null;
}

/** sshd's pid file and /proc as the Host sees them (its own PID namespace), read through the holder. */
function sshdRunning(holder: number | null): boolean {
  if (holder === null) return false;
  const root = `/proc/${holder}/root`;
  try {
    const pid = Number(readFileSync(`${root}/run/sshd.pid`, 'utf8').trim());
    return pid > 0 && existsSync(`${root}/proc/${pid}`);
  } catch {
    return false;
  }
}

export async function testbedStatus(ref: TestbedRef): Promise<TestbedStatus> {
  const { name, stateDir } = resolveRef(ref);
  const state = readState(layoutFor(name, stateDir, 0, 0).files.state);
  if (!state) {
    return { name, stateDir, exists: false, phase: null, inventoryPath: null, manager: null, hosts: [] };
  }
  const t = layoutOfState(state);
  const hosts = await Promise.all(
    state.hosts.map(async (rec, i): Promise<HostStatus> => {
      const h = t.hosts[i]!;
      const holder = holderPid(t, h);
      const frozen = isFrozen(cgroupDir(t.cgroup, h.name));
      return {
        name: rec.name,
        fqdn: rec.fqdn,
        ip: rec.ip,
        running: holder !== null,
        linkUp: await linkIsUp(h.veth),
        frozen,
        sshd: !frozen && sshdRunning(holder),
        fault: rec.fault,
        faultOptions: rec.faultOptions ?? null,
        cpuLimitPercent: cpuLimit(t.cgroup, h.name),
        jitterRunning: jitterRunning(t, h, rec.helperPid),
        hostKeyFingerprint: rec.hostKeyFingerprint,
        generation: rec.generation,
      };
    }),
  );
  return {
    name,
    stateDir,
    exists: true,
    phase: state.phase,
    inventoryPath: existsSync(t.files.inventory) ? path.resolve(t.files.inventory) : null,
    manager: state.manager && managerStatus(t, state.manager),
    hosts,
  };
}

function managerStatus(t: TestbedLayout, m: NonNullable<TestbedState['manager']>): ManagerStatus {
  const base = { url: m.url, fingerprint256: m.fingerprint256 };
  if (m.mode !== 'guest') {
    const running = cgroupPids(cgroupDir(t.cgroup, 'manager')).length > 0;
    return { ...base, mode: 'standalone', running, runningOn: null, instances: [], lease: null };
  }
  const w = guestWhereabouts(t);
  return { ...base, mode: 'guest', running: w.runningOn !== null, ...w };
}

/** Every testbed holding a subnet on this machine (from the registry in /run/flexvdi-testbed). */
export function listTestbeds(): Array<{ name: string; stateDir: string; subnet: string }> {
  return readRegistry().map((e) => ({
    name: e.name,
    stateDir: e.stateDir,
    subnet: `${SUBNET_PREFIX}.${e.octet}.0/24`,
  }));
}
