/**
 * The testbed itself, against the real thing: namespaces, OpenSSH sshd, the Manager stand-in, the product's
 * inventory parser and Manager client. One test-scoped testbed ("vt-core"), always removed in afterAll.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Inventory, Secret } from '../../src/config.js';
import { createManagerClient } from '../../src/manager/index.js';
import {
  HOST_BRIDGES,
  ODD_HOST_BRIDGES,
  runOnHost,
  type TestbedInfo,
  testbedDown,
  testbedStatus,
  testbedUp,
} from '../../src/testbed/index.js';
import { tagOf } from '../../src/testbed/layout.js';
import { leftovers, loadInventory, quietLog, runCmd, ssh, waitFor } from './helpers.js';

const NAME = 'vt-core';
const opts = {
  name: NAME,
  hosts: 3,
  oddBridges: ['host3'],
  failThresholdMs: 3000,
  heartbeatIntervalMs: 500,
  log: quietLog,
};
let tb: TestbedInfo;
let inv: Inventory;

beforeAll(async () => {
  tb = await testbedUp(opts);
  inv = loadInventory(tb.inventoryPath);
});

afterAll(async () => {
  await testbedDown({ name: NAME, log: quietLog });
});

const manager = (password = readFileSync(inv.manager.password.file!, 'utf8').trim()) =>
  createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: () => new Secret(password),
    tls: { fingerprint256: inv.manager.tls.fingerprint256 },
    log: quietLog,
  });

describe('testbed up', () => {
  it('writes an inventory the product parses, with the key pair, host key pins and a private password file', async () => {
    expect(tb.created).toBe(true);
    expect(inv.hosts.map((h) => h.name)).toEqual(['host1', 'host2', 'host3']);
    expect(new Set(inv.hosts.map((h) => h.ip)).size).toBe(3);
    expect(inv.manager.url).toMatch(/^https:\/\/10\.230\.\d+\.2$/);
    expect(inv.manager.tls.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(inv.ssh.user).toBe('root');
    expect(inv.slack).toEqual({
      admins: ['U0ADMIN01'],
      channels: ['C0OPS0001'],
      alertChannel: 'C0ALERTS1',
      approvals: { commands: [] },
    });
    expect(inv.jobs.prefix).toBe(`tb-${NAME}`);
    expect(statSync(inv.manager.password.file!).mode & 0o777).toBe(0o600);
    expect(statSync(inv.ssh.privateKeyPath).mode & 0o777).toBe(0o600);
    // The key files are what ssh-keygen would write: it derives the same public key from the private one.
    const derived = await runCmd('ssh-keygen', ['-y', '-f', inv.ssh.privateKeyPath]);
    const typeAndKey = (line: string) => line.trim().split(' ').slice(0, 2).join(' ');
    expect(typeAndKey(derived.stdout)).toBe(
      typeAndKey(readFileSync(`${inv.ssh.privateKeyPath}.pub`, 'utf8')),
    );
    const pins = readFileSync(inv.ssh.knownHostsPath, 'utf8').trim().split('\n');
    expect(pins).toHaveLength(3);
    expect(pins[0]).toMatch(/^10\.230\.\d+\.11,host1,host1\.flexvdi\.test ssh-ed25519 /);
  });

  it('is idempotent, and refuses to silently change the shape of a running testbed', async () => {
    const again = await testbedUp(opts);
    expect(again.created).toBe(false);
    expect(again.managerUrl).toBe(tb.managerUrl);
    await expect(testbedUp({ ...opts, hosts: 4 })).rejects.toMatchObject({ code: 'testbed.conflict' });
    const st = await testbedStatus({ name: NAME, log: quietLog });
    expect(st.hosts.every((h) => h.running && h.sshd && h.linkUp && !h.frozen)).toBe(true);
  });
});

describe('Hosts', () => {
  it('are isolated: own hostname, /etc, /root, /home, /var/lib, /tmp and processes; nothing of root’s profile', async () => {
    const write = await ssh(
      inv,
      'host1',
      'echo a > /etc/tb-probe && echo b > /root/tb-probe && echo c > /var/lib/tb-probe && echo d > /tmp/tb-probe && mkdir /home/tb-probe',
    );
    expect(write.code).toBe(0);
    const look =
      'for f in /etc/tb-probe /root/tb-probe /var/lib/tb-probe /tmp/tb-probe /home/tb-probe; do [ -e $f ] && echo $f; done; true';
    expect((await ssh(inv, 'host1', look)).stdout.trim().split('\n')).toHaveLength(5);
    expect((await ssh(inv, 'host2', look)).stdout.trim()).toBe('');
    for (const f of ['/etc/tb-probe', '/root/tb-probe']) expect(() => statSync(f)).toThrow();

    const names = await Promise.all(
      inv.hosts.map((h) => ssh(inv, h.name, 'hostname; hostname -f; cat /etc/hostname')),
    );
    expect(names.map((r) => r.stdout.split('\n').slice(0, 3))).toEqual(
      inv.hosts.map((h) => [h.name, h.fqdn, h.name]),
    );
    // Own PID namespace: sshd of this Host only; PID 1 is the Host's holder.
    const ps = await ssh(inv, 'host1', 'pgrep -c sshd; cat /proc/1/cmdline | tr "\\0" " "');
    expect(ps.stdout).toMatch(/^\d\n.*flexvdi-testbed-host1/);
    expect(Number(ps.stdout.split('\n')[0])).toBeLessThanOrEqual(3);
    // Entering a Host without SSH (runOnHost) lands in the same private view; no DNS server is configured.
    const inside = await runOnHost(
      { name: NAME, log: quietLog, host: 'host2' },
      'hostname; cat /etc/resolv.conf',
    );
    expect(inside.stdout).toMatch(/^host2\n# flexvdi-testbed: no DNS/);
    // A fresh /root: no pyenv (or anything else) from this machine's root profile.
    const profile = await ssh(inv, 'host1', 'cat ~/.bashrc ~/.profile; ls -A ~');
    expect(profile.stdout).not.toMatch(/pyenv|cargo/);
    const dotfiles = profile.stdout
      .trim()
      .split('\n')
      .filter((l) => /^\.[\w.-]+$/.test(l));
    expect(dotfiles).toEqual(['.bashrc', '.profile', '.ssh']);
  });

  it('run a real sshd whose host key matches the inventory pin; a wrong pin is refused', async () => {
    const ok = await ssh(inv, 'host2', 'echo ok');
    expect(ok).toMatchObject({ code: 0, stdout: 'ok\n' });
    // Pin host1's key for host2's address: OpenSSH must refuse.
    const pins = readFileSync(inv.ssh.knownHostsPath, 'utf8').trim().split('\n');
    const wrong = path.join(path.dirname(inv.ssh.knownHostsPath), 'wrong_known_hosts');
    const h2 = inv.hosts[1]!;
    writeFileSync(wrong, `${h2.ip} ${pins[0]!.split(' ').slice(1).join(' ')}\n`);
    const bad = await ssh(inv, 'host2', 'echo ok', { knownHosts: wrong });
    expect(bad.code).toBe(255);
    expect(bad.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    const keyscan = await runCmd('ssh-keyscan', ['-t', 'ed25519', h2.ip]);
    expect(keyscan.stdout).toContain(pins[1]!.split(' ').slice(1).join(' '));
  });

  it('carry a flexvdi user with its key pair, o2cb defaults, an empty /etc/ocfs2 and the flexVDI bridges', async () => {
    const r = await ssh(
      inv,
      'host1',
      'id -un flexvdi; ssh-keygen -y -f ~flexvdi/.ssh/id_ed25519 | cut -d" " -f2; cut -d" " -f2 ~flexvdi/.ssh/id_ed25519.pub; ' +
        'stat -c %U ~flexvdi/.ssh/id_ed25519; ls -A /etc/ocfs2 | wc -l; grep -E "^O2CB_[A-Z_]+=" /etc/default/o2cb; ' +
        'cat ~/.ssh/authorized_keys; ls -A ~/.ssh',
    );
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('flexvdi');
    expect(lines[1]).toBe(lines[2]);
    expect(lines[3]).toBe('flexvdi');
    expect(lines[4]).toBe('0');
    expect(lines.slice(5, 11)).toEqual([
      'O2CB_ENABLED=false',
      'O2CB_BOOTCLUSTER=ocfs2',
      'O2CB_HEARTBEAT_THRESHOLD=31',
      'O2CB_IDLE_TIMEOUT_MS=30000',
      'O2CB_KEEPALIVE_DELAY_MS=2000',
      'O2CB_RECONNECT_DELAY_MS=2000',
    ]);
    expect(lines[11]).toBe(readFileSync(`${inv.ssh.privateKeyPath}.pub`, 'utf8').trim());
    expect(lines[12]).toBe('authorized_keys');

    const bridges = async (host: string) =>
      (
        await ssh(
          inv,
          host,
          "for b in $(ip -o link show type bridge | awk -F': ' '{print $2}'); do ip -4 -o addr show dev $b; done | awk '{print $2, $4}'",
        )
      ).stdout
        .trim()
        .split('\n');
    const expected = (list: typeof HOST_BRIDGES | typeof ODD_HOST_BRIDGES) =>
      list.map((b) => `${b.name} ${b.cidr}`);
    expect(await bridges('host1')).toEqual(expected(HOST_BRIDGES));
    expect(await bridges('host2')).toEqual(expected(HOST_BRIDGES));
    expect(await bridges('host3')).toEqual(expected(ODD_HOST_BRIDGES));
  });

  it('do not trust each other until keys are installed; then SSH between them with strict host key checking', async () => {
    const [h1, h2] = inv.hosts;
    const hop = `su - flexvdi -c 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 flexvdi@${h2!.fqdn} hostname'`;
    const before = await ssh(inv, 'host1', hop);
    expect(before.code).toBe(255);
    expect(before.stderr).toMatch(/Host key verification failed/);
    // What registration does: host2 authorizes host1's flexvdi key, host1 pins host2's host key.
    const pub = (await ssh(inv, 'host1', 'cat ~flexvdi/.ssh/id_ed25519.pub')).stdout.trim();
    const hostKey = (
      await ssh(inv, 'host2', 'cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub')
    ).stdout.trim();
    await ssh(
      inv,
      'host2',
      `install -d -o flexvdi -m 700 ~flexvdi/.ssh && echo '${pub}' >> ~flexvdi/.ssh/authorized_keys && chown flexvdi ~flexvdi/.ssh/authorized_keys`,
    );
    await ssh(
      inv,
      'host1',
      `echo '${h2!.fqdn} ${hostKey}' >> ~flexvdi/.ssh/known_hosts && chown flexvdi ~flexvdi/.ssh/known_hosts`,
    );
    const after = await ssh(inv, 'host1', hop);
    expect(after).toMatchObject({ code: 0, stdout: 'host2\n' });
    expect(h1!.name).toBe('host1');
  });
});

describe('the bridge', () => {
  it("keeps a MAC of its own while ports come and go (the Hosts' ARP entries for the gateway stay right)", async () => {
    const bridge = `fvtb${tagOf(NAME)}`;
    const mac = async () => (await runCmd('cat', [`/sys/class/net/${bridge}/address`])).stdout.trim();
    const own = await mac();
    expect(own).toMatch(/^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:01$/);
    // a port with a MAC below every other one: a bridge left to the kernel would take it, then drop it
    const port = `${bridge}z`;
    const ip = async (args: string) => (await runCmd('ip', args.split(' '))).code;
    expect(await ip(`link add ${port} address 02:00:00:00:00:01 type veth peer name ${port}p`)).toBe(0);
    // Traffic host1 starts towards this machine (as a heartbeat stream is): an answer comes back (a refused
    // connection) only if its frames reach the bridge; without, `timeout` ends it (124).
    const gateway = inv.manager.url.replace(/^https:\/\/(.*)\.2$/, '$1.1');
    expect(gateway).toMatch(/^10\.230\.\d+\.1$/);
    const answered = async () =>
      (
        await runOnHost(
          { name: NAME, log: quietLog, host: 'host1' },
          'timeout 3 bash -c "</dev/tcp/$1/9" 2>/dev/null; echo $?',
          [gateway],
        )
      ).stdout.trim();
    try {
      expect(await ip(`link set ${port} master ${bridge} up`)).toBe(0);
      expect(await mac()).toBe(own);
      // host1 learns the gateway's MAC afresh while the port is there…
      expect((await runOnHost({ name: NAME, log: quietLog, host: 'host1' }, 'ip neigh flush all')).code).toBe(
        0,
      );
      expect(await answered()).toBe('1');
    } finally {
      await ip(`link del ${port}`);
    }
    // …and still reaches this machine once it is gone (had it learnt the port's MAC, it would not)
    expect(await answered()).toBe('1');
    expect(await mac()).toBe(own);
  });
});

describe('Manager stand-in', () => {
  it('answers at its own address with the pinned certificate; wrong password is refused', async () => {
    const bad = manager('not-the-password');
    await expect(bad.listHosts()).rejects.toMatchObject({ code: 'manager.auth_failed' });
    const m = manager();
    expect(await m.listHosts()).toEqual([]);
    const other = createManagerClient({
      url: inv.manager.url,
      username: 'admin',
      password: () => new Secret('x'),
      tls: { fingerprint256: inv.manager.tls.fingerprint256!.replace(/^../, '00') },
      log: quietLog,
    });
    await expect(other.listHosts()).rejects.toMatchObject({ code: 'manager.tls_mismatch' });
    await m.logout();
  });

  it('sees a registered Host running from its heartbeats', async () => {
    const m = manager();
    const h = inv.hosts[0]!;
    const keys = await ssh(inv, h.name, 'cat ~flexvdi/.ssh/id_ed25519.pub /etc/ssh/ssh_host_ed25519_key.pub');
    const [sshPubkey, sshServerKey] = keys.stdout.trim().split('\n');
    await m.registerHost({ hostId: h.fqdn, sshPubkey: sshPubkey!, sshServerKey: sshServerKey! });
    const info = await waitFor('host1 running', async () => {
      const i = await m.getHost(h.fqdn);
      return i?.status === 'running' ? i : undefined;
    });
    expect(info.lastHeartbeat).not.toBeNull();
    await m.logout();
  });
});

describe('testbed down', () => {
  it('removes every namespace, link, process, mount and file the testbed made', async () => {
    const r = await testbedDown({ name: NAME, log: quietLog });
    expect(r.removed).toBe(true);
    expect(await leftovers(NAME, tb.stateDir)).toEqual([]);
    expect((await testbedDown({ name: NAME, log: quietLog })).removed).toBe(false);
  });
});
