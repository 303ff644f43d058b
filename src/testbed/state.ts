/**
 * A testbed's record of itself (`<stateDir>/state.json`), written before anything is made so a crashed
 * `up` can be finished off by the next `up`/`down`; and the machine-wide registry of running testbeds in
 * /run/flexvdi-testbed (which names and subnets are taken), claimed with O_EXCL files so two `up`s racing
 * (two test files) cannot take the same subnet.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';
import type { FaultOptions } from './fault-options.js';
import { preferredOctet, SUBNET_PREFIX, tagOf } from './layout.js';
import { registryDir } from './paths.js';

export type FaultMode = 'link-down' | 'freeze' | 'sshd-stop' | 'hostkey-change' | 'jitter' | 'slow';
export const FAULT_MODES: readonly FaultMode[] = [
  'link-down',
  'freeze',
  'sshd-stop',
  'hostkey-change',
  'jitter',
  'slow',
];

export interface HostRecord {
  name: string;
  fqdn: string;
  ip: string;
  /** `ssh-ed25519 AAAA…` of the host key the testbed installed (what known_hosts pins). */
  hostKey: string;
  hostKeyFingerprint: string;
  /** The flexvdi user's public key (what the Manager registers). */
  flexvdiPublicKey: string;
  oddBridges: boolean;
  fault: FaultMode | null;
  /** The options of the fault (jitter, slow); absent or null for the others. */
  faultOptions?: FaultOptions | null;
  /** The jitter fault's pauser process (jitter.ts); absent or null otherwise. */
  helperPid?: number | null;
  /** 0 for the Host made by `up`; +1 per `replace`. */
  generation: number;
}

export interface TestbedOptionsRecord {
  hosts: number;
  oddBridges: string[];
  diskSize: string;
  disks: number;
  failThresholdMs: number;
  heartbeatIntervalMs: number;
  /** Where the Manager stand-in started: "standalone" (its own namespace) or the Host it is a guest of. */
  managerOn?: string;
  /** The Manager guest's lease time (manager.conf LEASE_MS). */
  managerLeaseMs?: number;
}

export interface TestbedState {
  version: 1;
  name: string;
  tag: string;
  octet: number;
  stateDir: string;
  phase: 'creating' | 'up' | 'removing';
  createdAt: string;
  options: TestbedOptionsRecord;
  hosts: HostRecord[];
  manager: { url: string; fingerprint256: string; mode?: 'standalone' | 'guest' } | null;
}

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readState(file: string): TestbedState | null {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as TestbedState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

export function saveState(file: string, state: TestbedState): void {
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

interface RegistryEntry {
  name: string;
  stateDir: string;
  octet: number;
}

const entryFile = (tag: string) => path.join(registryDir, `${tag}.json`);
const octetFile = (octet: number) => path.join(registryDir, `octet-${octet}`);

function createExclusive(file: string, text: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, text);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export function readRegistry(): Array<RegistryEntry & { tag: string }> {
  let names: string[] = [];
  try {
    names = readdirSync(registryDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^[0-9a-f]{4}\.json$/.test(n))
    .flatMap((n) => {
      try {
        return [
          {
            tag: n.slice(0, 4),
            ...(JSON.parse(readFileSync(path.join(registryDir, n), 'utf8')) as RegistryEntry),
          },
        ];
      } catch {
        return [];
      }
    });
}

/** IPv4 subnets (third octet of 10.230.x.0/24) already configured on this machine's interfaces. */
function octetsInUse(): Set<number> {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const used = new Set<number>();
  const re = new RegExp(`inet ${SUBNET_PREFIX.replace('.', '\\.')}\\.(\\d+)\\.`, 'g');
  for (const m of out.matchAll(re)) used.add(Number(m[1]));
  return used;
}

/**
 * Claims the name's tag and a free subnet octet for `name`, or returns the existing claim when this testbed
 * already holds one (idempotent `up`, crash recovery). Throws `testbed.conflict` when another testbed name
 * maps to the same tag or holds the claim from another state folder.
 */
export function claimRegistry(name: string, stateDir: string): number {
  mkdirSync(registryDir, { recursive: true });
  const tag = tagOf(name);
  const existing = readRegistry().find((e) => e.tag === tag);
  if (existing) {
    if (existing.name !== name || existing.stateDir !== stateDir) {
      throw new AppError(
        TestbedErrorCode.conflict,
        `testbed "${name}" (${stateDir}) clashes with running testbed "${existing.name}" (${existing.stateDir}); ` +
          `bring that one down or pick another name`,
      );
    }
    return existing.octet;
  }
  const used = octetsInUse();
  const start = preferredOctet(name);
  for (let i = 0; i < 250; i++) {
    const octet = ((start - 1 + i) % 250) + 1;
    if (used.has(octet)) continue;
    if (!createExclusive(octetFile(octet), tag)) continue;
    if (!createExclusive(entryFile(tag), JSON.stringify({ name, stateDir, octet }))) {
      rmSync(octetFile(octet), { force: true });
      return claimRegistry(name, stateDir);
    }
    return octet;
  }
  throw new AppError(
    TestbedErrorCode.conflict,
    `no free ${SUBNET_PREFIX}.x.0/24 subnet left for testbed "${name}"`,
  );
}

/** The octet a testbed holds (null when it holds none). */
export function registeredOctet(name: string): number | null {
  const e = readRegistry().find((r) => r.tag === tagOf(name) && r.name === name);
  return e ? e.octet : null;
}

export function releaseRegistry(name: string): void {
  const tag = tagOf(name);
  const e = readRegistry().find((r) => r.tag === tag);
  if (!e || e.name !== name) return;
  rmSync(octetFile(e.octet), { force: true });
  rmSync(entryFile(tag), { force: true });
}
