/**
 * Which of the plugins' offers the monitor runs by itself now (HostRole.offers with `auto`; today the
 * Manager's automatic failover, when the inventory opts in with `manager.autoFailover`), pure.
 *
 * An offer is due for an open Host incident that is still lost (its job's story goes in the incident's
 * thread, which the caller looks up) once `auto.afterMs` has passed since the loss, while the Manager does not answer. Attempts are
 * AUTO_RETRY_MS apart, AUTO_ATTEMPTS at most: a plan refused because the lease had not quite run out is
 * tried again (on the next healthy Host offered, in turn), and each attempt of each loss has its own job id,
 * so a leader that decides twice in a window adds one job, and a Host lost again (its incident reopened
 * within the flap window) gets its failover again.
 */
import type { Incident, LostRole } from './incidents.js';

export const AUTO_RETRY_MS = 15_000;
export const AUTO_ATTEMPTS = 5;

export interface AutoRun {
  incidentId: string;
  /**
   * The loss it answers (the incident's latest: a Host lost again within the flap window reopens the same
   * incident with a new lostAt, and that loss gets its own attempts).
   */
  lostAt: number;
  /** The lost Host. */
  host: string;
  command: string;
  /** The Host the command names. */
  on: string;
  /** 0-based: which attempt window this is. */
  attempt: number;
  channel: string;
  /** The incident's thread (filled in by the monitor from the incident store). */
  threadTs: string | null;
}

export function dueAutoRuns(
  incidents: ReadonlyMap<string, Incident>,
  roles: ReadonlyMap<string, readonly LostRole[]>,
  managerAnswers: boolean,
  now: number,
  /** The Hosts the monitor sees healthy: an offer names one of them, a different one each attempt. */
  healthy: ReadonlySet<string>,
): AutoRun[] {
  if (managerAnswers) return [];
  const due: AutoRun[] = [];
  for (const i of incidents.values()) {
    if (i.kind !== 'host' || i.state !== 'open' || i.phase !== 'lost') continue;
    const offers = (roles.get(i.host) ?? []).flatMap((r) => r.offers ?? []).filter((o) => o.auto);
    const first = offers[0];
    if (!first?.auto) continue;
    const from = i.lostAt + first.auto.afterMs;
    if (now < from) continue;
    const attempt = Math.floor((now - from) / AUTO_RETRY_MS);
    if (attempt >= AUTO_ATTEMPTS) continue;
    const able = offers.filter((o) => healthy.has(o.host));
    const offer = able[attempt % Math.max(1, able.length)];
    if (!offer) continue;
    due.push({
      incidentId: i.id,
      lostAt: i.lostAt,
      host: i.host,
      command: offer.command,
      on: offer.host,
      attempt,
      channel: i.channel,
      threadTs: null,
    });
  }
  return due;
}
