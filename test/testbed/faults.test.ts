/**
 * Faults on demand, observed from outside the way the product would see them (OpenSSH with the inventory's
 * pins, the Manager's view of heartbeats), healed, and a Host replaced in place. Test-scoped testbed
 * "vt-faults" with a short fail_threshold so heartbeat loss shows within seconds.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Inventory, Secret } from '../../src/config.js';
import { createManagerClient, type ManagerClient } from '../../src/manager/index.js';
import { createSshPool } from '../../src/ssh/index.js';
import {
  failHost,
  healHost,
  replaceHost,
  runOnHost,
  type TestbedInfo,
  testbedCli,
  testbedDown,
  testbedStatus,
  testbedUp,
} from '../../src/testbed/index.js';
import { loadInventory, quietLog, runCmd, ssh, waitFor } from './helpers.js';

const NAME = 'vt-faults';
const ref = { name: NAME, log: quietLog };
let tb: TestbedInfo;
let inv: Inventory;
let manager: ManagerClient;

const fqdn = (host: string) => `${host}.flexvdi.test`;

async function register(host: string, knownHosts?: string): Promise<void> {
  const keys = await ssh(
    inv,
    host,
    'cat ~flexvdi/.ssh/id_ed25519.pub /etc/ssh/ssh_host_ed25519_key.pub',
    knownHosts ? { knownHosts } : {},
  );
  expect(keys.code).toBe(0);
  const [sshPubkey, sshServerKey] = keys.stdout.trim().split('\n');
  await manager.registerHost({ hostId: fqdn(host), sshPubkey: sshPubkey!, sshServerKey: sshServerKey! });
}

const managerSees = (host: string, status: string) =>
  waitFor(`Manager to see ${host} ${status}`, async () => {
    const h = await manager.getHost(fqdn(host));
    return h?.status === status ? h : undefined;
  });

beforeAll(async () => {
  tb = await testbedUp({ ...ref, hosts: 2, failThresholdMs: 2000, heartbeatIntervalMs: 500 });
  inv = loadInventory(tb.inventoryPath);
  manager = createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: () => new Secret(readFileSync(inv.manager.password.file!, 'utf8').trim()),
    tls: { fingerprint256: inv.manager.tls.fingerprint256 },
    log: quietLog,
  });
  await register('host1');
  await register('host2');
  await managerSees('host1', 'running');
  await managerSees('host2', 'running');
});

afterAll(async () => {
  await manager?.logout();
  await testbedDown(ref);
});

describe("the product's SSH pool when a warm connection's Host goes away", () => {
  // The call's own deadline is long (60 s) and ssh keepalives would notice a cut link only after ~45 s:
  // neither may be what the caller waits for. A channel open that gets no answer within the connect timeout
  // retires the connection; the call is retried once on a fresh one, which cannot connect either.
  const CONNECT_MS = 1500;
  const poolFor = () =>
    createSshPool({
      privateKey: inv.ssh.privateKeyPath,
      knownHostsPath: inv.ssh.knownHostsPath,
      user: inv.ssh.user,
      connectTimeoutMs: CONNECT_MS,
      commandTimeoutMs: 60_000,
      log: quietLog,
    });
  const target = (name: string) => {
    const h = inv.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no ${name} in the inventory`);
    return { name: h.name, host: h.ip, port: h.port, fqdn: h.fqdn };
  };

  for (const mode of ['link-down', 'freeze'] as const) {
    it(`${mode}: the next command fails that Host within the connect deadlines, not the keepalive's; other Hosts are unaffected; heal and it works again`, async () => {
      const pool = poolFor();
      try {
        expect((await pool.exec(target('host2'), 'echo warm')).stdout).toBe('warm\n');
        await failHost({ ...ref, host: 'host2', mode });
        const t0 = performance.now();
        const [dead, alive] = await Promise.allSettled([
          pool.exec(target('host2'), 'echo again'),
          pool.exec(target('host1'), 'echo fine'),
        ]);
        const ms = performance.now() - t0;
        expect(dead.status).toBe('rejected');
        const code = dead.status === 'rejected' ? (dead.reason as { code?: string }).code : undefined;
        expect(['ssh.connect_failed', 'ssh.timeout']).toContain(code);
        // one unanswered channel open + one connect attempt, each bounded by CONNECT_MS (with slack for a
        // loaded machine) — far from the 60 s command deadline and the ~45 s keepalive
        expect(ms).toBeLessThan(4 * CONNECT_MS + 5000);
        expect(alive.status === 'fulfilled' && alive.value.stdout).toBe('fine\n');
        await healHost({ ...ref, host: 'host2' });
        expect((await pool.exec(target('host2'), 'echo back')).stdout).toBe('back\n');
      } finally {
        await healHost({ ...ref, host: 'host2' }).catch(() => {});
        await pool.close();
      }
    });
  }
});

describe('testbed fail / heal', () => {
  it('link-down: connections fail and the Manager loses the heartbeat; heal restores both', async () => {
    await failHost({ ...ref, host: 'host1', mode: 'link-down' });
    const r = await ssh(inv, 'host1', 'true', { connectTimeoutS: 2 });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/timed out|No route to host/);
    await managerSees('host1', 'unavailable');
    expect((await ssh(inv, 'host2', 'echo up')).stdout).toBe('up\n');
    expect((await testbedStatus(ref)).hosts[0]).toMatchObject({ linkUp: false, fault: 'link-down' });
    await healHost({ ...ref, host: 'host1' });
    expect((await ssh(inv, 'host1', 'echo back')).stdout).toBe('back\n');
    await managerSees('host1', 'running');
  });

  it('freeze: the TCP handshake completes but sshd never answers; the Manager marks the Host unavailable', async () => {
    await failHost({ ...ref, host: 'host1', mode: 'freeze' });
    const r = await ssh(inv, 'host1', 'true', { connectTimeoutS: 3 });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/timed out during banner exchange/);
    await managerSees('host1', 'unavailable');
    expect((await testbedStatus(ref)).hosts[0]).toMatchObject({ frozen: true, fault: 'freeze' });
    await healHost({ ...ref, host: 'host1' });
    expect((await ssh(inv, 'host1', 'echo thawed')).stdout).toBe('thawed\n');
    await managerSees('host1', 'running');
  });

  it('freeze: never while a process of the Host holds a lock of the shared folder (no DLM to recover it)', async () => {
    const LOCK = '/var/lib/flexvdi-testbed/probe.lock';
    // host1 holds the lock 300 ms at a time, again and again: a freeze at a random moment would catch it inside
    const loop = await runOnHost(
      { ...ref, host: 'host1' },
      'touch "$1"; setsid sh -c \'while :; do flock "$1" sleep 0.3; done\' loop "$1" </dev/null >/dev/null 2>&1 & echo $!',
      [LOCK],
    );
    expect(loop.code).toBe(0);
    const holds = async () =>
      (await runOnHost({ ...ref, host: 'host2' }, 'flock -n "$1" true; echo $?', [LOCK])).stdout.trim();
    await waitFor('host1 to hold the lock', async () => ((await holds()) === '1' ? true : undefined));
    try {
      await failHost({ ...ref, host: 'host1', mode: 'freeze' });
      const r = await runOnHost({ ...ref, host: 'host2' }, 'flock -w 3 "$1" true; echo $?', [LOCK]);
      expect(r.stdout.trim()).toBe('0');
    } finally {
      await healHost({ ...ref, host: 'host1' });
      // [w]hile: the pattern does not match the shell running this line
      await runOnHost({ ...ref, host: 'host1' }, 'pkill -f "[w]hile :; do flock"; rm -f "$1"', [LOCK]);
    }
  });

  it('sshd-stop: connection refused; heal starts sshd again', async () => {
    await failHost({ ...ref, host: 'host2', mode: 'sshd-stop' });
    const r = await ssh(inv, 'host2', 'true');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Connection refused/);
    expect((await testbedStatus(ref)).hosts[1]).toMatchObject({ sshd: false, running: true });
    await healHost({ ...ref, host: 'host2' });
    expect((await ssh(inv, 'host2', 'echo ok')).code).toBe(0);
  });

  it('hostkey-change: the pinned key no longer matches; heal puts the original key back', async () => {
    const before = await runCmd('ssh-keyscan', ['-t', 'ed25519', inv.hosts[1]!.ip]);
    await failHost({ ...ref, host: 'host2', mode: 'hostkey-change' });
    const r = await ssh(inv, 'host2', 'true');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
    const during = await runCmd('ssh-keyscan', ['-t', 'ed25519', inv.hosts[1]!.ip]);
    expect(during.stdout.trim()).not.toBe(before.stdout.trim());
    await healHost({ ...ref, host: 'host2' });
    expect((await ssh(inv, 'host2', 'echo pinned')).stdout).toBe('pinned\n');
  });
});

describe('testbed replace', () => {
  it('gives a fresh Host with the same name and IP, a new host key, a new flexvdi key and empty state', async () => {
    const old = await ssh(
      inv,
      'host2',
      'echo x > /root/marker && echo y > /etc/marker && cat ~flexvdi/.ssh/id_ed25519.pub && ' +
        'o2cb add-cluster tbc && o2cb add-node tbc host2 --ip $(hostname -i) --number 1 && o2cb register-cluster tbc',
    );
    expect(old.code).toBe(0);
    const oldStatus = (await testbedStatus(ref)).hosts[1]!;
    const r = await replaceHost({ ...ref, host: 'host2' });
    expect(r).toMatchObject({ host: 'host2', ip: inv.hosts[1]!.ip });
    expect(r.hostKeyFingerprint).not.toBe(oldStatus.hostKeyFingerprint);

    // The inventory still pins the failed Host's key: the product must notice the new machine.
    const pinned = await ssh(inv, 'host2', 'true');
    expect(pinned.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
    const scan = await runCmd('ssh-keyscan', ['-t', 'ed25519', r.ip]);
    const fresh = path.join(path.dirname(inv.ssh.knownHostsPath), 'fresh_known_hosts');
    await runCmd('sh', ['-c', `grep -v '^#' > ${fresh}`], scan.stdout);
    const look = await ssh(
      inv,
      'host2',
      'echo "name=$(hostname)"; echo "ip=$(hostname -i)"; echo "markers=$(ls /root/marker /etc/marker 2>/dev/null)"; ' +
        'echo "key=$(cat ~flexvdi/.ssh/id_ed25519.pub)"; echo "conf=$(ls -A /etc/ocfs2)"; ' +
        'echo "online=$(ls -A /var/lib/flexvdi-testbed/o2cb-online)"; echo "status=$(o2cb cluster-status)"',
      { knownHosts: fresh },
    );
    const seen = Object.fromEntries(
      look.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(seen).toEqual({
      name: 'host2',
      ip: r.ip,
      markers: '',
      key: r.flexvdiPublicKey,
      conf: '',
      online: '',
      status: 'offline',
    });
    expect(r.flexvdiPublicKey).not.toBe(old.stdout.trim().split('\n')[0]);

    // Until it is registered again with its new key, the new machine sends no heartbeat.
    await managerSees('host2', 'unavailable');
    await register('host2', fresh);
    await managerSees('host2', 'running');
    expect((await testbedStatus(ref)).hosts[1]).toMatchObject({ generation: 1, running: true, sshd: true });
  });
});

describe('testbed CLI', () => {
  it('reports status as JSON and rejects bad usage with exit code 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const deps = { log: quietLog, out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    expect(await testbedCli(['status', '--name', NAME, '--json'], deps)).toBe(0);
    const status = JSON.parse(out[0]!) as { hosts: Array<{ name: string }> };
    expect(status.hosts.map((h) => h.name)).toEqual(['host1', 'host2']);
    expect(await testbedCli(['fail', 'host1', '--name', NAME, '--mode', 'meltdown'], deps)).toBe(2);
    expect(await testbedCli(['frobnicate'], deps)).toBe(2);
    expect(await testbedCli(['heal', 'host9', '--name', NAME], deps)).toBe(1);
    expect(err.join('\n')).toMatch(
      /--mode must be one of[\s\S]*unknown testbed command[\s\S]*no Host "host9"/,
    );
  });
});
