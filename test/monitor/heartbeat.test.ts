/**
 * The heartbeat monitor on a testbed (Hosts in network namespaces with real sshd, faults from the testbed),
 * real Redis and the Slack double, with two monitor replicas running at once:
 * - every fault mode (link-down, freeze, sshd-stop) opens exactly one thread in the alert channel, naming
 *   what failed; healing resolves it (a reply with the downtime, the parent edited to resolved);
 * - a Host that comes back and fails again before it is resolved stays one incident (one thread);
 * - however many replicas run, each event is posted once (one leader decides and posts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Monitor } from '../../src/monitor/monitor.js';
import type { RecordedMessage, SlackDouble } from '../../src/slack-double/index.js';
import { failHost, healHost } from '../../src/testbed/index.js';
import { quietLog } from '../registration/helpers.js';
import { poll } from '../support/poll.js';
import { type MonitorBed, monitorBed } from './helpers.js';

const NAME = 'mon-hb';
const ALERTS = 'C0ALERTS1';

let double: SlackDouble;
let monitors: Monitor[] = [];

let bed: MonitorBed;

beforeAll(async () => {
  bed = await monitorBed({
    name: NAME,
    hosts: 4,
    replicas: 2,
    rejectRateLimited: false,
    settings: { recoverAfterMs: 2000, flapWindowMs: 600_000 },
  });
  double = bed.double;
  monitors = bed.monitors;
}, 180_000);

afterAll(() => bed?.stop(), 120_000);

/** Top-level messages in the alert channel (the incidents' parents), and a thread's replies. */
const parents = (): RecordedMessage[] => double.messages(ALERTS);
const replies = (ts: string): RecordedMessage[] => double.thread(ALERTS, ts);

async function incidentOf(host: string, before: number): Promise<RecordedMessage> {
  return poll(
    `an alert thread for ${host}`,
    () =>
      parents()
        .slice(before)
        .find((m) => m.text.includes(host)),
    {
      timeoutMs: 20_000,
    },
  );
}

const HOST_FOR = { 'link-down': 'host1', freeze: 'host2', 'sshd-stop': 'host3' } as const;

describe.each(['link-down', 'freeze', 'sshd-stop'] as const)('%s', (mode) => {
  it('opens exactly one thread naming what failed, and healing resolves it', async () => {
    const host = HOST_FOR[mode];
    const before = parents().length;
    await failHost({ name: NAME, host, mode, log: quietLog });
    const parent = await incidentOf(host, before);
    expect(parent.text).toMatch(new RegExp(`^🔴 \\*${host}\\* .* is lost since \\d\\d:\\d\\d:\\d\\d UTC$`));
    const shown = JSON.stringify(parent.blocks);
    expect(shown).toContain(mode === 'sshd-stop' ? 'sshd does not accept connections' : 'no heartbeat');
    await healHost({ name: NAME, host, log: quietLog });
    await poll(
      `${host} resolved`,
      () => double.messages(ALERTS).find((m) => m.ts === parent.ts && m.text.startsWith('✅')),
      {
        timeoutMs: 30_000,
      },
    );
    const thread = replies(parent.ts).map((m) => m.text);
    expect(thread.at(-1)).toMatch(/^✅ Recovered at .* after [\d.]+ s down\./);
    expect(thread.filter((t) => t.startsWith('✅ Recovered'))).toHaveLength(1);
    // one parent for this incident, whatever the number of replicas
    expect(
      parents()
        .slice(before)
        .filter((m) => m.text.includes(host)),
    ).toHaveLength(1);
    expect(parents().length).toBe(before + 1);
  });
});

const resolved = (ts: string) =>
  poll('the incident resolved', () => parents().find((m) => m.ts === ts && m.text.startsWith('✅')), {
    timeoutMs: 30_000,
  });

describe('a Host that fails again before it is resolved', () => {
  it('stays one incident: one thread saying it relapsed, resolved once', async () => {
    const before = parents().length;
    await failHost({ name: NAME, host: 'host4', mode: 'link-down', log: quietLog });
    const parent = await incidentOf('host4', before);
    await healHost({ name: NAME, host: 'host4', log: quietLog });
    await poll('host4 answering again', () =>
      replies(parent.ts).find((m) => m.text.startsWith('Answering again')),
    );
    await failHost({ name: NAME, host: 'host4', mode: 'freeze', log: quietLog });
    await poll('the relapse', () => replies(parent.ts).find((m) => m.text.startsWith('Lost again')), {
      timeoutMs: 20_000,
    });
    await healHost({ name: NAME, host: 'host4', log: quietLog });
    await resolved(parent.ts);
    expect(parents().length).toBe(before + 1);
    expect(replies(parent.ts).filter((m) => m.text.startsWith('✅ Recovered'))).toHaveLength(1);
  });
});

describe('a Host lost again within the flap window after it was resolved', () => {
  it('reopens the same thread instead of opening a new one', async () => {
    const first = parents().find((m) => m.text.includes('host1'));
    expect(first?.text).toMatch(/^✅/); // the link-down incident above, resolved
    const before = parents().length;
    await failHost({ name: NAME, host: 'host1', mode: 'sshd-stop', log: quietLog });
    const reopened = await poll(
      'the reopening',
      () => replies(first!.ts).find((m) => m.text.startsWith('🔴 Lost again')),
      { timeoutMs: 20_000 },
    );
    expect(reopened.text).toContain('this thread continues (2 losses)');
    // The parent is edited back to lost too: a separate call, which the poster makes after the reply.
    await poll(
      'the parent edited back to lost',
      () => /^🔴/.test(parents().find((m) => m.ts === first!.ts)?.text ?? ''),
      {
        timeoutMs: 10_000,
      },
    );
    await healHost({ name: NAME, host: 'host1', log: quietLog });
    await resolved(first!.ts);
    expect(parents().length).toBe(before);
  });
});

describe('replicas', () => {
  it('exactly one leads; when it stops, the other takes over and posts the next incident, once', async () => {
    const leaders = monitors.filter((m) => m.leading);
    expect(leaders).toHaveLength(1);
    const standby = monitors.find((m) => !m.leading)!;
    await leaders[0]!.stop();
    await poll('the standby leading', () => standby.leading, { timeoutMs: 20_000 });
    const before = parents().length;
    await failHost({ name: NAME, host: 'host2', mode: 'link-down', log: quietLog });
    const reopened = await poll(
      'host2 lost again',
      () => {
        const p = parents().find((m) => m.text.includes('host2'));
        return p && replies(p.ts).find((m) => m.text.startsWith('🔴 Lost again')) ? p : undefined;
      },
      { timeoutMs: 20_000 },
    );
    await healHost({ name: NAME, host: 'host2', log: quietLog });
    await resolved(reopened.ts);
    expect(parents().length).toBe(before);
    expect(replies(reopened.ts).filter((m) => m.text.startsWith('🔴 Lost again'))).toHaveLength(1);
  });
});
