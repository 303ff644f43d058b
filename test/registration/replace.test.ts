/**
 * `/flexvdi replace-host` on a test-scoped testbed: a Host is rebuilt by the testbed (same name and IP, new
 * host key, new flexvdi key pair); the procedure re-pins, re-registers and swaps its keys on every Host. Also:
 * a Host that is still alive is refused unless an admin forces it; a replacement with another IP or another
 * FQDN is refused with expected vs found; what the old Host was (an OCFS2 node, from the ocfs2 plugin's
 * hostRoles) is named in the plan and, with how to restore it, in the result.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config.js';
import { Secret } from '../../src/config.js';
import { createManagerClient } from '../../src/manager/index.js';
import { replaceHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { planOf, runConfirmed } from '../support/flow.js';
import { type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { loadInventory, waitFor } from '../testbed/helpers.js';
import {
  countLines,
  fingerprintOfLine,
  type HostKeys,
  keysOf,
  meshProblems,
  quietLog,
  sshBetween,
} from './helpers.js';

const NAME = 'rg-replace';
let tb: TestbedInfo;
let inv: Inventory;
let s: Stack;

const ip = (n: string) => inv.hosts.find((h) => h.name === n)!.ip;

function manager() {
  return createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: () => new Secret(readFileSync(inv.manager.password.file!, 'utf8').trim()),
    tls: { fingerprint256: inv.manager.tls.fingerprint256 },
    log: quietLog,
  });
}

beforeAll(async () => {
  tb = await testbedUp({
    name: NAME,
    hosts: 3,
    failThresholdMs: 3000,
    heartbeatIntervalMs: 500,
    log: quietLog,
  });
  inv = loadInventory(tb.inventoryPath);
  s = await startStack({ inventoryPath: tb.inventoryPath });
  for (const h of ['host1', 'host2', 'host3']) {
    const r = await runConfirmed(s, `register-host ${h}`);
    if (r.record.state !== 'completed') throw new Error(`setup: register ${h} failed:\n${r.text}`);
  }
  // host3 is an OCFS2 node (cluster.conf is the same file on every node)
  const conf =
    'cluster:\n\tnode_count = 3\n\tname = rgcluster\n\nnode:\n\tip_port = 7777\n\tip_address = 10.0.0.1\n\tnumber = 0\n\tname = host1\n\tcluster = rgcluster\n\n' +
    'node:\n\tip_port = 7777\n\tip_address = 10.0.0.3\n\tnumber = 2\n\tname = host3\n\tcluster = rgcluster\n';
  for (const h of ['host1', 'host2'])
    await onHost(NAME, h, 'printf "%s" "$1" > /etc/ocfs2/cluster.conf', [conf]);
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

describe('a Host that is still alive', () => {
  it('is refused, saying why and that an admin can force it', async () => {
    await waitFor('host1 heartbeats', async () =>
      (await manager().getHost('host1.flexvdi.test'))?.status === 'running' ? true : undefined,
    );
    const plan = await planOf(s, 'replace-host host1.flexvdi.test');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('still presents the pinned host key');
    expect(plan.text).toContain('the Manager still hears from `host1.flexvdi.test` (status running');
    expect(plan.text).toContain('replace-host host1.flexvdi.test --force');
  });

  it('with --force by an admin, goes ahead (re-registration, keys checked) and changes no key', async () => {
    const before = await hostFile(NAME, 'host2', '/etc/ssh/ssh_known_hosts');
    const run = await runConfirmed(s, 'replace-host host1.flexvdi.test --force');
    expect(run.plan).toContain('still answering; --force given');
    expect(run.record.state).toBe('completed');
    expect(await hostFile(NAME, 'host2', '/etc/ssh/ssh_known_hosts')).toBe(before);
  });
});

describe('replacing a failed Host', () => {
  let old: HostKeys;

  it('refuses a replacement on another IP or with another FQDN, saying expected and found', async () => {
    old = await keysOf(NAME, 'host3');
    await replaceHost({ name: NAME, host: 'host3', log: quietLog });
    const other = ip('host3').replace(/\d+$/, '99');
    await onHost(NAME, 'host3', 'ip addr del "$1/24" dev eth0 && ip addr add "$2/24" dev eth0', [
      ip('host3'),
      other,
    ]);
    try {
      const given = await planOf(s, `replace-host host3.flexvdi.test ${other}`);
      expect(given.text).toContain(`expected ${ip('host3')} (inventory and Manager), found ${other}`);
      const moved = await planOf(s, 'replace-host host3.flexvdi.test');
      expect(moved.record.state).toBe('refused');
      expect(moved.text).toContain(`Nothing answers SSH on ${ip('host3')}:22`);
      expect(moved.text).toContain(`expected \`host3.flexvdi.test\` on ${ip('host3')}`);
    } finally {
      await onHost(NAME, 'host3', 'ip addr del "$2/24" dev eth0 && ip addr add "$1/24" dev eth0', [
        ip('host3'),
        other,
      ]);
    }
    await onHost(NAME, 'host3', 'hostname hostx');
    try {
      const named = await planOf(s, 'replace-host host3');
      expect(named.record.state).toBe('refused');
      expect(named.text).toContain('expected `host3.flexvdi.test`, found `hostx`');
    } finally {
      await onHost(NAME, 'host3', 'hostname host3');
    }
  });

  it('re-pins, re-registers and swaps the keys everywhere; the old keys are gone; its OCFS2 role is named', async () => {
    await waitFor('the Manager to lose host3', async () => {
      const st = (await manager().getHost('host3.flexvdi.test'))?.status;
      return st === 'unavailable' ? true : undefined;
    });
    const now = await keysOf(NAME, 'host3');
    expect(now.hostKey).not.toBe(old.hostKey);
    const run = await runConfirmed(s, 'replace-host host3.flexvdi.test');
    expect(run.plan).toContain(
      `${fingerprintOfLine(now.hostKey)} replaces the pinned ${fingerprintOfLine(old.hostKey)}`,
    );
    expect(run.plan).toContain('host3 was node 2 (`host3`) of OCFS2 cluster `rgcluster`');
    expect(run.record.state).toBe('completed');
    expect(run.text).toContain('What host3 was (the replacement starts without it)');
    expect(run.text).toContain('`/flexvdi ocfs2 join host3`');
    // the product's pins: the new key only
    const pins = readFileSync(inv.ssh.knownHostsPath, 'utf8');
    expect(countLines(pins, now.hostKey.split(' ')[1]!)).toBe(1);
    expect(countLines(pins, old.hostKey.split(' ')[1]!)).toBe(0);
    // every Host: new keys exactly once, old keys gone
    const members = [await keysOf(NAME, 'host1'), await keysOf(NAME, 'host2'), now];
    expect(await meshProblems(NAME, members)).toEqual([]);
    for (const h of ['host1', 'host2']) {
      expect(
        countLines(await hostFile(NAME, h, '/etc/ssh/ssh_known_hosts'), old.hostKey.split(' ')[1]!),
      ).toBe(0);
      expect(
        countLines(await hostFile(NAME, h, '/home/flexvdi/.ssh/authorized_keys'), old.flexvdi.split(' ')[1]!),
      ).toBe(0);
      expect((await sshBetween(NAME, h, ip('host3'))).code).toBe(0);
      expect((await sshBetween(NAME, 'host3', ip(h))).code).toBe(0);
    }
    // the Manager recorded a replacement, and the new machine's agent heartbeats again
    const rec = await manager().getHost('host3.flexvdi.test');
    expect(rec?.registrations?.at(-1)?.kind).toBe('replacement');
    await waitFor('host3 heartbeats', async () =>
      (await manager().getHost('host3.flexvdi.test'))?.status === 'running' ? true : undefined,
    );
  });

  it('an old key accepted by hand in ~flexvdi/.ssh/known_hosts does not survive a replacement', async () => {
    const before = await keysOf(NAME, 'host2');
    await onHost(
      NAME,
      'host1',
      'printf "%s\\n" "$1" >> /home/flexvdi/.ssh/known_hosts && chown flexvdi: /home/flexvdi/.ssh/known_hosts',
      [`${ip('host2')} ${before.hostKey}`],
    );
    await replaceHost({ name: NAME, host: 'host2', log: quietLog });
    await waitFor('the Manager to lose host2', async () =>
      (await manager().getHost('host2.flexvdi.test'))?.status === 'unavailable' ? true : undefined,
    );
    const run = await runConfirmed(s, 'replace-host host2');
    expect(run.record.state).toBe('completed');
    expect(run.text).toContain('−1 ~flexvdi/.ssh/known_hosts');
    expect(run.text).not.toContain('What host2 was');
    expect(run.text).not.toContain('ocfs2 join');
    expect(
      countLines(
        await hostFile(NAME, 'host1', '/home/flexvdi/.ssh/known_hosts'),
        before.hostKey.split(' ')[1]!,
      ),
    ).toBe(0);
    expect((await sshBetween(NAME, 'host1', ip('host2'))).code).toBe(0);
  });
});
