/**
 * `testbed up`: a flexVDI cluster on this machine — N Hosts (namespaces, sshd, own /etc…), shared disks, the
 * Manager stand-in — and the inventory that hands it to the product. Idempotent: a running testbed of the
 * same shape is reported, not rebuilt; one of another shape is refused; leftovers of a crashed run are swept
 * first. The state file is written before anything is made; a failing `up` removes what it made.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { AppError } from '../errors.js';
import { cgroupDir, cgroupPids } from './cgroup.js';
import { attachDisks, parseSize, writeCommonFiles, writeDeviceSkeleton } from './common-files.js';
import { layoutOfState, resolveRef, type TestbedRef } from './context.js';
import { testbedDown } from './down.js';
import { TestbedErrorCode } from './errors.js';
import { mapLimit, run } from './exec.js';
import {
  checkGuestEntry,
  DEFAULT_MANAGER_LEASE_MS,
  installManagerImage,
  makeManagerImage,
  startManagerGuest,
} from './guest.js';
import { accountFiles, type HostKeys, writeHostFiles } from './host-files.js';
import { holderPid, startHost } from './host-process.js';
import { writeInventory, writeKnownHosts } from './inventory.js';
import { layoutFor, MAX_HOSTS } from './layout.js';
import { fingerprintOf } from './manager/tls.js';
import { configureManagerNetns, createNetwork } from './network.js';
import { generateEd25519 } from './ssh-keys.js';
import { ensureManagerCredentials, type StandinInfo, startStandin } from './standin.js';
import { standinEntry } from './standin-entry.js';
import {
  claimRegistry,
  type HostRecord,
  readState,
  saveState,
  type TestbedState,
  writeFileAtomic,
} from './state.js';

export interface TestbedUpOptions extends TestbedRef {
  /** Number of Hosts, 1–64 (default 3). */
  hosts?: number;
  /** Hosts whose virtual bridges differ from the others' (registration preflight). */
  oddBridges?: string[];
  /** Size of each shared disk image, sparse (default "2G": enough for mkfs.ocfs2 -T vmstore). */
  diskSize?: string;
  /** Number of shared disks (default 1). */
  disks?: number;
  /** The Manager stand-in's fail_threshold (default 60000 ms, the Manager's default). */
  failThresholdMs?: number;
  /** Heartbeat period of each registered Host's agent (default 2000 ms). */
  heartbeatIntervalMs?: number;
  /**
   * Where the Manager stand-in runs: standalone (default here; the CLI's default is `{ on: 'host1' }`) in its
   * own namespace, or as the guest of a Host (guest.ts: inside it, from its disk image, holding a lease).
   */
  manager?: 'standalone' | { on: string };
  /** The Manager guest's lease time (default 20000 ms; renewed every quarter of it). */
  managerLeaseMs?: number;
}

export interface TestbedInfo {
  name: string;
  stateDir: string;
  inventoryPath: string;
  managerUrl: string;
  hosts: Array<{ name: string; fqdn: string; ip: string }>;
  /** False when `up` found the testbed already running and changed nothing. */
  created: boolean;
}

const REQUIRED_TOOLS = [
  'ip',
  'unshare',
  'nsenter',
  'sshd',
  'mkfs.ocfs2',
  'debugfs.ocfs2',
  'curl',
  'modprobe',
  'flock',
  'losetup',
];
const HOST_START_CONCURRENCY = 8;

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new AppError(TestbedErrorCode.prerequisite, 'the testbed needs root (namespaces, mounts, bridges)');
  }
  const r = await run('bash', [
    '-c',
    'for t; do command -v "$t" >/dev/null || echo "$t"; done',
    'check',
    ...REQUIRED_TOOLS,
  ]);
  const missing = r.stdout.split('\n').filter(Boolean);
  if (missing.length) {
    throw new AppError(
      TestbedErrorCode.prerequisite,
      `missing programs: ${missing.join(', ')}; install: apt-get install -y openssh-server ocfs2-tools kmod iproute2 curl util-linux`,
    );
  }
}

function normalise(o: TestbedUpOptions) {
  const hosts = o.hosts ?? 3;
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
    throw new AppError(TestbedErrorCode.invalidOptions, `--hosts must be 1–${MAX_HOSTS}, got ${hosts}`);
  }
  const disks = o.disks ?? 1;
  if (!Number.isInteger(disks) || disks < 1 || disks > 8) {
    throw new AppError(TestbedErrorCode.invalidOptions, `--disks must be 1–8, got ${disks}`);
  }
  const oddBridges = [...new Set(o.oddBridges ?? [])].sort();
  for (const h of oddBridges) {
    if (!/^host\d+$/.test(h) || Number(h.slice(4)) < 1 || Number(h.slice(4)) > hosts) {
      throw new AppError(
        TestbedErrorCode.invalidOptions,
        `--odd-bridges ${h}: no such Host (host1…host${hosts})`,
      );
    }
  }
  const diskSize = o.diskSize ?? '2G';
  parseSize(diskSize);
  const failThresholdMs = o.failThresholdMs ?? 60_000;
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 2000;
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 100 || heartbeatIntervalMs > 60_000) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `--heartbeat-ms must be 100–60000, got ${heartbeatIntervalMs}`,
    );
  }
  if (!Number.isInteger(failThresholdMs) || failThresholdMs < heartbeatIntervalMs) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `--fail-threshold-ms must be at least the heartbeat period (${heartbeatIntervalMs} ms), got ${failThresholdMs}`,
    );
  }
  const managerOn = o.manager === undefined || o.manager === 'standalone' ? 'standalone' : o.manager.on;
  if (
    managerOn !== 'standalone' &&
    !(/^host\d+$/.test(managerOn) && Number(managerOn.slice(4)) >= 1 && Number(managerOn.slice(4)) <= hosts)
  ) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `--manager-on ${managerOn}: no such Host (host1…host${hosts}, or standalone)`,
    );
  }
  const managerLeaseMs = o.managerLeaseMs ?? DEFAULT_MANAGER_LEASE_MS;
  if (!Number.isInteger(managerLeaseMs) || managerLeaseMs < 1000 || managerLeaseMs > 600_000) {
    throw new AppError(
      TestbedErrorCode.invalidOptions,
      `--manager-lease-ms must be 1000–600000, got ${managerLeaseMs}`,
    );
  }
  return {
    hosts,
    oddBridges,
    diskSize,
    disks,
    failThresholdMs,
    heartbeatIntervalMs,
    managerOn,
    managerLeaseMs,
  };
}

/**
 * A recorded testbed whose every Host holder is alive, and its standalone Manager (a guest Manager's life —
 * stopped, moved, failed over — is the product's business, not a sign of a broken testbed).
 */
function isRunning(s: TestbedState): boolean {
  if (s.phase !== 'up') return false;
  const t = layoutOfState(s);
  const standalone = (s.options.managerOn ?? 'standalone') === 'standalone';
  return (
    (!standalone || cgroupPids(cgroupDir(t.cgroup, 'manager')).length > 0) &&
    t.hosts.every((h) => holderPid(t, h) !== null)
  );
}

function info(s: TestbedState, created: boolean): TestbedInfo {
  const t = layoutOfState(s);
  return {
    name: s.name,
    stateDir: s.stateDir,
    inventoryPath: t.files.inventory,
    managerUrl: s.manager?.url ?? '',
    hosts: s.hosts.map(({ name, fqdn, ip }) => ({ name, fqdn, ip })),
    created,
  };
}

export async function testbedUp(opts: TestbedUpOptions): Promise<TestbedInfo> {
  const { name, stateDir } = resolveRef(opts);
  const options = normalise(opts);
  const log = opts.log.child({ testbed: name });
  await checkPrerequisites();

  const existing = readState(layoutFor(name, stateDir, 0, 0).files.state);
  if (existing && isRunning(existing)) {
    const same = JSON.stringify(existing.options) === JSON.stringify(options);
    if (!same) {
      throw new AppError(
        TestbedErrorCode.conflict,
        `testbed "${name}" is running with ${JSON.stringify(existing.options)}; ` +
          `run \`testbed down --name ${name}\` first to change it to ${JSON.stringify(options)}`,
      );
    }
    log.info({ stateDir }, 'testbed already up');
    return info(existing, false);
  }
  // Whatever a crashed or half-finished run left (state, namespaces, processes) goes first.
  const swept = await testbedDown({ ...opts, name });
  if (swept.removed) log.warn('removed the remains of a testbed that was not fully running');

  const started = Date.now();
  const octet = claimRegistry(name, stateDir);
  const t = layoutFor(name, stateDir, octet, options.hosts);
  const productKey = generateEd25519(`flexvdi-chatops@testbed-${name}`);
  const keys: HostKeys[] = t.hosts.map((h) => ({
    hostKey: generateEd25519(`root@${h.name}`),
    flexvdiKey: generateEd25519(`flexvdi@${h.name}`),
  }));
  const state: TestbedState = {
    version: 1,
    name,
    tag: t.tag,
    octet,
    stateDir,
    phase: 'creating',
    createdAt: new Date().toISOString(),
    options,
    hosts: t.hosts.map(
      (h, i): HostRecord => ({
        name: h.name,
        fqdn: h.fqdn,
        ip: h.ip,
        hostKey: keys[i]!.hostKey.publicKeyBare,
        hostKeyFingerprint: keys[i]!.hostKey.fingerprint,
        flexvdiPublicKey: keys[i]!.flexvdiKey.publicKey,
        oddBridges: options.oddBridges.includes(h.name),
        fault: null,
        generation: 0,
      }),
    ),
    manager: null,
  };
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    saveState(t.files.state, state);
    writeFileAtomic(t.files.productKey, productKey.privateKey, 0o600);
    writeFileAtomic(t.files.productPub, `${productKey.publicKey}\n`);
    ensureManagerCredentials(t);
    const guestOn =
      options.managerOn === 'standalone' ? null : t.hosts[Number(options.managerOn.slice(4)) - 1]!;
    const entry = await standinEntry();
    if (guestOn) checkGuestEntry(entry);
    const image = guestOn ? await makeManagerImage(t, options.failThresholdMs) : null;
    writeCommonFiles(t, options.disks, parseSize(options.diskSize));
    await writeDeviceSkeleton(t);
    await attachDisks(t, options.disks);
    await createNetwork(t, t.hosts, !guestOn);
    const manager: Promise<StandinInfo | null> = guestOn
      ? Promise.resolve(null)
      : configureManagerNetns(t).then(() => startStandin(t, options.failThresholdMs));
    manager.catch(() => undefined); // awaited below; a failure must not go unhandled while Hosts start
    const accounts = accountFiles();
    const rt = { heartbeatMs: options.heartbeatIntervalMs };
    await mapLimit(t.hosts, HOST_START_CONCURRENCY, async (h, i) => {
      writeHostFiles({
        t,
        h,
        keys: keys[i]!,
        productPublicKey: productKey.publicKey,
        accounts,
        oddBridges: state.hosts[i]!.oddBridges,
        machineId: randomBytes(16).toString('hex'),
        disks: options.disks,
        manager: { leaseMs: options.managerLeaseMs, entry },
      });
      if (h === guestOn && image) installManagerImage(h, image.text);
      await startHost(t, h, rt);
    });
    const standalone = await manager;
    if (guestOn && image) {
      await startManagerGuest(t, guestOn);
      state.manager = {
        url: `https://${t.managerIp}`,
        fingerprint256: fingerprintOf(image.cert),
        mode: 'guest',
      };
    } else if (standalone) {
      state.manager = { ...standalone, mode: 'standalone' };
    }
    writeKnownHosts(t, state.hosts);
    writeInventory(t, state);
    state.phase = 'up';
    saveState(t.files.state, state);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'testbed up failed; removing what was made');
    await testbedDown({ ...opts, name }).catch((e: unknown) =>
      log.error({ err: (e as Error).message }, 'cleanup after failed up also failed'),
    );
    throw err;
  }
  log.info({ hosts: options.hosts, ms: Date.now() - started, inventory: t.files.inventory }, 'testbed up');
  return info(state, true);
}
