/**
 * The I/O around the overview (src/monitor/overview.ts, pure): one read of everything the board holds for
 * the inventory's Hosts, and publishing the Home tab. The bot publishes a user's tab when they open it
 * (app_home_opened); the monitor refreshes every Home user's tab (`board.homeUsers()`) when something changes.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { MonitorBoard } from './board.js';
import { type BoardSnapshot, homeView, type Overview, recordNames } from './overview.js';

/** What the board holds now for these Hosts: its view, their incidents and acknowledgements, the windows. */
export async function readBoardSnapshot(
  board: MonitorBoard,
  hosts: readonly string[],
  now: () => number = Date.now,
): Promise<BoardSnapshot> {
  const [view, incidents, maintenance, linkBase] = await Promise.all([
    board.view(),
    board.incidents(recordNames(hosts)),
    board.maintenance(),
    board.workspaceUrl(),
  ]);
  const acks = await board.acks([...incidents.values()].map((i) => i.id));
  return {
    readAt: now(),
    view,
    incidents: Object.fromEntries(incidents),
    acks: Object.fromEntries(acks),
    maintenance,
    linkBase,
  };
}

/** The overview of the inventory's Hosts, read from the board now. */
export async function readOverview(
  board: MonitorBoard,
  config: Config,
  now: () => number = Date.now,
): Promise<Overview> {
  const inv = config.inventory;
  const snapshot = await readBoardSnapshot(
    board,
    inv.hosts.map((h) => h.name),
    now,
  );
  return { ...snapshot, hosts: inv.hosts, leaseMs: inv.monitor.leaseMs };
}

/** Publishes the Home tab of `user` from `overview` (one views.publish). */
export async function publishHome(
  slack: Pick<WebClient, 'views'>,
  user: string,
  overview: Overview,
): Promise<void> {
  await slack.views.publish({ user_id: user, view: homeView(overview) as never });
}

/** What a Home tab shows that can change (not the clock line): changes when a state, incident or window does. */
function digestOf(o: Overview): string {
  return JSON.stringify([
    o.view?.hosts.map((h) => [h.host, h.state, h.since, h.failing, h.manager?.status ?? null, h.problem]),
    Object.values(o.incidents).map((i) => [i.id, i.version]),
    Object.keys(o.acks),
    o.maintenance.map((m) => [m.id, m.until]),
  ]);
}

/**
 * The monitor's side of the Home tab: after each decision the leader calls `refresh`, which republishes
 * every Home user's tab when what it shows changed — at most once per `minGapMs` (views.publish is rate
 * limited per workspace), the last change always published. Never throws: a failure is logged and retried
 * with the next change.
 */
export class HomeRefresher {
  #digest = '';
  #publishedAt = Number.NEGATIVE_INFINITY;
  #running = false;

  constructor(
    private readonly d: {
      board: MonitorBoard;
      config: Config;
      slack: Pick<WebClient, 'views'>;
      log: Logger;
      minGapMs?: number;
      now?: () => number;
    },
  ) {}

  async refresh(): Promise<void> {
    const now = (this.d.now ?? Date.now)();
    if (this.#running || now - this.#publishedAt < (this.d.minGapMs ?? 3000)) return;
    this.#running = true;
    try {
      const users = await this.d.board.homeUsers();
      if (!users.length) return;
      const o = await readOverview(this.d.board, this.d.config, this.d.now);
      const digest = digestOf(o);
      if (digest === this.#digest) return;
      this.#publishedAt = now;
      for (const user of users) await publishHome(this.d.slack, user, o);
      this.#digest = digest;
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'could not refresh the Home tabs');
    } finally {
      this.#running = false;
    }
  }
}
