/**
 * `/flexvdi register-host` end to end on a test-scoped testbed: real sshd on each Host, real key files, the
 * Manager stand-in, the bot and worker on the run's Redis, Slack replaced by its double. Covers the first
 * registrations, registering twice (no-op), first contact, changed host keys, bridges, bad input, and the
 * Manager failing (wrong password: no retry, no secret anywhere; unreachable).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { failHost, healHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { messageText, planOf, runConfirmed, until, waitForJobState } from '../support/flow.js';
import { blocksText, OPS, type Stack, startStack, USER } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { loadInventory } from '../testbed/helpers.js';
import {
  fingerprintOfLine,
  inventoryVariant,
  keysOf,
  meshProblems,
  quietLog,
  sshBetween,
} from './helpers.js';

const NAME = 'rg-register';
let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(String(chunk));
    cb();
  },
});

const hostIp = (n: string) => inv.hosts.find((h) => h.name === n)!.ip;
const hostFqdn = (n: string) => inv.hosts.find((h) => h.name === n)!.fqdn;

/** Drops a Host's pin from the product's known_hosts: the next contact is a first contact. */
function unpin(host: string) {
  const file = inv.ssh.knownHostsPath;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith(`${hostIp(host)},`));
  writeFileSync(file, kept.join('\n'));
}

beforeAll(async () => {
  tb = await testbedUp({
    name: NAME,
    hosts: 7,
    oddBridges: ['host3'],
    heartbeatIntervalMs: 500,
    log: quietLog,
  });
  inv = loadInventory(tb.inventoryPath);
  unpin('host4');
  unpin('host6');
  s = await startStack({ inventoryPath: tb.inventoryPath, log: createLogger({ level: 'debug' }, logSink) });
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

describe('registering Hosts', () => {
  it('registers the first Host: the Manager lists it, its own keys are in place', async () => {
    const run = await runConfirmed(s, `register-host ${hostFqdn('host1')} ${hostIp('host1')}`);
    expect(run.plan).toContain('not registered yet');
    expect(run.plan).toContain('no registered Host answered to compare with');
    expect(run.record.state).toBe('completed');
    expect(run.text).toContain('the Manager lists it');
    const k1 = await keysOf(NAME, 'host1');
    expect(await meshProblems(NAME, [k1])).toEqual([]);
  });

  it('registers a second Host by inventory name: keys exchanged both ways, real OpenSSH works between them', async () => {
    const run = await runConfirmed(s, 'register-host host2');
    expect(run.plan).toContain('SSH keys (2 Hosts)');
    expect(run.plan).toMatch(/host1\*: \+1 authorized_keys, \+1 ssh_known_hosts/);
    expect(run.record.state).toBe('completed');
    expect(run.text).toContain('2 Host↔Host SSH connections verified');
    const keys = [await keysOf(NAME, 'host1'), await keysOf(NAME, 'host2')];
    expect(await meshProblems(NAME, keys)).toEqual([]);
    expect((await sshBetween(NAME, 'host1', hostIp('host2'))).code).toBe(0);
    expect((await sshBetween(NAME, 'host2', hostIp('host1'))).code).toBe(0);
    // the product-added lines carry the Host's FQDN as comment; the files keep their owners and modes
    const ak = await hostFile(NAME, 'host1', '/home/flexvdi/.ssh/authorized_keys');
    expect(ak).toContain(`${keys[1]!.flexvdi} flexvdi@host2.flexvdi.test`);
    const st = await onHost(
      NAME,
      'host1',
      'stat -c "%U %a" /home/flexvdi/.ssh/authorized_keys /etc/ssh/ssh_known_hosts',
    );
    expect(st.trim().split('\n')).toEqual(['flexvdi 600', 'root 644']);
  });

  it('registering the same Host again is a no-op that says so and changes no file', async () => {
    const before = await hostFile(NAME, 'host1', '/home/flexvdi/.ssh/authorized_keys');
    const plan = await planOf(s, 'register-host host2.flexvdi.test');
    expect(plan.record.state).toBe('noop');
    expect(plan.text).toContain('already registered and its SSH keys are in sync on all 2 Hosts');
    expect(plan.confirmId).toBeUndefined();
    expect(await hostFile(NAME, 'host1', '/home/flexvdi/.ssh/authorized_keys')).toBe(before);
  });

  it('refuses a Host whose bridges differ, naming each difference', async () => {
    const plan = await planOf(s, 'register-host host3');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('virtual bridges of host3 differ');
    expect(plan.text).toContain('`br-vdi`: missing on host3');
    expect(plan.text).toContain('`br-vdi1`: on host3');
    expect(plan.text).toContain('`virbr0`: 192.168.123.0/24 on host3, 192.168.122.0/24 on host1');
  });

  it('first contact: shows the fingerprint, pins it only after Confirm', async () => {
    const real = (await keysOf(NAME, 'host4')).hostKey;
    const plan = await planOf(s, 'register-host host4');
    expect(plan.text).toContain('first contact');
    expect(plan.text).toContain(fingerprintOfLine(real));
    expect(readFileSync(inv.ssh.knownHostsPath, 'utf8')).not.toContain(hostIp('host4'));
    await s.click(OPS, plan.ts);
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed']);
    expect(done.record.state).toBe('completed');
    expect(done.text).toContain('pinned (first contact)');
    const pins = readFileSync(inv.ssh.knownHostsPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes(real));
    expect(pins).toEqual([`${hostIp('host4')},host4.flexvdi.test,host4 ${real}`]);
  });

  it('refuses a Host whose key no longer matches its pin, and says so', async () => {
    await failHost({ name: NAME, host: 'host5', mode: 'hostkey-change', log: quietLog });
    try {
      const plan = await planOf(s, 'register-host host5');
      expect(plan.record.state).toBe('refused');
      expect(plan.text).toContain('is not the pinned one');
      expect(plan.text).toContain(fingerprintOfLine((await keysOf(NAME, 'host5')).hostKey));
    } finally {
      await healHost({ name: NAME, host: 'host5', log: quietLog });
    }
  });

  it('a key that changes between the plan and Confirm is not pinned: the job fails and says why', async () => {
    const plan = await planOf(s, 'register-host host6');
    expect(plan.text).toContain('first contact');
    await failHost({ name: NAME, host: 'host6', mode: 'hostkey-change', log: quietLog });
    try {
      await s.click(OPS, plan.ts);
      const done = await waitForJobState(s, plan.ts, ['completed', 'failed']);
      expect(done.record.state).toBe('failed');
      expect(done.text).toContain('changed between the plan and now');
      expect(readFileSync(inv.ssh.knownHostsPath, 'utf8')).not.toContain(hostIp('host6'));
      await s.double.waitFor(() =>
        s.double.thread(OPS, plan.ts).find((m) => m.text.includes('registration.hostkey_changed')),
      );
    } finally {
      await healHost({ name: NAME, host: 'host6', log: quietLog });
    }
  });
});

describe('bad input never reaches a Host', () => {
  const ack = async (text: string) =>
    (JSON.parse((await s.send(text)).body || '{}') as { text?: string }).text ?? '';

  it('names the bad field: invalid FQDN, IPv6, shell metacharacters', async () => {
    expect(await ack('register-host host_1.flexvdi.test')).toContain('`host`: must be a Host name or FQDN');
    expect(await ack('register-host -bad-.flexvdi.test')).toContain('`host`: must be a Host name or FQDN');
    expect(await ack('register-host host1.flexvdi.test fe80::1')).toContain(
      '`ip`: must be an IPv4 address (flexVDI needs IPv4',
    );
    expect(await ack('register-host fe80::1')).toContain('flexVDI needs IPv4');
    expect(await ack('register-host 10.0.0.300')).toContain('`host`: must be an IPv4 address');
    expect(await ack('register-host "host1;touch /tmp/rg-pwned"')).toContain('`host`: must be a Host name');
    expect(await ack('register-host "$(touch /tmp/rg-pwned)"')).toContain('`host`: must be a Host name');
    expect(await ack('replace-host "host2`id`"')).toContain('`host`: must be a Host name');
    expect(await ack('register-host host1 --force')).toContain('unknown option `--force`');
    const check = await onHost(NAME, 'host1', 'ls /tmp/rg-pwned 2>/dev/null || echo none');
    expect(check.trim()).toBe('none');
  });

  it('data read from a Host (a home directory named like a command) is only ever passed as data', async () => {
    const home = '/home/fl ex$(cd;touch rg-pwned);`cd;touch rg-pwned2`';
    await onHost(NAME, 'host7', 'mv /home/flexvdi "$1" && usermod -d "$1" flexvdi', [home]);
    const run = await runConfirmed(s, 'register-host host7');
    expect(run.record.state).toBe('completed');
    const k7 = await keysOf(NAME, 'host7', home);
    expect(await hostFile(NAME, 'host7', `${home}/.ssh/authorized_keys`)).toContain(
      (await keysOf(NAME, 'host1')).flexvdi,
    );
    expect(await hostFile(NAME, 'host1', '/home/flexvdi/.ssh/authorized_keys')).toContain(k7.flexvdi);
    expect((await sshBetween(NAME, 'host7', hostIp('host1'))).code).toBe(0);
    for (const h of ['host1', 'host7']) {
      expect((await onHost(NAME, h, 'ls -a /root / /tmp')).includes('rg-pwned')).toBe(false);
    }
  });

  it('refuses a Host that is not in the inventory, saying to add it there first', async () => {
    const plan = await planOf(s, 'register-host host9.flexvdi.test 10.230.1.19');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('is not in the inventory');
    expect(plan.text).toContain(tb.inventoryPath);
  });

  it('refuses an inventory Host given with another IP', async () => {
    const plan = await planOf(s, `register-host host2.flexvdi.test 10.230.1.99`);
    expect(plan.text).toContain(`has IP ${hostIp('host2')} in the inventory, not 10.230.1.99`);
  });

  it('only admins may register', async () => {
    const res = JSON.parse((await s.send('register-host host4', { user: USER })).body) as { text: string };
    expect(res.text).toContain('Only flexVDI admins');
  });
});

describe('/flexvdi hosts', () => {
  it("lists every Host with the Manager's status, last heartbeat and keys in sync", async () => {
    await s.send('hosts');
    const msg = await s.waitForMessage(/7 Hosts in the inventory, 4 registered/);
    const text = msg.text + blocksText(msg.blocks);
    expect(text).toContain('SSH keys in sync');
    expect(text).toMatch(
      /host1\*.*— (running|unknown), (last heartbeat \d+ s ago|no heartbeat yet) — keys in sync ✓/,
    );
    expect(text).toContain('host3.flexvdi.test');
    expect(text).toMatch(/host3\*[^•]*not registered with the Manager/);
  });

  it('flags a Host whose key files drifted, and what a sync would change', async () => {
    await onHost(NAME, 'host2', "sed -i '/flexvdi@host1.flexvdi.test/d' /home/flexvdi/.ssh/authorized_keys");
    await s.send('hosts');
    const msg = await s.waitForMessage(/out of sync on host2/);
    expect(msg.text + blocksText(msg.blocks)).toContain(
      'keys out of sync (a sync would do +1 authorized_keys)',
    );
    // register-host on it again repairs it (not a no-op any more)
    const run = await runConfirmed(s, 'register-host host2');
    expect(run.plan).toContain('bring the SSH keys back in sync');
    expect(run.record.state).toBe('completed');
    expect(
      await meshProblems(NAME, [
        await keysOf(NAME, 'host1'),
        await keysOf(NAME, 'host2'),
        await keysOf(NAME, 'host4'),
      ]),
    ).toEqual([]);
  });
});

describe('Manager failures', () => {
  it('wrong Manager password: clear error, one login attempt, no retry, the password in no message or log', async () => {
    const wrong = `wrong-${Date.now()}-Pw`;
    writeFileSync(`${tb.stateDir}/wrong-password`, `${wrong}\n`, { mode: 0o600 });
    const file = inventoryVariant(tb, 'inventory-wrongpw.yaml', (d) => {
      d.manager.password = { file: './wrong-password' };
      d.jobs.prefix = 'rgwrongpw';
    });
    const lines: string[] = [];
    const sink = new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    });
    const w = await startStack({ inventoryPath: file, log: createLogger({ level: 'trace' }, sink) });
    try {
      const managerLog = `${tb.stateDir}/manager/manager.log`;
      const refusedBefore = countRefused(readFileSync(managerLog, 'utf8'));
      const plan = await planOf(w, 'register-host host4');
      expect(plan.record.state).toBe('failed');
      expect(plan.text).toContain('refused the credentials of user');
      await w.double.waitFor(() =>
        w.double.thread(OPS, plan.ts).find((m) => m.text.includes('manager.auth_failed')),
      );
      // no retry is coming: the plan job is failed for good (not delayed for a retry) after one attempt
      const planJob = await until(async () => {
        const jobs = await w.runtimes[0]!.queue.getJobs(['failed', 'delayed', 'waiting', 'active'], 0, 50);
        const j = jobs.find((x) => x.data.text === 'register-host host4');
        return j && (await j.isFailed()) ? j : undefined;
      });
      expect(planJob.attemptsMade).toBe(1);
      expect(await w.runtimes[0]!.queue.getDelayedCount()).toBe(0);
      expect(countRefused(readFileSync(managerLog, 'utf8')) - refusedBefore).toBe(1);
      const everything = [
        ...lines,
        ...w.double.messages().map((m) => m.text + blocksText(m.blocks)),
        ...w.double.calls().map((c) => JSON.stringify(c.params)),
      ].join('\n');
      expect(everything).not.toContain(wrong);
      expect(everything).toContain('manager.auth_failed');
    } finally {
      await w.stop();
    }
  });

  it('Manager unreachable: the plan fails with a clear message naming the Manager', async () => {
    const file = inventoryVariant(tb, 'inventory-nomanager.yaml', (d) => {
      const u = new URL(d.manager.url);
      u.port = '4443';
      d.manager.url = u.toString().replace(/\/$/, '');
      d.jobs.prefix = 'rgnomgr';
      d.jobs.backoffMs = 50;
    });
    const w = await startStack({ inventoryPath: file });
    try {
      const plan = await planOf(w, 'register-host host4');
      expect(plan.record.state).toBe('failed');
      expect(plan.text).toMatch(/Manager at https:\/\/10\.230\.\d+\.2:4443/);
    } finally {
      await w.stop();
    }
  });

  it('no secret in any log line or Slack message of the main stack: password, agent secrets', async () => {
    const password = readFileSync(`${tb.stateDir}/manager/password`, 'utf8').trim();
    const state = JSON.parse(readFileSync(`${tb.stateDir}/manager/state.json`, 'utf8')) as {
      hosts: Record<string, { secret: string }>;
    };
    const secrets = [password, ...Object.values(state.hosts).map((h) => h.secret)];
    expect(secrets.length).toBeGreaterThan(3);
    const everything = [
      ...logLines,
      ...s.double.messages().map((m) => m.text + blocksText(m.blocks)),
      ...s.double.calls().map((c) => JSON.stringify(c.params)),
      JSON.stringify(await s.redis.keys('*').then((k) => k.filter((x) => x.startsWith(inv.jobs.prefix)))),
    ].join('\n');
    expect(logLines.length).toBeGreaterThan(50);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    // nor in the job data and checkpoints kept in Redis
    const ckpt = await s.redis.keys(`${inv.jobs.prefix}:ckpt:*`);
    for (const k of ckpt) {
      const all = JSON.stringify(await s.redis.hgetall(k));
      for (const secret of secrets) expect(all).not.toContain(secret);
    }
    expect(messageText(s, s.double.messages(OPS)[0]!.ts)).toBeTruthy();
  });
});

describe('key files under ~flexvdi', () => {
  it('are never written through a symlink the flexvdi user controls', async () => {
    await onHost(
      NAME,
      'host5',
      'ln -s /etc/shadow /home/flexvdi/.ssh/authorized_keys && chown -h flexvdi: /home/flexvdi/.ssh/authorized_keys',
    );
    const shadow = await hostFile(NAME, 'host5', '/etc/shadow');
    const run = await runConfirmed(s, 'register-host host5');
    expect(run.record.state).toBe('partial'); // the other Hosts got the keys
    expect(run.text).toContain('Updating the SSH keys failed on host5');
    expect(run.text).toContain('`/home/flexvdi/.ssh/authorized_keys` is a symlink');
    expect(await hostFile(NAME, 'host5', '/etc/shadow')).toBe(shadow);
  });
});

function countRefused(log: string): number {
  return log.split('\n').filter((l) => l.includes('login refused')).length;
}
