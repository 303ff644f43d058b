/**
 * What the monitor tells beyond one Host's loss, on a testbed with real Redis and the Slack double:
 * - a storm (3 of 4 Hosts cut off at once) is one grouped thread saying the monitor's own path may be at
 *   fault, not a thread per Host; it ends when they come back; an open Home tab is refreshed with it;
 * - a maintenance window mutes a Host's alerts and says so in the channel; when it expires the channel is
 *   told and a Host still down is alerted then;
 * - a hung sshd (listening, not answering) is caught by the banner check while the heartbeat flows; an
 *   acknowledgement is told in its thread and the parent loses its Acknowledge button;
 * - Slack answering 429 while an incident unfolds: every message lands once, in order, the parent ends
 *   resolved.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { MonitorBoard } from '../../src/monitor/board.js';
import type { Monitor } from '../../src/monitor/monitor.js';
import type { RecordedMessage, SlackDouble } from '../../src/slack-double/index.js';
import { failHost, healHost, type TestbedInfo } from '../../src/testbed/index.js';
import { quietLog } from '../registration/helpers.js';
import { onHost } from '../support/hosts.js';
import { poll } from '../support/poll.js';
import { type MonitorBed, monitorBed } from './helpers.js';

const NAME = 'mon-inc';
const ALERTS = 'C0ALERTS1';

let tb: TestbedInfo;
let config: Config;
let double: SlackDouble;
let redis: Redis;
let monitor: Monitor;

let bed: MonitorBed;

beforeAll(async () => {
  bed = await monitorBed({
    name: NAME,
    hosts: 4,
    settings: { recoverAfterMs: 2000, flapWindowMs: 0, sshCheckEveryMs: 2000 },
  });
  tb = bed.tb;
  config = bed.config;
  double = bed.double;
  redis = bed.redis;
  monitor = bed.monitors[0]!;
}, 180_000);

afterAll(() => bed?.stop(), 120_000);

const parents = (): RecordedMessage[] => double.messages(ALERTS);
const replies = (ts: string): string[] => double.thread(ALERTS, ts).map((m) => m.text);
const current = (ts: string) => parents().find((m) => m.ts === ts)!;
const allHealthy = () =>
  poll('every Host healthy again', () => tb.hosts.every((h) => monitor.health(h.name)?.state === 'healthy'), {
    timeoutMs: 30_000,
  });

describe('a storm', () => {
  it('3 of 4 Hosts lost at once: one grouped thread naming them, no thread per Host; it ends when they are back', async () => {
    // Someone has the app's Home tab open: the monitor refreshes it when things change.
    await new MonitorBoard(redis, config.inventory.jobs.prefix).addHomeUser('U0WATCH1');
    const home = () => double.views().find((v) => v.userId === 'U0WATCH1' && v.view['type'] === 'home');
    const before = parents().length;
    const cut = ['host1', 'host2', 'host3'];
    await Promise.all(cut.map((host) => failHost({ name: NAME, host, mode: 'link-down', log: quietLog })));
    const storm = await poll(
      'the storm thread',
      () =>
        parents()
          .slice(before)
          .find((m) => m.text.includes('Hosts lost at once')),
      { timeoutMs: 20_000 },
    );
    expect(storm.text).toMatch(
      /^🔴 3 of 4 Hosts lost at once since \d\d:\d\d:\d\d UTC: \*host1\*, \*host2\*, \*host3\*$/,
    );
    expect(JSON.stringify(storm.blocks)).toContain('the path between the monitor and the Hosts');
    // Every Host was judged lost, and none got a thread of its own.
    await poll('all three lost', () => cut.every((h) => monitor.health(h)?.state === 'lost'));
    await poll('the Home tab showing the storm', () =>
      JSON.stringify(home()?.view ?? '').includes(`${storm.ts.replace('.', '')}`) ? true : undefined,
    );
    expect(JSON.stringify(home()!.view)).toMatch(/3 lost/);
    await Promise.all(cut.map((host) => healHost({ name: NAME, host, log: quietLog })));
    await poll(
      'the storm over',
      () => (current(storm.ts).text.startsWith('✅ Storm over') ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    expect(
      parents()
        .slice(before)
        .map((m) => m.ts),
    ).toEqual([storm.ts]);
    const thread = replies(storm.ts);
    expect(thread.filter((r) => r.startsWith('✅ Storm over'))).toHaveLength(1);
    expect(thread.at(-1)).toMatch(/^✅ Storm over at .*, after [\d.]+ s\.$/);
    await allHealthy();
  });
});

describe('maintenance', () => {
  it('mutes a Host while the window lasts and says so; when it ends the channel is told and a Host still down alerts', async () => {
    const board = new MonitorBoard(redis, config.inventory.jobs.prefix);
    const before = parents().length;
    const until = Date.now() + 15_000;
    await board.setMaintenance({
      id: randomUUID(),
      host: 'host4',
      by: 'U0ADMIN1',
      reason: 'swapping <a> disk',
      since: Date.now(),
      until,
      endedBy: null,
    });
    const window = await poll('the maintenance notice', () =>
      parents()
        .slice(before)
        .find((m) => m.text.startsWith('🔧 *host4*')),
    );
    expect(window.text).toContain('is in maintenance until');
    expect(window.text).toContain('swapping &lt;a&gt; disk');
    await failHost({ name: NAME, host: 'host4', mode: 'freeze', log: quietLog });
    const lostSeenAt = await poll('host4 judged lost', () =>
      monitor.health('host4')?.state === 'lost' ? Date.now() : undefined,
    );
    expect(lostSeenAt).toBeLessThan(until); // lost inside the window…
    const over = await poll(
      'the window over',
      () => double.thread(ALERTS, window.ts).find((m) => m.text.startsWith('Maintenance over')),
      { timeoutMs: 20_000 },
    );
    const alert = await poll(
      'host4 alerted after the window',
      () =>
        parents()
          .slice(before)
          .find((m) => m.text.startsWith('🔴 *host4*')),
      { timeoutMs: 20_000 },
    );
    // …but alerted only once the window was over (Slack ts order is posting order).
    expect(Number(alert.ts)).toBeGreaterThan(Number(over.ts));
    expect(current(window.ts).text).toMatch(/^🔧 \*host4\* .*maintenance ended at/);
    expect(
      parents()
        .slice(before)
        .map((m) => m.ts),
    ).toEqual([window.ts, alert.ts]);
    expect(await board.maintenance()).toEqual([]);
    await healHost({ name: NAME, host: 'host4', log: quietLog });
    await poll('host4 resolved', () => (current(alert.ts).text.startsWith('✅') ? true : undefined), {
      timeoutMs: 30_000,
    });
    await allHealthy();
  });
});

describe('a hung sshd', () => {
  it('still listening but not answering: the banner check catches it, the heartbeat alone would not', async () => {
    const before = parents().length;
    // SIGSTOP sshd's listener: the port stays open (the kernel completes handshakes), nothing answers;
    // the monitor's own session is a child process and keeps beating.
    await onHost(NAME, 'host3', 'kill -STOP "$(cat /run/sshd.pid)"');
    try {
      const parent = await poll(
        'the alert for host3',
        () =>
          parents()
            .slice(before)
            .find((m) => m.text.startsWith('🔴 *host3*')),
        { timeoutMs: 30_000 },
      );
      const shown = JSON.stringify(parent.blocks);
      expect(shown).toContain('sshd does not accept connections');
      expect(shown).toContain('sent no banner within');
      expect(shown).not.toContain('no heartbeat');
      // Acknowledged (as the bot records a click): the thread says who, the button goes, reminders stop.
      const value = JSON.parse(shown.match(/"value":"(\{[^}]*\})"/)![1]!.replace(/\\"/g, '"'));
      const board = new MonitorBoard(redis, config.inventory.jobs.prefix);
      expect((await board.acknowledge(value.incident, 'U0ONCALL1', Date.now())).first).toBe(true);
      await poll('the acknowledgement in the thread', () =>
        double.thread(ALERTS, parent.ts).find((m) => m.text.startsWith('👀 Acknowledged by <@U0ONCALL1>')),
      );
      await poll('the parent edited without Acknowledge', () => {
        const now = JSON.stringify(current(parent.ts).blocks);
        return now.includes('Acknowledged by <@U0ONCALL1>') && !now.includes('monitor_acknowledge')
          ? true
          : undefined;
      });
    } finally {
      await onHost(NAME, 'host3', 'kill -CONT "$(cat /run/sshd.pid)"');
    }
    await poll(
      'host3 resolved',
      () =>
        parents()
          .slice(before)
          .find((m) => m.text.startsWith('✅ *host3*')),
      { timeoutMs: 30_000 },
    );
    await allHealthy();
  });
});

describe('Slack answering 429 during an incident', () => {
  it('everything lands once, in order, and the parent ends resolved', async () => {
    const before = parents().length;
    for (let i = 0; i < 3; i++) double.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    for (let i = 0; i < 2; i++) double.failNext('chat.update', { status: 429, retryAfterSeconds: 1 });
    await failHost({ name: NAME, host: 'host2', mode: 'sshd-stop', log: quietLog });
    const lost = await poll(
      'the alert, past three 429s',
      () =>
        parents()
          .slice(before)
          .find((m) => m.text.startsWith('🔴 *host2*')),
      { timeoutMs: 30_000 },
    );
    await healHost({ name: NAME, host: 'host2', log: quietLog });
    const parent = await poll(
      'host2 resolved, past two more 429s',
      () => (current(lost.ts).text.startsWith('✅ *host2*') ? current(lost.ts) : undefined),
      { timeoutMs: 40_000 },
    );
    expect(double.calls('chat.postMessage').filter((c) => c.status === 429).length).toBe(3);
    expect(double.calls('chat.update').filter((c) => c.status === 429).length).toBe(2);
    expect(
      parents()
        .slice(before)
        .map((m) => m.ts),
    ).toEqual([parent.ts]);
    const thread = replies(parent.ts);
    expect(thread).toHaveLength(2);
    expect(thread[0]).toMatch(/^Answering again at /);
    expect(thread[1]).toMatch(/^✅ Recovered at /);
  });
});
