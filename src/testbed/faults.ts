/**
 * Faults on demand, each observable from outside the Host, each undone by `heal`:
 *   link-down       the Host's veth is down: connections time out, heartbeats stop
 *   freeze          every process of the Host is frozen (cgroup freezer): TCP handshakes still complete in
 *                   the kernel but sshd never answers; heartbeats stop → the Manager marks it unavailable.
 *                   Frozen between two holds of the shared folder's locks (shared-locks.ts says why)
 *   sshd-stop       sshd's listener is killed: connection refused (open sessions survive, like Debian's ssh)
 *   hostkey-change  sshd restarted with a new host key: pinned clients see a key mismatch
 *   jitter          the Host freezes for pauseMs every everyMs (a detached pauser, jitter.ts), until healed:
 *                   heartbeats and SSH answers arrive late, never stop for longer than a pause
 *   slow            the Host's processes get cpuPercent of one core together (cgroup cpu quota): everything
 *                   it does takes longer, nothing stops
 * `replace` builds a fresh Host in place: same name and IP, new host key, new flexvdi key pair, empty state
 * (also in the testbed-wide OCFS2 emulation), the product key authorized as after installation. The
 * inventory's known_hosts is NOT updated: re-pinning is the replacement procedure's job.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { cgroupDir, cgroupPids, cpuCgroupDir, ensureCpuCgroup, setCpuLimit, setFrozen } from './cgroup.js';
import { hostIndex, type LoadedTestbed, loadTestbed, type TestbedRef } from './context.js';
import { TestbedErrorCode } from './errors.js';
import {
  describeFaultOptions,
  type FaultOptions,
  type JitterOptions,
  parseFaultOptions,
  type RawFaultOptions,
  type SlowOptions,
} from './fault-options.js';
import { DEFAULT_MANAGER_LEASE_MS, restoreGuestLink, setGuestLink } from './guest.js';
import { accountFiles, writeHostFiles } from './host-files.js';
import { inHost, startHost, stopHost } from './host-process.js';
import { startJitter, stopJitter } from './jitter.js';
import type { HostLayout, TestbedLayout } from './layout.js';
import { createNetwork, removeMember, setLink } from './network.js';
import { withSharedLocks } from './shared-locks.js';
import { generateEd25519 } from './ssh-keys.js';
import { standinEntry } from './standin-entry.js';
import { type FaultMode, saveState } from './state.js';

export interface HostFaultOptions extends TestbedRef {
  host: string;
}

/** `failHost`'s options: the fault, and its options (jitter: pauseMs, everyMs; slow: cpuPercent). */
export interface FailHostOptions extends HostFaultOptions, RawFaultOptions {
  mode: FaultMode;
}

const KEY = '/etc/ssh/ssh_host_ed25519_key';
const RESTART_SSHD =
  '[ -f /run/sshd.pid ] && kill "$(cat /run/sshd.pid)" 2>/dev/null; ' +
  'for i in $(seq 50); do [ -f /run/sshd.pid ] || break; sleep 0.02; done; /usr/sbin/sshd -E /var/log/sshd.log';

async function hostSh(l: LoadedTestbed, i: number, script: string, params: string[] = []): Promise<void> {
  const h = l.layout.hosts[i]!;
  const r = await inHost(l.layout, h, script, params);
  if (r.code !== 0) {
    throw new AppError(TestbedErrorCode.tool, `on ${h.name}: ${script} exited ${r.code}: ${r.stderr.trim()}`);
  }
}

/** Installs a host key pair inside the Host (through its overlay, as a Host admin would) and restarts sshd. */
async function installHostKey(l: LoadedTestbed, i: number, privateKey: string, publicLine: string) {
  await hostSh(
    l,
    i,
    `umask 077 && printf '%s' "$1" > ${KEY} && printf '%s\\n' "$2" > ${KEY}.pub && chmod 644 ${KEY}.pub && ${RESTART_SSHD}`,
    [privateKey, publicLine],
  );
}

/** Limits the Host to `percent` of one core, every process it has now moved into its cpu group first. */
function throttle(t: TestbedLayout, h: HostLayout, percent: number): void {
  const cpu = ensureCpuCgroup(t.cgroup, h.name);
  try {
    if (cpu) {
      // Hosts join their cpu group when they start; this also catches a Host started before it existed.
      for (const pid of cgroupPids(cgroupDir(t.cgroup, h.name))) {
        try {
          writeFileSync(path.join(cpu, 'cgroup.procs'), String(pid));
        } catch {
          // exited meanwhile
        }
      }
    }
    setCpuLimit(t.cgroup, h.name, percent);
  } catch (err) {
    throw new AppError(
      TestbedErrorCode.prerequisite,
      `cannot limit the CPU of ${h.name}: no usable cgroup cpu controller (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** Lifts what jitter and slow leave behind: the pauser stopped (then the Host thawed), no CPU limit. */
async function clearTimingFaults(t: TestbedLayout, h: HostLayout): Promise<void> {
  await stopJitter(t, h);
  const cpu = cpuCgroupDir(t.cgroup, h.name);
  if (cpu === null || existsSync(cpu)) setCpuLimit(t.cgroup, h.name, null);
}

const sameOptions = (a: FaultOptions | null | undefined, b: FaultOptions | null) =>
  JSON.stringify(a ?? null) === JSON.stringify(b);

export async function failHost(opts: FailHostOptions): Promise<void> {
  const options = parseFaultOptions(opts.mode, opts);
  const l = loadTestbed(opts);
  const i = hostIndex(l, opts.host);
  const rec = l.state.hosts[i]!;
  const h = l.layout.hosts[i]!;
  if (rec.fault && (rec.fault !== opts.mode || !sameOptions(rec.faultOptions, options))) {
    const now = `${rec.fault}${rec.faultOptions ? ` (${describeFaultOptions(rec.faultOptions)})` : ''}`;
    throw new AppError(
      TestbedErrorCode.conflict,
      `${rec.name} already has fault ${now}; heal it first (testbed heal ${rec.name})`,
    );
  }
  if (rec.fault === opts.mode) return;
  switch (opts.mode) {
    // The Manager guest's traffic goes through its Host: its port goes down with the Host's link, and with
    // the Host frozen (a frozen VM answers nothing, not even ARP).
    case 'link-down':
      await setLink(h.veth, false);
      await setGuestLink(h, false);
      break;
    case 'freeze':
      // Between two holds of the shared locks: the testbed has no DLM to recover a frozen holder's (shared-locks.ts).
      await withSharedLocks(l.layout.files.shared, opts.log, () =>
        setFrozen(cgroupDir(l.layout.cgroup, h.name), true),
      );
      await setGuestLink(h, false);
      break;
    case 'sshd-stop':
      await hostSh(l, i, '[ -f /run/sshd.pid ] && kill "$(cat /run/sshd.pid)"; exit 0');
      break;
    case 'hostkey-change': {
      const upper = path.join(h.dir, 'etc.upper', 'ssh', 'ssh_host_ed25519_key');
      copyFileSync(upper, path.join(h.dir, 'hostkey.original'));
      copyFileSync(`${upper}.pub`, path.join(h.dir, 'hostkey.original.pub'));
      const key = generateEd25519(`root@${h.name}`);
      await installHostKey(l, i, key.privateKey, `${key.publicKeyBare} root@${h.name}`);
      rec.hostKey = key.publicKeyBare;
      rec.hostKeyFingerprint = key.fingerprint;
      break;
    }
    case 'jitter':
      rec.helperPid = await startJitter(l.layout, h, options as JitterOptions);
      break;
    case 'slow':
      throttle(l.layout, h, (options as SlowOptions).cpuPercent);
      break;
  }
  rec.fault = opts.mode;
  rec.faultOptions = options;
  saveState(l.layout.files.state, l.state);
  opts.log.info({ host: rec.name, mode: opts.mode, ...options }, 'fault injected');
}

/** Undoes the Host's fault (and makes sure link, processes and sshd are up); a healthy Host is left as is. */
export async function healHost(opts: HostFaultOptions): Promise<void> {
  const l = loadTestbed(opts);
  const i = hostIndex(l, opts.host);
  const rec = l.state.hosts[i]!;
  const h = l.layout.hosts[i]!;
  // The pauser goes before the thaw, so that nothing freezes the Host again after it.
  await clearTimingFaults(l.layout, h);
  setFrozen(cgroupDir(l.layout.cgroup, h.name), false);
  await setLink(h.veth, true);
  if (rec.fault === 'hostkey-change') {
    // Back to the key the testbed installed (the one known_hosts pins), saved when the fault was injected.
    const original = path.join(h.dir, 'hostkey.original');
    const privateKey = readFileSync(original, 'utf8');
    const pub = readFileSync(`${original}.pub`, 'utf8').trim();
    await installHostKey(l, i, privateKey, pub);
    rec.hostKey = pub.split(' ').slice(0, 2).join(' ');
    rmSync(original);
    rmSync(`${original}.pub`);
  }
  await hostSh(
    l,
    i,
    `[ -f /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null || /usr/sbin/sshd -E /var/log/sshd.log`,
  );
  await restoreGuestLink(l.layout, h);
  rec.fault = null;
  rec.faultOptions = null;
  rec.helperPid = null;
  saveState(l.layout.files.state, l.state);
  opts.log.info({ host: rec.name }, 'Host healed');
}

export interface ReplaceResult {
  host: string;
  ip: string;
  hostKeyFingerprint: string;
  flexvdiPublicKey: string;
}

export async function replaceHost(opts: HostFaultOptions): Promise<ReplaceResult> {
  const l = loadTestbed(opts);
  const i = hostIndex(l, opts.host);
  const rec = l.state.hosts[i]!;
  const h = l.layout.hosts[i]!;
  const t = l.layout;
  await clearTimingFaults(t, h);
  await stopHost(t, h);
  await removeMember(h.netns, h.veth);
  // The old machine is gone: so is its part of the cluster state (what the kernel held, its mounts).
  rmSync(path.join(t.files.shared, 'o2cb-online', h.name), { force: true });
  removeMountRecords(t.files.shared, h.name);
  const hostKey = generateEd25519(`root@${h.name}`);
  const flexvdiKey = generateEd25519(`flexvdi@${h.name}`);
  await createNetwork(t, [h], false);
  writeHostFiles({
    t,
    h,
    keys: { hostKey, flexvdiKey },
    productPublicKey: readFileSync(t.files.productPub, 'utf8').trim(),
    accounts: accountFiles(),
    oddBridges: rec.oddBridges,
    machineId: randomBytes(16).toString('hex'),
    disks: l.state.options.disks,
    manager: {
      leaseMs: l.state.options.managerLeaseMs ?? DEFAULT_MANAGER_LEASE_MS,
      entry: await standinEntry(),
    },
  });
  await startHost(t, h, { heartbeatMs: l.state.options.heartbeatIntervalMs });
  Object.assign(rec, {
    hostKey: hostKey.publicKeyBare,
    hostKeyFingerprint: hostKey.fingerprint,
    flexvdiPublicKey: flexvdiKey.publicKey,
    fault: null,
    faultOptions: null,
    helperPid: null,
    generation: rec.generation + 1,
  });
  saveState(t.files.state, l.state);
  opts.log.info({ host: rec.name, fingerprint: hostKey.fingerprint }, 'Host replaced');
  return {
    host: rec.name,
    ip: rec.ip,
    hostKeyFingerprint: hostKey.fingerprint,
    flexvdiPublicKey: flexvdiKey.publicKey,
  };
}

function removeMountRecords(shared: string, host: string): void {
  const mounts = path.join(shared, 'ocfs2-mounts');
  for (const uuid of readdirSync(mounts)) rmSync(path.join(mounts, uuid, host), { force: true });
}
