/**
 * What the leading monitor decides on each tick, as a pure function of the Hosts' health, the incidents on
 * record, the maintenance windows and the acknowledgements: the transitions that bring the incidents in line.
 * Level-triggered, one transition per record per tick, so a restarted monitor (or a replica taking over)
 * picks up where the last one stopped.
 *
 * - A Host's incident: opened when it is lost; recovering, relapsed, resolved as its health says; reopened
 *   (same thread) when lost again within the flap window; acknowledged (the first click); a reminder while it
 *   stays lost and nobody acknowledged it.
 * - A storm: more than `stormShare` of the Hosts not in maintenance (and at least `stormMinHosts`) lost at
 *   once (while other Hosts are silent too, a new loss waits `stormWaitMs` for them before its own thread
 *   opens) is one incident saying the monitor's own path may be at fault; no Host thread opens while it is
 *   open. It resolves when the condition is gone and the Hosts that came back have stayed healthy for
 *   `recoverAfterMs`; Hosts still lost then get their own threads.
 * - Maintenance: a Host in a window opens no incident (an open one still resolves when the Host recovers);
 *   the window itself is a short thread (started, changed, ended) so the channel knows alerting is muted.
 */

import { type Ack, type Maintenance, maintenanceRecord, STORM } from './board.js';
import { type Health, same } from './detector.js';
import type { EventKind, Incident } from './incidents.js';
import type { MonitorSettings } from './settings.js';

export interface Change {
  /** The record (`<host>`, `STORM`, `<host>~maintenance`). */
  name: string;
  kind: EventKind;
  expected: Incident | undefined;
  next: Omit<Incident, 'version'>;
}

type Options = { host: string; channel: string; recoverAfterMs: number; flapWindowMs: number };

/** A Host incident's id: the Host and when it was lost (base 36). */
export const incidentId = (host: string, lostAt: number) => `${host}-${lostAt.toString(36)}`;

export const fresh = (
  kind: Incident['kind'],
  id: string,
  host: string,
  channel: string,
  lostAt: number,
): Omit<Incident, 'version'> => ({
  id,
  host,
  state: 'open',
  phase: 'lost',
  openedAt: lostAt,
  lostAt,
  resolvedAt: null,
  failing: [],
  flaps: 0,
  channel,
  threadTs: null,
  kind,
  hosts: [],
  ack: null,
  remindedAt: null,
  maintenance: null,
  toldLate: false,
});

/** The transition that brings a Host's incident in line with its health, if one is needed. */
export function reconcile(
  h: Health,
  inc: Incident | undefined,
  now: number,
  o: Options,
): { kind: EventKind; next: Omit<Incident, 'version'> } | undefined {
  const open = inc?.state === 'open' ? inc : undefined;
  if (h.state === 'lost') {
    if (!open) {
      if (inc && inc.resolvedAt !== null && now - inc.resolvedAt < o.flapWindowMs)
        return {
          kind: 'reopened',
          next: {
            ...inc,
            state: 'open',
            phase: 'lost',
            lostAt: h.lostAt ?? now,
            resolvedAt: null,
            failing: h.failing,
            flaps: inc.flaps + 1,
            remindedAt: null,
            // a live loss now, whatever the first one was; an acknowledgement stays (someone is on it)
            toldLate: false,
          },
        };
      const lostAt = h.lostAt ?? now;
      return {
        kind: 'opened',
        next: {
          ...fresh('host', incidentId(o.host, lostAt), o.host, o.channel, lostAt),
          failing: h.failing,
        },
      };
    }
    if (open.phase === 'recovering')
      return { kind: 'relapsed', next: { ...open, phase: 'lost', failing: h.failing } };
    if (h.failing.length && !same(h.failing, open.failing))
      return { kind: 'signals', next: { ...open, failing: h.failing } };
    return undefined;
  }
  if (!open) return undefined;
  if (h.state === 'healthy' && h.okSince !== null && now - h.okSince >= o.recoverAfterMs)
    return { kind: 'resolved', next: { ...open, state: 'resolved', phase: 'lost', resolvedAt: now } };
  if ((h.state === 'recovering' || h.state === 'healthy') && open.phase === 'lost')
    return { kind: 'recovering', next: { ...open, phase: 'recovering' } };
  return undefined;
}

export interface DecideInput {
  /** Inventory Host names, in order. */
  hosts: readonly string[];
  /** Each Host's health, times on the wall clock. */
  health: ReadonlyMap<string, Health>;
  /** The records' latest incidents (Hosts, STORM, maintenance records). */
  incidents: ReadonlyMap<string, Incident>;
  windows: readonly Maintenance[];
  acks: ReadonlyMap<string, Ack>;
  now: number;
  channel: string;
  t: MonitorSettings;
}

export interface Decision {
  changes: Change[];
  /** Windows whose end has been told (or needs no telling): forget them once the changes are written. */
  forget: Maintenance[];
}

const UNEASY = new Set(['lost', 'suspect']);

const isOpen = (i: Incident | undefined): i is Incident => i?.state === 'open';

/** An open incident's acknowledgement, or its reminder when one is due (none while `quiet`). */
function attention(
  inc: Incident,
  acks: ReadonlyMap<string, Ack>,
  now: number,
  t: MonitorSettings,
  quiet: boolean,
) {
  const ack = acks.get(inc.id);
  if (!inc.ack && ack) return { kind: 'acknowledged' as const, next: { ...inc, ack } };
  if (quiet || inc.ack || inc.phase !== 'lost' || t.remindEveryMs === 0) return undefined;
  if (now - (inc.remindedAt ?? inc.lostAt) >= t.remindEveryMs)
    return { kind: 'reminder' as const, next: { ...inc, remindedAt: now } };
  return undefined;
}

export function decide(d: DecideInput): Decision {
  const { t, now } = d;
  const changes: Change[] = [];
  const forget: Maintenance[] = [];
  const known = new Set(d.hosts);
  const windows = new Map(d.windows.filter((w) => known.has(w.host)).map((w) => [w.host, w]));
  const muted = (host: string) => (windows.get(host)?.until ?? 0) > now;

  // Maintenance windows: told when they start, change and end.
  for (const host of d.hosts) {
    const name = maintenanceRecord(host);
    const rec = d.incidents.get(name);
    const w = windows.get(host);
    const active = w && w.until > now;
    const told = isOpen(rec) ? rec : undefined;
    const m = w && { id: w.id, by: w.by, reason: w.reason, until: w.until, endedBy: w.endedBy };
    if (active && !told) {
      changes.push({
        name,
        kind: 'opened',
        expected: rec,
        next: {
          ...fresh('maintenance', `${host}-m-${w.since.toString(36)}`, host, d.channel, w.since),
          maintenance: m!,
        },
      });
    } else if (active && told && !sameWindow(told.maintenance, m!)) {
      changes.push({ name, kind: 'changed', expected: rec, next: { ...told, maintenance: m! } });
    } else if (!active && told) {
      changes.push({
        name,
        kind: 'resolved',
        expected: rec,
        next: {
          ...told,
          state: 'resolved',
          resolvedAt: now,
          maintenance: w && w.id === told.maintenance?.id ? m! : told.maintenance,
        },
      });
      if (w) forget.push(w);
    } else if (w && !active) forget.push(w);
  }

  // The storm: the share of Hosts lost now, among those not in maintenance.
  const counted = d.hosts.filter((h) => !muted(h));
  const lost = counted.filter((h) => d.health.get(h)?.state === 'lost');
  const stormNow = lost.length >= t.stormMinHosts && lost.length > t.stormShare * counted.length;
  const storm = d.incidents.get(STORM);
  const open = isOpen(storm) ? storm : undefined;
  if (stormNow && !open) {
    const lostAt = Math.min(...lost.map((h) => d.health.get(h)?.lostAt ?? now));
    const reopen = storm && storm.resolvedAt !== null && now - storm.resolvedAt < t.flapWindowMs;
    changes.push({
      name: STORM,
      kind: reopen ? 'reopened' : 'opened',
      expected: storm,
      next: reopen
        ? {
            ...storm,
            state: 'open',
            phase: 'lost',
            lostAt,
            resolvedAt: null,
            hosts: lost,
            flaps: storm.flaps + 1,
          }
        : { ...fresh('storm', `storm-${lostAt.toString(36)}`, STORM, d.channel, lostAt), hosts: lost },
    });
  } else if (open && stormNow && !sameSet(lost, open.hosts)) {
    changes.push({
      name: STORM,
      kind: 'signals',
      expected: open,
      next: { ...open, hosts: lost, phase: 'lost' },
    });
  } else if (open && !stormNow) {
    // Over once the Hosts that came back have stayed healthy long enough (no storm flapping on one Host).
    const settled = open.hosts.every((h) => {
      const hh = d.health.get(h);
      if (!hh || hh.state === 'lost' || muted(h)) return true;
      return hh.okSince !== null && now - hh.okSince >= t.recoverAfterMs;
    });
    if (settled)
      changes.push({
        name: STORM,
        kind: 'resolved',
        expected: open,
        next: { ...open, state: 'resolved', resolvedAt: now, hosts: lost },
      });
    else if (open.phase === 'lost')
      changes.push({
        name: STORM,
        kind: 'recovering',
        expected: open,
        next: { ...open, phase: 'recovering' },
      });
  } else if (open) {
    if (open.phase === 'recovering')
      changes.push({ name: STORM, kind: 'relapsed', expected: open, next: { ...open, phase: 'lost' } });
    else {
      const a = attention(open, d.acks, now, t, false);
      if (a) changes.push({ name: STORM, ...a, expected: open });
    }
  }
  // While a storm is (or is being) told, no Host's own thread opens; ones already open go on.
  const inStorm =
    stormNow || (open !== undefined && changes.every((c) => c.name !== STORM || c.kind !== 'resolved'));

  for (const host of d.hosts) {
    const h = d.health.get(host);
    if (!h) continue;
    const inc = d.incidents.get(host);
    const r = reconcile(h, inc, now, {
      host,
      channel: d.channel,
      recoverAfterMs: t.recoverAfterMs,
      flapWindowMs: t.flapWindowMs,
    });
    const opening = r?.kind === 'opened' || r?.kind === 'reopened';
    // Not yet: muted, part of a storm, or — while other Hosts are silent too — waiting a moment for them,
    // so Hosts failing together are told together. A Host lost alone is told at once.
    const othersUneasy = counted.some((x) => x !== host && UNEASY.has(d.health.get(x)?.state ?? 'healthy'));
    if (opening && (muted(host) || inStorm || (othersUneasy && now - h.since < t.stormWaitMs))) continue;
    if (r) {
      changes.push({ name: host, ...r, expected: inc });
      continue;
    }
    if (isOpen(inc)) {
      const a = attention(inc, d.acks, now, t, muted(host) || inStorm);
      if (a) changes.push({ name: host, ...a, expected: inc });
    }
  }
  return { changes, forget };
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

const sameWindow = (a: Incident['maintenance'], b: NonNullable<Incident['maintenance']>) =>
  a !== null && a.id === b.id && a.until === b.until && a.reason === b.reason && a.by === b.by;
