/**
 * The Manager stand-in as a guest of a testbed Host (`testbedUp({ manager: { on: 'host1' } })`, the CLI's
 * default), the way a flexVDI Manager VM runs on one Host of its cluster:
 *
 * - every Host gets `/etc/flexvdi/manager.conf` (`DISK=`, `ADDRESS=`, `LEASE_MS=`) and `/usr/sbin/flexvdi-manager`
 *   (scripts/flexvdi-manager.sh: status | start | stop), the contract the product drives the Manager through;
 * - the Manager's disk image — the stand-in's state file, which also carries its login, TLS identity and
 *   fail_threshold (manager/state.ts `ImageIdentity`) — is installed on the local storage of the Host it starts
 *   on (`/var/lib/flexvdi/manager/flexvdi-manager.img` in that Host's own /var/lib);
 * - `flexvdi-manager start` runs the stand-in inside the Host (its mount, PID, freezer and cpu groups) with a
 *   network of its own: a namespace with a veth whose other end (`fvtb<tag>g<n>`) is a port of the testbed
 *   bridge, the Manager's address and one MAC wherever it runs;
 * - the guest's traffic goes through its Host: `link-down` and `freeze` of the Host take the guest's port
 *   down too; `heal` brings it back only while the guest still holds the Manager's lease (a thawed old
 *   instance that lost it never gets its port back, and exits by itself).
 *
 * The testbed-side facts the tool needs (the bridge, the port name, the MAC, the stand-in program) are in the
 * Host's `/run/flexvdi-testbed/guest.env`; the handle on this machine's network namespace, which the guest's
 * port is plugged into, is `/run/flexvdi-testbed/root.netns` (host-init.sh).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';
import { run } from './exec.js';
import { holderPid, inHost } from './host-process.js';
import type { HostLayout, TestbedLayout } from './layout.js';
import { freshImageText, type ImageIdentity, LOCAL_MANAGER_DISK } from './manager/state.js';
import { generateCertificate } from './manager/tls.js';
import { visibleInHosts } from './paths.js';
import { MANAGER_USERNAME } from './standin.js';
import { writeFileAtomic } from './state.js';

export const MANAGER_CONF = '/etc/flexvdi/manager.conf';
export const DEFAULT_MANAGER_LEASE_MS = 20_000;
const GUEST_PIDFILE = '/run/flexvdi-manager.pid';
const LEASE_NAME = 'flexvdi-manager.lease';

/** What every Host's guest files need from `up` (or `replace`). */
export interface GuestHostConfig {
  leaseMs: number;
  /** The stand-in's entry file (standin-entry.ts), which must be visible inside the Hosts. */
  entry: string;
}

export function managerConfText(t: TestbedLayout, leaseMs: number, disk = LOCAL_MANAGER_DISK): string {
  return [
    '# The flexVDI Manager guest (flexvdi-manager). DISK: its disk image as this Host sees it (rewritten after a',
    '# move); ADDRESS: its IP; LEASE_MS: how long its lease lasts without renewal.',
    `DISK=${disk}`,
    `ADDRESS=${t.managerIp}`,
    `LEASE_MS=${leaseMs}`,
    '',
  ].join('\n');
}

export function guestEnvText(t: TestbedLayout, h: HostLayout, entry: string): string {
  return [
    '# flexvdi-testbed: the Manager guest\'s "hardware" on this Host (read by flexvdi-manager)',
    `TB_FQDN=${h.fqdn}`,
    `TB_GUEST_VETH=${h.guestVeth}`,
    `TB_BRIDGE=${t.bridge}`,
    `TB_PREFIX=${t.prefixLength}`,
    `TB_GATEWAY=${t.gateway}`,
    `TB_GUEST_MAC=${t.managerMac}`,
    `TB_NODE=${process.execPath}`,
    `TB_STANDIN=${entry}`,
    '',
  ].join('\n');
}

/** The Host's manager.conf (its /etc overlay) and guest.env (its /run), written before it starts. */
export function writeGuestHostFiles(t: TestbedLayout, h: HostLayout, c: GuestHostConfig): void {
  writeFileAtomic(path.join(h.dir, 'etc.upper', 'flexvdi', 'manager.conf'), managerConfText(t, c.leaseMs));
  writeFileAtomic(path.join(h.dir, 'run', 'flexvdi-testbed', 'guest.env'), guestEnvText(t, h, c.entry));
}

export function checkGuestEntry(entry: string): void {
  if (!visibleInHosts(entry) || !visibleInHosts(process.execPath)) {
    throw new AppError(
      TestbedErrorCode.prerequisite,
      `the Manager guest runs ${process.execPath} ${entry} inside a Host, which cannot see that path ` +
        '(it has its own /tmp, /root, /home, /run, /var/log): use a checkout and a node outside them, or --manager-on standalone',
    );
  }
}

/** A fresh image (identity from the password file and a new certificate); returns the pinned fingerprint. */
export async function makeManagerImage(
  t: TestbedLayout,
  failThresholdMs: number,
): Promise<{ text: string; cert: string }> {
  const password = readFileSync(t.files.managerPassword, 'utf8').trim();
  const tls = await generateCertificate(t.managerIp);
  const identity: ImageIdentity = {
    username: MANAGER_USERNAME,
    password_sha256: createHash('sha256').update(password, 'utf8').digest('hex'),
    tls,
    fail_threshold_ms: failThresholdMs,
  };
  return { text: freshImageText(identity), cert: tls.cert };
}

/** Installs the image on the Host's local storage (its own /var/lib), before the Host starts. */
export function installManagerImage(h: HostLayout, imageText: string): void {
  writeFileAtomic(
    path.join(h.dir, 'varlib.upper', LOCAL_MANAGER_DISK.replace(/^\/var\/lib\//, '')),
    imageText,
    0o600,
  );
}

/** `flexvdi-manager start` on the Host, as the product would run it. */
export async function startManagerGuest(t: TestbedLayout, h: HostLayout): Promise<void> {
  const r = await inHost(t, h, 'flexvdi-manager start', [], 60_000);
  if (r.code !== 0) {
    throw new AppError(
      TestbedErrorCode.startFailed,
      `the Manager guest did not start on ${h.name} (exit ${r.code}): ${r.stderr.trim()}`,
    );
  }
}

export async function setGuestLink(h: HostLayout, up: boolean): Promise<void> {
  await run('ip', ['link', 'set', 'dev', h.guestVeth, up ? 'up' : 'down']);
}

/** After a heal: the guest's port comes back only while the guest runs here and holds a live lease. */
export async function restoreGuestLink(t: TestbedLayout, h: HostLayout): Promise<void> {
  if ((await run('ip', ['link', 'show', 'dev', h.guestVeth])).code !== 0) return;
  const r = await inHost(t, h, 'flexvdi-manager status');
  const kv = parseKeyValues(r.stdout);
  const live =
    r.code === 0 &&
    kv['state'] === 'running' &&
    kv['lease_owner'] === h.fqdn &&
    Number(kv['lease_expires_ms']) > Date.now();
  if (live) await setGuestLink(h, true);
}

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface GuestWhereabouts {
  /** The Host whose guest serves: alive there and holding the lease (else the only live one); null: none. */
  runningOn: string | null;
  /** Every Host with a live guest process, frozen or not (more than one only while an old one has yet to exit). */
  instances: string[];
  /** The lease next to the disk image the serving guest runs from (or the newest any Host sees). */
  lease: { owner: string; expiresMs: number; expired: boolean } | null;
}

type Lease = NonNullable<GuestWhereabouts['lease']>;

/**
 * Where the guest runs and who holds the lease, read from outside through each Host's holder
 * (/proc/<holder>/root: works while a Host is frozen, where nothing can run inside it).
 */
export function guestWhereabouts(t: TestbedLayout): GuestWhereabouts {
  const seen: Array<{ host: HostLayout; live: boolean; lease: Lease | null }> = [];
  for (const h of t.hosts) {
    const holder = holderPid(t, h);
    if (holder === null) continue;
    const read = (f: string) => {
      try {
        return readFileSync(path.join(`/proc/${holder}/root`, f), 'utf8');
      } catch {
        return null;
      }
    };
    const pid = read(GUEST_PIDFILE)?.trim() ?? '';
    const live = /^\d+$/.test(pid) && (read(`proc/${pid}/cmdline`) ?? '').includes('manager/main');
    const disk = parseKeyValues(read(MANAGER_CONF) ?? '')['DISK'];
    const kv = disk ? parseKeyValues(read(path.join(path.dirname(disk), LEASE_NAME)) ?? '') : {};
    const expiresMs = Number(kv['expires_ms']);
    const lease =
      kv['owner'] && Number.isFinite(expiresMs)
        ? { owner: kv['owner'], expiresMs, expired: expiresMs <= Date.now() }
        : null;
    seen.push({ host: h, live, lease });
  }
  const live = seen.filter((x) => x.live);
  const serving = live.find((x) => x.lease?.owner === x.host.fqdn && !x.lease.expired) ?? live[0];
  const newest = seen
    .map((x) => x.lease)
    .filter((l): l is Lease => l !== null)
    .sort((a, b) => b.expiresMs - a.expiresMs)[0];
  return {
    runningOn: serving?.host.name ?? null,
    instances: live.map((x) => x.host.name),
    lease: serving?.lease ?? newest ?? null,
  };
}
