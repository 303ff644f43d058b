/**
 * The incident reconciler as pure functions: a Host's incident through its life (flapping folded into one
 * incident, a loss after the flap window opening a new one, a restarted monitor resolving only after proven
 * health), storms, maintenance windows, acknowledgements and reminders.
 */
import { describe, expect, it } from 'vitest';
import type { Maintenance } from '../../src/monitor/board.js';
import { type Health, initialHealth } from '../../src/monitor/detector.js';
import type { Incident } from '../../src/monitor/incidents.js';
import { decide, reconcile } from '../../src/monitor/reconcile.js';
import { monitorSettingsSchema } from '../../src/monitor/settings.js';
import { incidentFixture } from '../support/incident.js';

const incident = (over: Partial<Incident> = {}): Incident =>
  incidentFixture({ threadTs: '1.000100', version: 3, ...over });
const health = (over: Partial<Health>): Health => ({ ...initialHealth(0), ...over });
const O = { host: 'host2', channel: 'C0ALERTS1', recoverAfterMs: 5000, flapWindowMs: 300_000 };

describe('reconcile', () => {
  it('opens one incident for a lost Host, and nothing more while it stays lost with the same signals', () => {
    const lost = health({ state: 'lost', lostAt: 7000, failing: ['heartbeat'] });
    const first = reconcile(lost, undefined, 7100, O);
    expect(first?.kind).toBe('opened');
    expect(first?.next).toMatchObject({
      host: 'host2',
      state: 'open',
      lostAt: 7000,
      threadTs: null,
      flaps: 0,
    });
    expect(reconcile(lost, { ...first!.next, version: 0 }, 7300, O)).toBeUndefined();
  });

  it('reports new signals, recovery, relapse and resolution of an open incident', () => {
    const open = incident();
    expect(reconcile(health({ state: 'lost', failing: ['heartbeat', 'sshd'] }), open, 2000, O)?.kind).toBe(
      'signals',
    );
    expect(reconcile(health({ state: 'recovering', okSince: 2000 }), open, 2500, O)?.kind).toBe('recovering');
    const recovering = incident({ phase: 'recovering' });
    expect(reconcile(health({ state: 'recovering', okSince: 2000 }), recovering, 3000, O)).toBeUndefined();
    expect(reconcile(health({ state: 'lost', failing: ['heartbeat'] }), recovering, 3000, O)?.kind).toBe(
      'relapsed',
    );
    const resolved = reconcile(health({ state: 'healthy', okSince: 2000 }), recovering, 7000, O);
    expect(resolved).toMatchObject({ kind: 'resolved', next: { state: 'resolved', resolvedAt: 7000 } });
  });

  it('a restarted monitor resolves an open incident only after 5 s of health it saw itself', () => {
    const open = incident();
    const justBack = health({ state: 'healthy', okSince: 10_000 });
    expect(reconcile(justBack, open, 12_000, O)?.kind).toBe('recovering');
    expect(reconcile(justBack, incident({ phase: 'recovering' }), 14_999, O)).toBeUndefined();
    expect(reconcile(justBack, incident({ phase: 'recovering' }), 15_000, O)?.kind).toBe('resolved');
  });

  it('a Host told late and lost again within the flap window: a live loss (buttons back), the ack kept', () => {
    const late = incident({
      state: 'resolved',
      resolvedAt: 50_000,
      toldLate: true,
      ack: { by: 'U1', at: 1 },
    });
    const r = reconcile(health({ state: 'lost', lostAt: 60_000, failing: ['heartbeat'] }), late, 60_100, O);
    expect(r).toMatchObject({ kind: 'reopened', next: { toldLate: false, ack: { by: 'U1' } } });
  });

  it('a loss within the flap window reopens the same incident; after it, a new one opens', () => {
    const done = incident({ state: 'resolved', resolvedAt: 50_000, threadTs: '1.000100' });
    const lostAgain = health({ state: 'lost', lostAt: 60_000, failing: ['sshd'] });
    const reopened = reconcile(lostAgain, done, 60_100, O);
    expect(reopened).toMatchObject({
      kind: 'reopened',
      next: {
        id: 'host2-abc',
        threadTs: '1.000100',
        flaps: 1,
        state: 'open',
        lostAt: 60_000,
        failing: ['sshd'],
      },
    });
    const late = reconcile(lostAgain, done, 50_000 + 300_000, O);
    expect(late?.kind).toBe('opened');
    expect(late?.next.id).not.toBe('host2-abc');
    expect(late?.next.threadTs).toBeNull();
  });

  it('does nothing for a healthy Host without an open incident', () => {
    expect(reconcile(health({ state: 'healthy', okSince: 0 }), undefined, 10_000, O)).toBeUndefined();
    expect(
      reconcile(health({ state: 'suspect' }), incident({ state: 'resolved', resolvedAt: 1 }), 10_000, O),
    ).toBeUndefined();
  });
});

describe('decide: storms, maintenance, acknowledgements, reminders', () => {
  const t = monitorSettingsSchema.parse({ recoverAfterMs: 5000, remindEveryMs: 60_000 });
  const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
  const NOW = 1_000_000;
  const healthy = health({ state: 'healthy', okSince: 0 });
  const lostAt = (at: number) => health({ state: 'lost', lostAt: at, failing: ['heartbeat'] });
  const input = (over: Partial<Parameters<typeof decide>[0]> = {}) => ({
    hosts: HOSTS,
    health: new Map(HOSTS.map((h) => [h, healthy])),
    incidents: new Map<string, Incident>(),
    windows: [] as Maintenance[],
    acks: new Map(),
    now: NOW,
    channel: 'C0ALERTS1',
    t,
    ...over,
  });
  const withLost = (lost: string[], at = NOW - 3000) =>
    new Map(HOSTS.map((h) => [h, lost.includes(h) ? lostAt(at) : healthy]));
  const summary = (d: ReturnType<typeof decide>) => d.changes.map((c) => `${c.name}:${c.kind}`);
  const applied = (d: ReturnType<typeof decide>, before = new Map<string, Incident>()) => {
    const m = new Map(before);
    for (const c of d.changes) m.set(c.name, { ...c.next, version: (c.expected?.version ?? -1) + 1 });
    return m;
  };

  it('half of the Hosts or fewer lost: a thread each, no storm', () => {
    expect(summary(decide(input({ health: withLost(['h1', 'h2', 'h3']) })))).toEqual([
      'h1:opened',
      'h2:opened',
      'h3:opened',
    ]);
  });

  it('a Host lost alone is told at once; while others are silent too, it waits stormWaitMs for them', () => {
    const justLost = { ...lostAt(NOW - 2600), since: NOW - 100 };
    const alone = new Map(HOSTS.map((h) => [h, h === 'h1' ? justLost : healthy]));
    expect(summary(decide(input({ health: alone })))).toEqual(['h1:opened']);
    const suspect = health({ state: 'suspect', since: NOW - 400 });
    const together = new Map(HOSTS.map((h) => [h, h === 'h1' ? justLost : h === 'h2' ? suspect : healthy]));
    expect(summary(decide(input({ health: together })))).toEqual([]);
    expect(summary(decide(input({ health: together, now: NOW - 100 + t.stormWaitMs })))).toEqual([
      'h1:opened',
    ]);
  });

  it('more than half lost at once: one storm incident naming them, no Host threads', () => {
    const d = decide(input({ health: withLost(['h1', 'h2', 'h3', 'h4']) }));
    expect(summary(d)).toEqual(['*storm:opened']);
    expect(d.changes[0]?.next).toMatchObject({
      kind: 'storm',
      hosts: ['h1', 'h2', 'h3', 'h4'],
      lostAt: NOW - 3000,
    });
    // A fifth Host lost meanwhile joins the storm's thread, not a thread of its own.
    const after = applied(d);
    const more = decide(input({ health: withLost(['h1', 'h2', 'h3', 'h4', 'h5']), incidents: after }));
    expect(summary(more)).toEqual(['*storm:signals']);
    expect(more.changes[0]?.next.hosts).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
  });

  it('a storm ends once the Hosts that came back are settled; a Host still lost then gets its own thread', () => {
    const storm = applied(decide(input({ health: withLost(['h1', 'h2', 'h3', 'h4']) })));
    const backJustNow = health({ state: 'healthy', okSince: NOW - 1000 });
    const easing = new Map(
      HOSTS.map((h) => [h, h === 'h4' ? lostAt(NOW - 3000) : h <= 'h3' ? backJustNow : healthy]),
    );
    const d1 = decide(input({ health: easing, incidents: storm }));
    expect(summary(d1)).toEqual(['*storm:recovering']);
    const later = decide(input({ health: easing, incidents: applied(d1, storm), now: NOW + 4000 }));
    expect(summary(later)).toEqual(['*storm:resolved', 'h4:opened']);
    expect(later.changes[0]?.next).toMatchObject({ state: 'resolved', hosts: ['h4'] });
  });

  it('a Host in maintenance opens no incident, does not count toward a storm, and its window is told', () => {
    const w: Maintenance = {
      id: 'w1',
      host: 'h1',
      by: 'U0ADMIN1',
      reason: 'disk swap',
      since: NOW - 10_000,
      until: NOW + 600_000,
      endedBy: null,
    };
    const d = decide(input({ windows: [w], health: withLost(['h1', 'h2', 'h3']) }));
    // h1 muted: 2 of 5 counted Hosts lost, no storm; the window is told in the channel.
    expect(summary(d)).toEqual(['h1~maintenance:opened', 'h2:opened', 'h3:opened']);
    expect(d.changes[0]?.next).toMatchObject({
      kind: 'maintenance',
      host: 'h1',
      maintenance: { until: w.until },
    });
    const told = applied(d);
    expect(
      summary(decide(input({ windows: [w], incidents: told, health: withLost(['h1', 'h2', 'h3']) }))),
    ).toEqual([]);
    // Extended: told once; ended early: told, then forgotten; afterwards the still-lost Host alerts.
    const longer = { ...w, until: w.until + 600_000 };
    expect(
      summary(decide(input({ windows: [longer], incidents: told, health: withLost(['h1', 'h2', 'h3']) }))),
    ).toEqual(['h1~maintenance:changed']);
    const ended = { ...w, until: NOW, endedBy: 'U0ADMIN2' };
    const end = decide(input({ windows: [ended], incidents: told, health: withLost(['h1', 'h2', 'h3']) }));
    expect(summary(end)).toEqual(['h1~maintenance:resolved', 'h1:opened']);
    expect(end.changes[0]?.next.maintenance?.endedBy).toBe('U0ADMIN2');
    expect(end.forget).toEqual([ended]);
  });

  it('an open incident still resolves during maintenance; a window for a Host not in the inventory is ignored', () => {
    const open = incident({ host: 'h2', id: 'h2-x', phase: 'recovering' });
    const w: Maintenance = {
      id: 'w',
      host: 'h2',
      by: 'U1',
      reason: null,
      since: 0,
      until: NOW + 1,
      endedBy: null,
    };
    const stranger = { ...w, host: 'gone' };
    const d = decide(input({ windows: [w, stranger], incidents: new Map([['h2', open]]) }));
    expect(summary(d)).toEqual(['h2~maintenance:opened', 'h2:resolved']);
  });

  it('the first acknowledgement is told once; reminders come while nobody acknowledged, never when muted', () => {
    const open = incident({ host: 'h1', id: 'h1-x', lostAt: NOW - 61_000 });
    const lost = withLost(['h1'], NOW - 61_000);
    const remind = decide(input({ health: lost, incidents: new Map([['h1', open]]) }));
    expect(summary(remind)).toEqual(['h1:reminder']);
    expect(remind.changes[0]?.next.remindedAt).toBe(NOW);
    const reminded = applied(remind, new Map([['h1', open]]));
    expect(summary(decide(input({ health: lost, incidents: reminded, now: NOW + 59_000 })))).toEqual([]);
    expect(summary(decide(input({ health: lost, incidents: reminded, now: NOW + 60_000 })))).toEqual([
      'h1:reminder',
    ]);
    const acks = new Map([['h1-x', { by: 'U0ADMIN1', at: NOW }]]);
    const ack = decide(input({ health: lost, incidents: reminded, acks, now: NOW + 60_000 }));
    expect(summary(ack)).toEqual(['h1:acknowledged']);
    const acked = applied(ack, reminded);
    expect(summary(decide(input({ health: lost, incidents: acked, acks, now: NOW + 600_000 })))).toEqual([]);
    const w: Maintenance = {
      id: 'w',
      host: 'h1',
      by: 'U1',
      reason: null,
      since: NOW,
      until: NOW + 10 ** 7,
      endedBy: null,
    };
    const muted = decide(input({ health: lost, incidents: reminded, windows: [w], now: NOW + 600_000 }));
    expect(summary(muted)).toEqual(['h1~maintenance:opened']);
  });
});
