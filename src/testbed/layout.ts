/**
 * Every name a testbed uses is derived from its name, so two testbeds (say, two test files running at once)
 * never collide and a crashed run can be swept by prefix even if its state file was never written:
 *
 *   tag      = first 4 hex digits of sha256(name)            e.g. "3f2a"
 *   bridge   = fvtb<tag>          (root namespace, holds the gateway 10.230.<octet>.1/24)
 *   netns    = fvtb-<tag>-<host>  and fvtb-<tag>-manager
 *   veth     = fvtb<tag>h<n>      and fvtb<tag>m   (≤ 15 characters, the kernel's limit)
 *              fvtb<tag>g<n>      the bridge port of the Manager guest's NIC while it runs on host<n>
 *   cgroup   = fvtb-<tag>/<host>  (freezer)
 *   addresses: .1 gateway (this machine), .2 Manager stand-in, .11… Hosts (hostN = .10+N)
 *
 * The subnet octet is chosen when the testbed is created (see registry.ts) and kept in its state.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

export const TESTBED_DOMAIN = 'flexvdi.test';
export const SUBNET_PREFIX = '10.230';
export const MAX_HOSTS = 64;
export const DEFAULT_NAME = 'default';
/** Lower-case letters, digits and "-": safe in paths, netns names, Redis prefixes and shell words. */
export const testbedNameRe = /^[a-z0-9][a-z0-9-]{0,29}$/;

export interface HostLayout {
  /** 1-based position: host<index>. */
  index: number;
  name: string;
  fqdn: string;
  ip: string;
  netns: string;
  /** Root-namespace end of the Host's veth pair (the Host's end is eth0). */
  veth: string;
  /** Root-namespace end of the Manager guest's NIC while the guest runs on this Host (guest.ts). */
  guestVeth: string;
  /** Per-Host folder: overlay upper dirs, /root, /home, /tmp, /var/log, logs. */
  dir: string;
}

export interface TestbedFiles {
  state: string;
  inventory: string;
  knownHosts: string;
  productKey: string;
  productPub: string;
  managerPassword: string;
  /** `{username,password}` JSON the Hosts' heartbeat agents log in with (mode 600). */
  agentAuth: string;
  managerState: string;
  managerLog: string;
  /** Testbed-wide folder every Host sees at /var/lib/flexvdi-testbed (o2cb and OCFS2 emulation state). */
  shared: string;
  disks: string;
  /** Small executable wrappers bind-mounted over the kernel-bound tools on each Host. */
  bin: string;
}

export interface TestbedLayout {
  name: string;
  tag: string;
  octet: number;
  stateDir: string;
  gateway: string;
  managerIp: string;
  prefixLength: 24;
  bridge: string;
  managerNetns: string;
  managerVeth: string;
  /**
   * The bridge's own MAC, set when it is made. Left to the kernel, a bridge takes the lowest MAC of its ports
   * and changes it whenever a port comes or goes (a Manager guest started or stopped, a Host replaced): every
   * Host's ARP entry for the gateway then points at a MAC nobody answers to, and all Hosts go silent at once
   * towards this machine until their entries expire (tens of seconds).
   */
  bridgeMac: string;
  /** The Manager guest's MAC, the same on whichever Host it runs (a VM keeps its MAC). */
  managerMac: string;
  cgroup: string;
  files: TestbedFiles;
  hosts: HostLayout[];
}

export function tagOf(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 4);
}

/** Preferred subnet octet for a name (1–250); the registry probes onwards when it is taken. */
export function preferredOctet(name: string): number {
  return (
    (Number.parseInt(createHash('sha256').update(`subnet:${name}`).digest('hex').slice(0, 6), 16) % 250) + 1
  );
}

export const hostName = (index: number): string => `host${index}`;

export function stateDirOf(name: string, stateRoot: string): string {
  return path.join(stateRoot, name);
}

export function hostLayout(t: Pick<TestbedLayout, 'tag' | 'octet' | 'stateDir'>, index: number): HostLayout {
  const name = hostName(index);
  return {
    index,
    name,
    fqdn: `${name}.${TESTBED_DOMAIN}`,
    ip: `${SUBNET_PREFIX}.${t.octet}.${10 + index}`,
    netns: `fvtb-${t.tag}-${name}`,
    veth: `fvtb${t.tag}h${index}`,
    guestVeth: `fvtb${t.tag}g${index}`,
    dir: path.join(t.stateDir, 'hosts', name),
  };
}

export function layoutFor(name: string, stateDir: string, octet: number, hostCount: number): TestbedLayout {
  const tag = tagOf(name);
  const f = (...p: string[]) => path.join(stateDir, ...p);
  const base = { tag, octet, stateDir };
  return {
    name,
    tag,
    octet,
    stateDir,
    gateway: `${SUBNET_PREFIX}.${octet}.1`,
    managerIp: `${SUBNET_PREFIX}.${octet}.2`,
    prefixLength: 24,
    bridge: `fvtb${tag}`,
    managerNetns: `fvtb-${tag}-manager`,
    managerVeth: `fvtb${tag}m`,
    bridgeMac: `52:54:00:${tag.slice(0, 2)}:${tag.slice(2, 4)}:01`,
    managerMac: `52:54:00:${tag.slice(0, 2)}:${tag.slice(2, 4)}:02`,
    cgroup: `fvtb-${tag}`,
    files: {
      state: f('state.json'),
      inventory: f('inventory.yaml'),
      knownHosts: f('known_hosts'),
      productKey: f('keys', 'id_ed25519'),
      productPub: f('keys', 'id_ed25519.pub'),
      managerPassword: f('manager', 'password'),
      agentAuth: f('manager', 'agent-auth.json'),
      managerState: f('manager', 'state.json'),
      managerLog: f('manager', 'manager.log'),
      shared: f('shared'),
      disks: f('disks'),
      bin: f('bin'),
    },
    hosts: Array.from({ length: hostCount }, (_, i) => hostLayout(base, i + 1)),
  };
}

/**
 * Shared disk i as every Host sees it: a sparse image attached to a loop device once per `up`, the Host's
 * /dev/sd<b+i> a node with that loop device's major:minor, and two /dev/disk/by-id links to it as udev makes
 * for a SAN LUN — `scsi-3<NAA>` and `wwn-0x<NAA>`, the same NAA-5 name (OUI 001405, the Linux SCSI target's,
 * then the testbed's tag and the disk's index), so ids are stable per testbed name and differ between
 * testbeds.
 */
export function diskPaths(t: Pick<TestbedLayout, 'tag' | 'files'>, i: number) {
  const dev = `sd${String.fromCharCode('b'.charCodeAt(0) + i)}`;
  const naa = `5001405${t.tag.padStart(4, '0').slice(-4)}${i.toString(16).padStart(5, '0')}`;
  return {
    image: path.join(t.files.disks, `shared${i}.img`),
    dev: `/dev/${dev}`,
    byId: `/dev/disk/by-id/scsi-3${naa}`,
    wwn: `/dev/disk/by-id/wwn-0x${naa}`,
  };
}
