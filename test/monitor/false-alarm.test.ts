/**
 * No false alarms from a Host that is only late: the heartbeat monitor with the inventory's default thresholds
 * (suspect after 1.5 s of silence, lost after 2.5 s) watches 5 testbed Hosts, two of them pausing for 1 s every
 * 3 s (`jitter`) and one with 10 % of a core (`slow`), for a fixed 30 s window. On every sample of that window
 * no Host is lost, and the Slack double receives nothing in the alert channel — while the faults were really
 * on (the testbed says so, and each jittering Host was seen frozen). Then, as the control, a real `freeze` of a
 * fault-free Host opens its alert thread: the monitor was alive and able to alert all along.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Monitor } from '../../src/monitor/monitor.js';
import type { SlackDouble } from '../../src/slack-double/index.js';
import { cgroupDir, isFrozen } from '../../src/testbed/cgroup.js';
import { failHost, healHost, type TestbedInfo, testbedStatus } from '../../src/testbed/index.js';
import { tagOf } from '../../src/testbed/layout.js';
import { quietLog } from '../registration/helpers.js';
import { poll } from '../support/poll.js';
import { type MonitorBed, monitorBed } from './helpers.js';

const NAME = 'mon-fa';
const ALERTS = 'C0ALERTS1';
const WINDOW_MS = 30_000;
const SAMPLE_MS = 100;
const JITTERY = ['host1', 'host2'];
const SLOW = 'host3';
const CONTROL = 'host4';

let tb: TestbedInfo;
let double: SlackDouble;
let monitor: Monitor | undefined;

let bed: MonitorBed;

beforeAll(async () => {
  bed = await monitorBed({ name: NAME, hosts: 5, rejectRateLimited: false });
  tb = bed.tb;
  double = bed.double;
  monitor = bed.monitors[0]!;
  // no `monitor:` section: the defaults are what is under test
  expect(bed.config.inventory.monitor).toMatchObject({ suspectAfterMs: 1500, lostAfterMs: 2500 });
}, 180_000);

afterAll(() => bed?.stop(), 120_000);

/** Everything the double holds for the alert channel: parents and thread replies. */
const alertPosts = () => double.store.channelMessages(ALERTS);

describe('Hosts that are late but not gone', () => {
  it('jitter (1 s every 3 s) and a 10 % CPU limit raise no alert over 30 s; a real freeze then does', async () => {
    for (const host of JITTERY) {
      await failHost({ name: NAME, host, mode: 'jitter', pauseMs: 1000, everyMs: 3000, log: quietLog });
    }
    await failHost({ name: NAME, host: SLOW, mode: 'slow', cpuPercent: 10, log: quietLog });

    // The window: every SAMPLE_MS, what the monitor says of each Host and whether each jittering Host is frozen.
    const group = `fvtb-${tagOf(NAME)}`;
    const states = new Map(tb.hosts.map((h) => [h.name, [] as string[]]));
    const frozen = new Map(JITTERY.map((h) => [h, [] as boolean[]]));
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (const h of tb.hosts) states.get(h.name)!.push(monitor!.health(h.name)?.state ?? 'unknown');
        for (const h of JITTERY) frozen.get(h)!.push(isFrozen(cgroupDir(group, h)));
        if (performance.now() - started >= WINDOW_MS) {
          clearInterval(timer);
          resolve();
        }
      }, SAMPLE_MS);
    });
    const status = await testbedStatus({ name: NAME, log: quietLog });

    // The faults were on through the window (still on at its end, each pauser alive, each Host seen frozen).
    for (const h of JITTERY) {
      expect(status.hosts.find((s) => s.name === h)).toMatchObject({ fault: 'jitter', jitterRunning: true });
      const f = frozen.get(h)!;
      expect(f.filter(Boolean).length, `${h} seen frozen`).toBeGreaterThan(0);
      expect(f.filter(Boolean).length / f.length, `${h} thawed most of the time`).toBeLessThan(0.6);
    }
    expect(status.hosts.find((s) => s.name === SLOW)).toMatchObject({ fault: 'slow', cpuLimitPercent: 10 });

    // Whatever else it said (a jittering Host may look suspect now and then), no Host was ever lost…
    for (const h of tb.hosts) {
      const seen = states.get(h.name)!;
      expect(seen.length).toBeGreaterThanOrEqual(WINDOW_MS / SAMPLE_MS / 2);
      expect(
        seen.filter((s) => s === 'lost' || s === 'recovering'),
        `${h.name} lost`,
      ).toEqual([]);
    }
    // …and nothing reached the alert channel.
    expect(alertPosts()).toEqual([]);
    expect(double.calls('chat.postMessage').filter((c) => c.params['channel'] === ALERTS)).toEqual([]);

    // The control: a Host that really stops is alerted, by the same monitor, in the same channel.
    await failHost({ name: NAME, host: CONTROL, mode: 'freeze', log: quietLog });
    const parent = await poll(
      `an alert thread for ${CONTROL}`,
      () => double.messages(ALERTS).find((m) => m.text.includes(`*${CONTROL}*`)),
      { timeoutMs: 20_000 },
    );
    expect(parent.text).toMatch(/^🔴 /);
    expect(monitor!.health(CONTROL)?.state).toBe('lost');
    // still the only alert: the jittering and slow Hosts did not join it
    expect(double.messages(ALERTS)).toHaveLength(1);
    for (const host of [...JITTERY, SLOW, CONTROL]) await healHost({ name: NAME, host, log: quietLog });
  });
});
