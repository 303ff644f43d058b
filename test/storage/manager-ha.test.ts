/**
 * The Manager's high availability end to end, through the bot and a worker, on a test-scoped testbed "st-ha"
 * whose Manager stand-in is a guest of host1 (its image on host1's local storage; a lease of LEASE_MS next to
 * the image, renewed while it serves): an OCFS2 volume made with the product's own commands, then
 * - `storage volumes` (slots, space, a lost mount as drift and its fix), with the worker in this process;
 * - move-to refused for a Volume the Manager does not have, start-on refused while the image is local;
 * - a move whose start from the copy fails (the Volume's lease lock made unusable): rolled back, the Manager
 *   answers again from its original image, the job says so;
 * - the move: the Manager answers from the Volume, every Host's manager.conf points there;
 * - start-on refused while the Manager answers; host1 frozen: refused while its lease is live; once expired,
 *   start-on on host2 and host3 confirmed at once (the jobs share a lock): one Manager starts, the other is
 *   refused; the alert offers the failover as buttons;
 * - host1 thawed: its old instance never answers (the lease is another Host's), one Manager answers;
 * - automatic failover (inventory opt-in): the monitor starts the Manager on another Host once the lease ran
 *   out, its job in the alert's thread, audited as confirmed by the monitor;
 * - the Host-side start raced on two Hosts (no job lock between them): the lease lock lets one start.
 */
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createRegistry } from '../../src/core/registry.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import { startMonitor } from '../../src/monitor/monitor.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { startAutoRun } from '../../src/runtime.js';
import { createServices } from '../../src/services.js';
import {
  diskPaths,
  failHost,
  healHost,
  type TestbedInfo,
  testbedDown,
  testbedUp,
} from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { configOf, quietLog, registerWithManager } from '../ocfs2/helpers.js';
import { confirmed, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { ADMIN, blocksText, type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { poll } from '../support/poll.js';

const NAME = 'st-ha';
const ALERTS = 'C0ALERTS1';
const LEASE_MS = 12_000;
const layout = layoutFor(NAME, '/', 0, 0);
const ID0 = path.basename(diskPaths(layout, 0).byId);
const HOSTS = ['host1', 'host2', 'host3'];
const LOCAL = '/var/lib/flexvdi/manager/flexvdi-manager.img';
const SHARED = '/var/lib/flexvdi/image-storages/images/flexvdi-manager.img';
let tb: TestbedInfo;
let config: Config;
let s: Stack;

beforeAll(async () => {
  tb = await testbedUp({
    name: NAME,
    hosts: 3,
    disks: 1,
    manager: { on: 'host1' },
    managerLeaseMs: LEASE_MS,
    log: quietLog,
  });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, HOSTS);
  s = await startStack({ inventoryPath: tb.inventoryPath });
  for (const c of [
    'ocfs2 first-node host1 --cluster-name stha',
    'ocfs2 join --all',
    `storage create-volume images vol1 --device ${ID0}`,
  ]) {
    const r = await runConfirmed(s, c);
    expect(r.record.state, `${c}: ${r.text}`).toBe('completed');
  }
}, 240_000);

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

const status = async (host: string) =>
  Object.fromEntries(
    (await onHost(NAME, host, 'flexvdi-manager status'))
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;

/** A monitor on the stack's Redis and Slack double, reading what each Host does as the runtime does. */
async function monitorOf(o: { autoFailover: boolean }) {
  const live = createServices(s.config, quietLog);
  const plugins = createRegistry(builtinPlugins).services({
    config: s.config,
    log: quietLog,
    board: {} as MonitorBoard, // hostRoles never read the monitor's board
    ...live,
  });
  const inv = s.config.inventory;
  const config = {
    ...s.config,
    inventory: { ...inv, manager: { ...inv.manager, autoFailover: o.autoFailover } },
  };
  const monitor = await startMonitor({
    config,
    redis: s.redis,
    slack: new WebClient(s.env['SLACK_BOT_TOKEN'], { slackApiUrl: s.double.apiUrl }),
    manager: live.manager,
    log: quietLog,
    roles: async (host, signal) =>
      (await plugins.hostRoles(host, signal)).map((r) => ({
        role: r.role,
        onLoss: r.onLoss ?? [],
        offers: r.offers ?? [],
      })),
    startJob: (run) => startAutoRun(config, createRegistry(builtinPlugins), s.runtimes[0]!.queue, run),
  });
  return {
    monitor,
    stop: async () => {
      await monitor.stop();
      await live.ssh.close();
    },
  };
}

/** What the Manager says about its disk (a fresh client each time: no session carried over). */
async function managerDisk() {
  const { manager } = createServices(config, quietLog);
  return manager.getManagerDisk();
}

describe('storage volumes', () => {
  it('where the Image Storage is mounted, slots and space; a lost mount is drift whose fix adopts and mounts', async () => {
    const ok = await planOf(s, 'storage volumes');
    expect(ok.record.state).toBe('completed');
    expect(ok.text).toContain('Volumes: `vol1`');
    expect(ok.text).toMatch(/Slots: 3 in use of 3; [\d.]+ \w+ free of [\d.]+ \w+/);
    await onHost(NAME, 'host3', 'umount /var/lib/flexvdi/image-storages/images');
    const drift = await planOf(s, 'storage volumes');
    expect(drift.record.state).toBe('findings');
    expect(drift.text).toContain('Slots: 2 in use of 3');
    expect(drift.text).toContain('*host3*: not mounted (the fstab entry is there)');
    const fix = `storage create-volume images vol1 --device ${ID0} --hosts host3`;
    expect(drift.text).toContain(`/flexvdi ${fix}`);
    const fixed = await runConfirmed(s, fix);
    expect(fixed.record.state).toBe('completed');
    expect(fixed.text).toContain('Already held this volume');
    expect((await planOf(s, 'storage volumes')).record.state).toBe('completed');
  }, 120_000);
});

describe('manager move-to', () => {
  it('refuses a Volume the Manager does not have, and start-on while the image is local', async () => {
    const none = await planOf(s, 'manager move-to nope');
    expect(none.record.state).toBe('refused');
    expect(none.text).toContain('The Manager has no Volume `nope` (it has `vol1`)');
    const local = await planOf(s, 'manager start-on host2');
    expect(local.record.state).toBe('refused');
    expect(local.text).toContain(`The Manager's disk is \`${LOCAL}\`, local to the Host that runs it`);
  }, 60_000);

  it('a start from the copy that fails is rolled back: the Manager answers from its original image', async () => {
    // The Volume's lease lock cannot be opened: the Manager cannot take its lease there, so it cannot start.
    await onHost(NAME, 'host1', 'mkdir -p "$1.lease.lock"', [SHARED.replace(/\.img$/, '')]);
    const r = await runConfirmed(s, 'manager move-to vol1', 180_000);
    expect(r.record.state).toBe('failed');
    expect(r.text).toContain('The Manager did not start on host1');
    expect(r.text).toContain(`Rolled back: host1's manager.conf points at ${LOCAL} again`);
    expect((await managerDisk()).path).toBe(LOCAL);
    expect(await hostFile(NAME, 'host1', '/etc/flexvdi/manager.conf')).toContain(`DISK=${LOCAL}\n`);
    await onHost(NAME, 'host1', 'rmdir "$1.lease.lock"', [SHARED.replace(/\.img$/, '')]);
  }, 240_000);

  it('moves the image: the Manager answers from the Volume, every Host points there', async () => {
    const r = await runConfirmed(s, 'manager move-to vol1', 180_000);
    expect(r.record.state, r.text).toBe('completed');
    expect(r.plan).toContain('stop the Manager');
    expect(r.text).toContain('sha256');
    const disk = await managerDisk();
    expect([disk.path, disk.onSharedStorage, disk.runningOn]).toEqual([SHARED, true, 'host1.flexvdi.test']);
    for (const h of HOSTS)
      expect(await hostFile(NAME, h, '/etc/flexvdi/manager.conf')).toContain(`DISK=${SHARED}\n`);
    // The Hosts it listed before are still there (registered before the move).
    const { manager } = createServices(config, quietLog);
    expect((await manager.listHosts()).map((h) => h.hostId).sort()).toEqual(
      HOSTS.map((h) => `${h}.flexvdi.test`),
    );
    const again = await planOf(s, 'manager move-to vol1');
    expect(again.record.state).toBe('noop');
  }, 240_000);
});

describe('manager start-on (failover)', () => {
  it('refused while the Manager answers', async () => {
    const r = await planOf(s, 'manager start-on host2');
    expect(r.record.state).toBe('refused');
    expect(r.text).toContain('The Manager answers (running on host1.flexvdi.test)');
  }, 60_000);

  it('host1 frozen: its alert offers the failover, refused while the lease is live; then two start-on confirmed at once start one Manager (the jobs share a lock: the second finds it answering)', async () => {
    // The monitor reads what each Host does when it starts: host1 runs the Manager from the Volume.
    const { monitor, stop } = await monitorOf({ autoFailover: false });
    await poll('the monitor to read what host1 does', () => monitor.roles('host1')?.length, {
      timeoutMs: 60_000,
    });
    await failHost({ name: NAME, host: 'host1', mode: 'freeze', log: quietLog });
    try {
      const alert = await poll('the alert for host1 with its offers', () =>
        s.double
          .messages(ALERTS)
          .find(
            (m) => m.text.includes('host1') && blocksText(m.blocks).includes('Start the Manager on host2'),
          ),
      );
      expect(blocksText(alert.blocks)).toContain('Start the Manager on host3');
      expect(blocksText(alert.blocks)).toContain("the Manager's lease runs out");
      await s.click(ALERTS, alert.ts, { user: ADMIN, actionId: 'monitor_offer:manager start-on:host2' });
      const early = await poll('the start-on plan in the alert thread', () =>
        s.double.thread(ALERTS, alert.ts).find((m) => m.text.includes('manager start-on host2')),
      );
      const seen = await waitForJobState(s, early.ts, ['refused'], 60_000);
      expect(seen.text).toMatch(
        /lease is held by host1\.flexvdi\.test until .* Try again once the lease has expired/,
      );
      // The lease runs out (read from another Host: the lease file is on the shared Volume).
      await poll(
        'the lease to expire',
        async () => {
          const st = await status('host2');
          return Number(st['lease_expires_ms']) < Date.now() ? st : undefined;
        },
        { timeoutMs: LEASE_MS + 10_000 },
      );
      const a = await confirmed(s, 'manager start-on host2');
      const b = await confirmed(s, 'manager start-on host3');
      const ends = await Promise.all([
        waitForJobState(s, a.ts, ['completed', 'failed'], 120_000),
        waitForJobState(s, b.ts, ['completed', 'failed'], 120_000),
      ]);
      const states = ends.map((e) => e.record.state).sort();
      expect(states).toEqual(['completed', 'failed']);
      const lost = ends.find((e) => e.record.state === 'failed')!;
      expect(lost.text).toMatch(
        /The Manager answers \(running on host[23]\.flexvdi\.test\)|lease held by host[23]/,
      );
      const won = ends.find((e) => e.record.state === 'completed')!;
      const winner = won === ends[0] ? 'host2' : 'host3';
      const disk = await managerDisk();
      expect([disk.path, disk.runningOn]).toEqual([SHARED, `${winner}.flexvdi.test`]);
      expect((await status(winner))['state']).toBe('running');
    } finally {
      await healHost({ name: NAME, host: 'host1', log: quietLog });
      await stop();
    }
    // Thawed: the old instance gives up (its lease is another Host's) and never answers.
    await poll("host1's old Manager to stop", async () => (await status('host1'))['state'] === 'stopped', {
      timeoutMs: 30_000,
    });
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) answers.add((await managerDisk()).runningOn ?? '?');
    expect(answers.size).toBe(1);
    expect([...answers][0]).not.toBe('host1.flexvdi.test');
  }, 300_000);

  it('automatic failover (opted in): the monitor starts the Manager elsewhere once the lease ran out, in the thread', async () => {
    const from = (await managerDisk()).runningOn?.split('.')[0] ?? '';
    expect(['host2', 'host3']).toContain(from);
    const { monitor, stop } = await monitorOf({ autoFailover: true });
    await poll(`the monitor to read what ${from} does`, () => monitor.roles(from)?.length, {
      timeoutMs: 60_000,
    });
    const frozenAt = Date.now();
    await failHost({ name: NAME, host: from, mode: 'freeze', log: quietLog });
    try {
      const now = await poll(
        'the Manager to answer from another Host',
        async () => {
          const d = await managerDisk().catch(() => null);
          return d?.runningOn && d.runningOn !== `${from}.flexvdi.test` ? d : undefined;
        },
        { timeoutMs: LEASE_MS + 60_000, intervalMs: 500 },
      );
      const took = Date.now() - frozenAt;
      expect(now.path).toBe(SHARED);
      // Not before the lease ran out (never two Managers), not much later.
      expect(took).toBeGreaterThan(LEASE_MS);
      const alert = s.double
        .messages(ALERTS)
        .filter((m) => m.text.includes(from))
        .at(-1)!;
      // The job completes after its verify step has seen the Manager answer, so its story in the
      // thread follows the answer by a moment: polled, not read at once (reading at once raced in CI).
      const told = await poll(
        "the failover's completion in the alert thread",
        () =>
          s.double
            .thread(ALERTS, alert.ts)
            .map((m) => m.text)
            .find((t) => /manager start-on host\d .*completed/.test(t)),
        { timeoutMs: 30_000 },
      );
      expect(told).toContain(`manager start-on ${String(now.runningOn).split('.')[0]}`);
      const trail = (await s.redis.xrevrange(`${s.prefix}:audit`, '+', '-', 'COUNT', 50)).map(([, f]) =>
        Object.fromEntries(f.flatMap((v, i) => (i % 2 ? [] : [[v, f[i + 1]]]))),
      );
      expect(trail).toContainEqual(
        expect.objectContaining({
          user: 'monitor',
          outcome: 'confirmed',
          command: expect.stringMatching(/^manager start-on host\d$/),
          detail: expect.stringContaining(`automatic (inventory manager.autoFailover): ${from} lost`),
        }),
      );
    } finally {
      await healHost({ name: NAME, host: from, log: quietLog });
      await stop();
    }
  }, 300_000);

  it('the Host-side start under the lease lock: two Hosts starting at once after the lease ran out, one Manager', async () => {
    const from = (await managerDisk()).runningOn?.split('.')[0] ?? '';
    const [a, b] = HOSTS.filter((h) => h !== from);
    await failHost({ name: NAME, host: from, mode: 'freeze', log: quietLog });
    try {
      await poll(
        'the lease to expire',
        async () => Number((await status(a!))['lease_expires_ms']) < Date.now(),
        { timeoutMs: LEASE_MS + 10_000 },
      );
      // Raw, as two products (or two people) would: no job lock between them, only the flock on the Volume.
      const starts = await Promise.all(
        [a!, b!].map((h) =>
          onHost(NAME, h, 'flexvdi-manager start; echo "exit=$?"').catch((e: Error) => `exit=? ${e.message}`),
        ),
      );
      const exits = starts.map((o) => /exit=(\d+)/.exec(o)?.[1]).sort();
      expect(exits).toEqual(['0', '3']);
      const loser = [a!, b!][starts.findIndex((o) => /exit=3/.test(o))]!;
      expect((await status(loser))['state']).toBe('stopped');
      const winner = loser === a ? b! : a!;
      expect((await managerDisk()).runningOn).toBe(`${winner}.flexvdi.test`);
    } finally {
      await healHost({ name: NAME, host: from, log: quietLog });
    }
    await poll(`${from}'s old Manager to stop`, async () => (await status(from))['state'] === 'stopped', {
      timeoutMs: 30_000,
    });
  }, 180_000);
});
