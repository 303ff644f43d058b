/**
 * Telling late what a monitor saw while it could not reach Redis (the journal's missed losses, once the
 * leader can write again): each as an incident opened and resolved with the real times, marked told late —
 * or, when enough Hosts were lost together to make a storm, as one storm incident, as it would have been told
 * live. A loss that cannot be written now goes back into the journal for the next decision.
 */
import type { Logger } from 'pino';
import type { Maintenance } from './board.js';
import { STORM } from './board.js';
import type { Incident, IncidentStore } from './incidents.js';
import type { Loss, LossJournal } from './journal.js';
import { fresh, incidentId } from './reconcile.js';
import type { MonitorSettings } from './settings.js';

export interface LateDeps {
  store: IncidentStore;
  journal: LossJournal;
  channel: string;
  hosts: readonly string[];
  t: MonitorSettings;
  log: Logger;
}

/** Writes one incident's opening and resolution; 'ok' or why not. */
async function openAndResolve(
  d: LateDeps,
  name: string,
  cur: Incident | undefined,
  opened: Omit<Incident, 'version'>,
  backAt: number,
): Promise<string> {
  const base = { host: opened.host, incidentId: opened.id, manager: null, problem: null };
  const r1 = await d.store.transition(name, cur, opened, { ...base, kind: 'opened', at: opened.lostAt });
  if (r1 !== 'ok') return r1;
  const resolved = { ...opened, state: 'resolved' as const, resolvedAt: backAt };
  const v = (cur?.version ?? -1) + 1;
  return d.store.transition(name, { ...opened, version: v }, resolved, {
    ...base,
    kind: 'resolved',
    at: backAt,
  });
}

/** True when something was told (or tried): the caller's decision then starts over from fresh reads. */
export async function tellLate(
  d: LateDeps,
  incidents: ReadonlyMap<string, Incident>,
  windows: readonly Maintenance[],
): Promise<boolean> {
  const { tell, dropped } = d.journal.settle(incidents, windows);
  for (const l of dropped)
    d.log.warn(
      { host: l.host, lostAt: l.lostAt, backAt: l.backAt },
      'a loss seen while Redis was unreachable cannot be told: a later incident is on record',
    );
  if (!tell.length) return false;
  const muted = new Set(windows.filter((w) => w.until > Date.now()).map((w) => w.host));
  const counted = d.hosts.filter((h) => !muted.has(h)).length;
  const lostHosts = [...new Set(tell.map((l) => l.host))].sort();
  if (lostHosts.length >= d.t.stormMinHosts && lostHosts.length > d.t.stormShare * counted) {
    const lostAt = Math.min(...tell.map((l) => l.lostAt));
    const backAt = Math.max(...tell.map((l) => l.backAt ?? l.lostAt));
    const opened = {
      ...fresh('storm', `storm-${lostAt.toString(36)}`, STORM, d.channel, lostAt),
      hosts: lostHosts,
      toldLate: true,
    };
    const r = await openAndResolve(d, STORM, incidents.get(STORM), opened, backAt);
    d.log.info(
      { hosts: lostHosts, incident: opened.id, result: r },
      'a storm seen while Redis was unreachable, told late',
    );
    if (r !== 'ok') d.journal.restore(tell);
    return true;
  }
  const told = new Map(incidents);
  for (const [i, l] of tell.entries()) {
    const cur = told.get(l.host);
    const opened = {
      ...fresh('host', incidentId(l.host, l.lostAt), l.host, d.channel, l.lostAt),
      failing: l.failing,
      toldLate: true,
    };
    const r = await openAndResolve(d, l.host, cur, opened, backOf(l));
    d.log.info(
      { host: l.host, incident: opened.id, result: r },
      'a loss seen while Redis was unreachable, told late',
    );
    if (r !== 'ok') {
      d.journal.restore(tell.slice(i));
      return true;
    }
    told.set(l.host, {
      ...opened,
      state: 'resolved',
      resolvedAt: backOf(l),
      version: (cur?.version ?? -1) + 2,
    });
  }
  return true;
}

const backOf = (l: Loss) => l.backAt ?? l.lostAt;
