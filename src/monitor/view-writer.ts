/**
 * The leader's view of every Host (`/flexvdi status`, the Home tab), written to the board when what it shows
 * changed, else only now and then to say the monitor still runs (its age: stale after three leases).
 */
import type { HostView, MonitorBoard } from './board.js';
import type { Health } from './detector.js';
import type { ManagerView } from './incidents.js';

/** How often, at most, the leader looks at the view when it decides. */
const VIEW_EVERY_MS = 1000;
/** How often it is written when nothing in it changed (and at most one lease). */
const VIEW_REFRESH_MS = 5000;

/** What the view is made of, per Host: its health (monotonic and wall-clock), the Manager's word, the probe's problem. */
export interface ViewSources {
  hosts: readonly { name: string }[];
  /** Monotonic times: compared for changes (the wall-clock conversion moves a little at every call). */
  health: ReadonlyMap<string, Health>;
  /** The same, in wall-clock times: what is written. */
  wallHealth: ReadonlyMap<string, Health>;
  manager: ReadonlyMap<string, ManagerView>;
  problem: (host: string) => string | null;
}

export class ViewWriter {
  #writtenAt = 0;
  #digest = '';

  constructor(private readonly d: { board: MonitorBoard; replica: string; leaseMs: number }) {}

  async write(now: number, s: ViewSources): Promise<void> {
    if (now - this.#writtenAt < VIEW_EVERY_MS) return;
    const digest = JSON.stringify(
      s.hosts.map((h) => {
        const hh = s.health.get(h.name)!;
        const m = s.manager.get(h.name);
        return [hh.state, hh.since, hh.failing, m?.status, m?.lastHeartbeat, s.problem(h.name)];
      }),
    );
    if (digest === this.#digest && now - this.#writtenAt < Math.min(VIEW_REFRESH_MS, this.d.leaseMs)) return;
    this.#writtenAt = now;
    this.#digest = digest;
    const rows = s.hosts.map((h): HostView => {
      const hh = s.wallHealth.get(h.name)!;
      return {
        host: h.name,
        state: hh.state,
        since: hh.since,
        failing: hh.failing,
        manager: s.manager.get(h.name) ?? null,
        problem: s.problem(h.name),
      };
    });
    await this.d.board.writeView({ updatedAt: now, replica: this.d.replica, hosts: rows });
  }
}
