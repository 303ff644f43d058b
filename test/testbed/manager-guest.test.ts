/**
 * The Manager stand-in as the guest of a Host, driven only through the Host-side contract the product uses
 * (/etc/flexvdi/manager.conf + `flexvdi-manager status|start|stop` over real SSH): it runs inside host1, at its
 * own address, from its disk image on host1's local storage; moved onto a folder every Host shares, it fails
 * over to host2 once host1 is frozen and the lease ran out, and the thawed old instance never answers again.
 * Test-scoped testbed "tb-mg" with a short lease (LEASE_MS).
 *
 * The shared storage here is honest but not OCFS2: a folder of the testbed-wide shared folder (the same files
 * on every Host, as an OCFS2 volume's are) bind-mounted on each Host at /var/lib/flexvdi/image-storages/mgtest
 * with the real mount(8) — setting up a cluster and an emulated OCFS2 volume would test the storage plugin,
 * not the Manager's failover. flock on those files is flock on the same inodes from every Host.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Inventory, Secret } from '../../src/config.js';
import { createManagerClient, type ManagerClient } from '../../src/manager/index.js';
import {
  failHost,
  healHost,
  runOnHost,
  type TestbedInfo,
  testbedCli,
  testbedDown,
  testbedStatus,
  testbedUp,
} from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { poll } from '../support/poll.js';
import { leftovers, loadInventory, quietLog, type Ran, runCmd, ssh } from './helpers.js';

const NAME = 'tb-mg';
const LEASE_MS = 4000;
const ref = { name: NAME, log: quietLog };
const LOCAL_DISK = '/var/lib/flexvdi/manager/flexvdi-manager.img';
const SHARED_DIR = '/var/lib/flexvdi/image-storages/mgtest';
const SHARED_DISK = `${SHARED_DIR}/flexvdi-manager.img`;
const fqdn = (host: string) => `${host}.flexvdi.test`;

let tb: TestbedInfo;
let inv: Inventory;
let manager: ManagerClient;
let address: string;

const kv = (text: string) =>
  Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;

/** `flexvdi-manager status` on a Host, over SSH as the product runs it. */
async function mgrStatus(host: string): Promise<Record<string, string>> {
  const r = await ssh(inv, host, 'flexvdi-manager status');
  expect(r.code, r.stderr).toBe(0);
  return kv(r.stdout);
}

const mgr = (host: string, cmd: 'start' | 'stop'): Promise<Ran> => ssh(inv, host, `flexvdi-manager ${cmd}`);

/**
 * Which instance answers at `url` (its x-flexvdi-manager-host header), or null when nothing does. `inGuestOf`:
 * asked from inside that Host's guest namespace (straight to that instance, not through the bridge).
 */
async function whoAnswers(inGuestOf?: string): Promise<string | null> {
  const curl = ['-sk', '-o', '/dev/null', '-D', '-', '--connect-timeout', '1', '--max-time', '2'];
  let out: string;
  if (inGuestOf) {
    const r = await runOnHost(
      { ...ref, host: inGuestOf },
      'ip netns list | grep -q "^flexvdi-manager\\b" || exit 0; ip netns exec flexvdi-manager curl "$@"; exit 0',
      [...curl, `https://${address}/hosts`],
    );
    out = r.stdout;
  } else {
    out = (await runCmd('curl', [...curl, `https://${address}/hosts`])).stdout;
  }
  const m = /^x-flexvdi-manager-host: (\S+)/im.exec(out);
  return m ? m[1]! : null;
}

/** Rewrites DISK in manager.conf on every Host, atomically, as the product does after a move. */
async function pointDiskAt(disk: string): Promise<void> {
  for (const h of ['host1', 'host2']) {
    const r = await ssh(
      inv,
      h,
      `sed "s|^DISK=.*|DISK=${disk}|" /etc/flexvdi/manager.conf > /etc/flexvdi/manager.conf.tmp && mv /etc/flexvdi/manager.conf.tmp /etc/flexvdi/manager.conf`,
    );
    expect(r.code, r.stderr).toBe(0);
  }
}

const linkExists = async (name: string) => (await runCmd('ip', ['link', 'show', 'dev', name])).code === 0;
const guestNetnsOn = async (host: string) =>
  (await runOnHost({ ...ref, host }, 'ip netns list')).stdout.includes('flexvdi-manager');

beforeAll(async () => {
  tb = await testbedUp({ ...ref, hosts: 2, manager: { on: 'host1' }, managerLeaseMs: LEASE_MS });
  inv = loadInventory(tb.inventoryPath);
  address = new URL(inv.manager.url).hostname;
  manager = createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: () => new Secret(readFileSync(inv.manager.password.file!, 'utf8').trim()),
    tls: { fingerprint256: inv.manager.tls.fingerprint256 },
    timeoutMs: 3000,
    log: quietLog,
  });
}, 120_000);

afterAll(async () => {
  await manager?.logout();
  await testbedDown(ref);
});

describe('the Manager as the guest of host1', () => {
  it('answers at its own address from inside host1, from its image on host1 local storage', async () => {
    expect(address).toMatch(/^10\.230\.\d+\.2$/);
    expect(await whoAnswers()).toBe(fqdn('host1'));
    const s1 = await mgrStatus('host1');
    expect(s1).toMatchObject({
      state: 'running',
      disk: LOCAL_DISK,
      address,
      lease_owner: fqdn('host1'),
    });
    expect(s1['pid']).toMatch(/^\d+$/);
    expect(Number(s1['lease_expires_ms'])).toBeGreaterThan(Date.now());
    // host2 has the same conf, no image on its own storage, no lease next to it.
    expect(await mgrStatus('host2')).toEqual({
      state: 'stopped',
      disk: LOCAL_DISK,
      address,
      pid: '',
      lease_owner: '',
      lease_expires_ms: '',
    });
    const disk = await manager.getManagerDisk();
    expect(disk).toMatchObject({ path: LOCAL_DISK, onSharedStorage: false, runningOn: fqdn('host1') });
    // The guest is a process of host1 (its PID namespace), the image a file of host1 only.
    expect((await ssh(inv, 'host1', `ps -o args= -p ${s1['pid']}`)).stdout).toContain('manager/main');
    expect((await ssh(inv, 'host2', `test -e ${LOCAL_DISK}`)).code).toBe(1);
    const st = await testbedStatus(ref);
    expect(st.manager).toMatchObject({ mode: 'guest', running: true, runningOn: 'host1' });
    expect(st.manager?.lease?.owner).toBe(fqdn('host1'));
  });

  it('start elsewhere: exit 2 while the image is on host1 local storage; start where it runs: exit 0', async () => {
    const r = await mgr('host2', 'start');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`disk image not found: ${LOCAL_DISK}`);
    expect(await guestNetnsOn('host2')).toBe(false);
    expect(await linkExists(layoutFor(NAME, tb.stateDir, 0, 2).hosts[1]!.guestVeth)).toBe(false);
    expect((await mgr('host1', 'start')).code).toBe(0);
  });

  it('moves onto storage every Host shares (stop, copy, DISK rewritten, start) and says so', async () => {
    for (const h of ['host1', 'host2']) {
      const r = await ssh(
        inv,
        h,
        `mkdir -p /var/lib/flexvdi-testbed/mgtest ${SHARED_DIR} && mount --bind /var/lib/flexvdi-testbed/mgtest ${SHARED_DIR}`,
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const stop = await mgr('host1', 'stop');
    expect(stop.code, stop.stderr).toBe(0);
    expect(await mgrStatus('host1')).toMatchObject({ state: 'stopped', pid: '', lease_owner: '' });
    expect(await whoAnswers()).toBeNull();
    expect(await guestNetnsOn('host1')).toBe(false);
    const cp = await ssh(inv, 'host1', `cp -p ${LOCAL_DISK} ${SHARED_DISK}`);
    expect(cp.code, cp.stderr).toBe(0);
    await pointDiskAt(SHARED_DISK);
    const start = await mgr('host1', 'start');
    expect(start.code, start.stderr).toBe(0);
    expect(await whoAnswers()).toBe(fqdn('host1'));
    const disk = await manager.getManagerDisk();
    expect(disk).toMatchObject({
      path: SHARED_DISK,
      onSharedStorage: true,
      imageStorage: 'mgtest',
      runningOn: fqdn('host1'),
    });
    expect(disk.movedAt).not.toBeNull();
    // Both Hosts now read the same lease, next to the shared image.
    expect(await mgrStatus('host2')).toMatchObject({ state: 'stopped', lease_owner: fqdn('host1') });
  });
});

describe('failover when host1 freezes', () => {
  let expiresMs = 0;

  it('host1 frozen: the Manager stops answering; host2 cannot start it while the lease lasts (exit 3)', async () => {
    await failHost({ ...ref, host: 'host1', mode: 'freeze' });
    expect(await whoAnswers()).toBeNull();
    const st = await testbedStatus(ref);
    expect(st.manager).toMatchObject({ runningOn: 'host1' });
    expiresMs = st.manager!.lease!.expiresMs;
    const before = Date.now();
    const r = await mgr('host2', 'start');
    // Only meaningful if asked before the lease ran out (LEASE_MS leaves seconds for one SSH call).
    expect(before).toBeLessThan(expiresMs);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`lease held by ${fqdn('host1')} until ${new Date(expiresMs).toISOString()}`);
    expect(await guestNetnsOn('host2')).toBe(false);
  });

  it('once the lease ran out, host2 starts it (exit 0) and it answers at the same address', async () => {
    const started = await poll(
      'flexvdi-manager start on host2 to succeed once the lease expired',
      async () => {
        const r = await mgr('host2', 'start');
        if (r.code === 3) return undefined;
        return r;
      },
      { timeoutMs: LEASE_MS + 20_000, intervalMs: 250 },
    );
    expect(started.code, started.stderr).toBe(0);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresMs);
    expect(await whoAnswers()).toBe(fqdn('host2'));
    expect(await manager.getManagerDisk()).toMatchObject({ path: SHARED_DISK, runningOn: fqdn('host2') });
    expect(await mgrStatus('host2')).toMatchObject({ state: 'running', lease_owner: fqdn('host2') });
    const st = await testbedStatus(ref);
    expect(st.manager).toMatchObject({ runningOn: 'host2', instances: ['host1', 'host2'] });
    const out: string[] = [];
    await testbedCli(['status', '--name', NAME], { log: quietLog, out: (t) => out.push(t) });
    expect(out.join('\n')).toMatch(
      /guest of host2 \(an old instance still on host1\); lease host2\.flexvdi\.test/,
    );
  });

  it('host1 thawed: its old instance never answers, exits, and its network goes; host2 keeps serving', async () => {
    const t = layoutFor(NAME, tb.stateDir, 0, 2);
    const [g1, g2] = [t.hosts[0]!.guestVeth, t.hosts[1]!.guestVeth];
    await healHost({ ...ref, host: 'host1' });
    const seen = { viaBridge: [] as Array<string | null>, host1Guest: 0, host2Guest: 0 };
    await poll(
      "host1's old guest to be gone, after at least 20 rounds of asking every instance",
      async () => {
        seen.viaBridge.push(await whoAnswers());
        const a1 = await whoAnswers('host1');
        if (a1 !== null) seen.host1Guest++;
        if ((await whoAnswers('host2')) === fqdn('host2')) seen.host2Guest++;
        return seen.viaBridge.length >= 20 && !(await guestNetnsOn('host1')) && !(await linkExists(g1));
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(seen.host1Guest).toBe(0);
    expect(seen.viaBridge.filter((a) => a !== fqdn('host2'))).toEqual([]);
    expect(seen.host2Guest).toBe(seen.viaBridge.length);
    // The bridge knows the Manager's MAC on host2's guest port only.
    const fdb = (await runCmd('bridge', ['fdb', 'show', 'br', t.bridge])).stdout;
    const ports = fdb
      .split('\n')
      .filter((l) => l.startsWith(`${t.managerMac} `))
      .map((l) => /dev (\S+)/.exec(l)?.[1]);
    expect(ports.length).toBeGreaterThan(0);
    expect(new Set(ports)).toEqual(new Set([g2]));
    expect(await mgrStatus('host1')).toMatchObject({ state: 'stopped', lease_owner: fqdn('host2') });
    const st = await testbedStatus(ref);
    expect(st.manager).toMatchObject({ runningOn: 'host2', instances: ['host2'] });
    expect(await whoAnswers()).toBe(fqdn('host2'));
  });

  it('stop on host2 releases the lease', async () => {
    const stop = await mgr('host2', 'stop');
    expect(stop.code, stop.stderr).toBe(0);
    expect(await mgrStatus('host2')).toMatchObject({
      state: 'stopped',
      lease_owner: '',
      lease_expires_ms: '',
    });
    expect(await guestNetnsOn('host2')).toBe(false);
    const st = await testbedStatus(ref);
    expect(st.manager).toMatchObject({ running: false, runningOn: null, lease: null });
    expect((await mgr('host2', 'stop')).code).toBe(0); // not running: still 0
  });

  it('a start that fails (an image the Manager cannot read) exits 1 and leaves nothing behind', async () => {
    const dir = '/var/lib/flexvdi/manager/broken';
    const setUp = await ssh(
      inv,
      'host2',
      `mkdir -p ${dir} && echo 'not a disk image' > ${dir}/flexvdi-manager.img && ` +
        `sed "s|^DISK=.*|DISK=${dir}/flexvdi-manager.img|" /etc/flexvdi/manager.conf > /etc/flexvdi/manager.conf.tmp && ` +
        'mv /etc/flexvdi/manager.conf.tmp /etc/flexvdi/manager.conf',
    );
    expect(setUp.code, setUp.stderr).toBe(0);
    const r = await mgr('host2', 'start');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flexvdi-manager: the Manager exited while starting/);
    expect(await mgrStatus('host2')).toMatchObject({ state: 'stopped', pid: '', lease_owner: '' });
    expect(await guestNetnsOn('host2')).toBe(false);
    expect(await linkExists(layoutFor(NAME, tb.stateDir, 0, 2).hosts[1]!.guestVeth)).toBe(false);
    // What start claimed it gave back: no lease next to the image (the lock file is not a lease).
    expect((await ssh(inv, 'host2', `ls ${dir}`)).stdout.trim().split('\n')).toEqual([
      'flexvdi-manager.img',
      'flexvdi-manager.lease.lock',
    ]);
    await pointDiskAt(SHARED_DISK);
  });

  it('then host1 can start it again at once', async () => {
    const start = await mgr('host1', 'start');
    expect(start.code, start.stderr).toBe(0);
    expect(await whoAnswers()).toBe(fqdn('host1'));
  });
});

describe('testbed down', () => {
  it('removes the guest with its Host: no namespace, port, process or mount left', async () => {
    expect((await testbedStatus(ref)).manager?.runningOn).toBe('host1');
    await testbedDown(ref);
    expect(await leftovers(NAME, tb.stateDir)).toEqual([]);
  });
});
