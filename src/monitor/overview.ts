/**
 * The cluster at a glance, from the monitor's board (src/monitor/board.ts): whether the monitor runs, the open
 * incidents (who acknowledged them, a link to each thread), the maintenance windows and every Host's state.
 * Pure: the same board snapshot always renders the same text. One place for each piece, used by the app's
 * Home tab (`homeView`: the bot on app_home_opened, the monitor when something changes) and by the monitor
 * plugin's `/flexvdi alerts` and `/flexvdi status`. Everything that came from a Host, the Manager or a user
 * (Host names, problems, Manager statuses, maintenance reasons) goes through `md`.
 */
import { z } from 'zod';
import type { InventoryHost } from '../config.js';
import { joinMd, type Md, md, mention } from '../core/text.js';
import { type Block, context, divider, section, sectionsFor } from '../slack/blocks.js';
import {
  type Ack,
  ackSchema,
  type HostView,
  type Maintenance,
  type MonitorView,
  maintenanceRecord,
  maintenanceSchema,
  STORM,
  viewSchema,
} from './board.js';
import type { ProbeState } from './detector.js';
import { type Incident, incidentSchema } from './incidents.js';
import { clock, duration, managerText } from './messages.js';

/** What the board held at one moment (`readAt`): read by src/monitor/home.ts, or a step of the monitor plugin. */
export const boardSnapshotSchema = z.object({
  readAt: z.number(),
  view: viewSchema.nullable(),
  /** The latest incident of each record (Host names, `STORM`, maintenance records), by record name. */
  incidents: z.record(incidentSchema),
  /** First acknowledgements, by incident id. */
  acks: z.record(ackSchema),
  maintenance: z.array(maintenanceSchema),
  /** The workspace's URL (for thread links), when the bot has told it. */
  linkBase: z.string().nullable(),
});
export type BoardSnapshot = z.output<typeof boardSnapshotSchema>;

/** A snapshot with what it is about: the inventory's Hosts and the monitor's lease. */
export interface Overview extends BoardSnapshot {
  hosts: readonly Pick<InventoryHost, 'name' | 'fqdn'>[];
  /** The monitor's leader lease (inventory `monitor.leaseMs`): a view older than 3 leases is a stopped monitor. */
  leaseMs: number;
}

/** The board's record names for these Hosts: each Host's own, the storm's, each Host's maintenance record. */
export const recordNames = (hosts: readonly string[]): string[] => [
  ...hosts,
  STORM,
  ...hosts.map(maintenanceRecord),
];

// ------------------------------------------------------------------------------------------------ monitor

export interface MonitorStatus {
  running: boolean;
  line: Md;
}

/** Whether the monitor runs: its view is written on change and at least every 5 s (or lease); older than 3 leases is stale. */
export function monitorStatus(view: MonitorView | null, leaseMs: number, now: number): MonitorStatus {
  const limit = 3 * leaseMs;
  if (!view)
    return {
      running: false,
      line: md`:warning: *The heartbeat monitor is not running*: it has left no view in Redis (never started with this inventory, or stopped more than a day ago), so nothing is watched and no alert is posted. Start it: \`flexvdi-chatops monitor\` (also part of \`start\`).`,
    };
  const age = Math.max(0, now - view.updatedAt);
  if (age > limit)
    return {
      running: false,
      line: md`:warning: *The heartbeat monitor is not running*: its view is ${duration(age)} old (last at ${clock(view.updatedAt, now)}; it counts as stopped after ${duration(limit)}), so no alert is posted. Host states shown are as it last saw them. Start it: \`flexvdi-chatops monitor\`.`,
    };
  return {
    running: true,
    line: md`Heartbeat monitor running (replica \`${view.replica.slice(0, 8)}\`, view ${duration(age)} old).`,
  };
}

// ------------------------------------------------------------------------------------------------ links

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,30}$/;
const MESSAGE_TS = /^\d{1,12}\.\d{1,8}$/;
const URL_BASE = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/$/;
/** Slack's generic form, which its clients resolve in the reader's workspace. */
export const GENERIC_LINK_BASE = 'https://slack.com/';

/**
 * The permalink of a top-level message: `<workspace URL>archives/<channel>/p<ts without the dot>`, which is
 * what chat.getPermalink answers for it; with no workspace URL known, Slack's generic `https://slack.com/`.
 * Null when the channel or ts is not Slack-shaped (nothing foreign ever becomes a link).
 */
export function threadUrl(channel: string, ts: string, linkBase: string | null): string | null {
  if (!CHANNEL_ID.test(channel) || !MESSAGE_TS.test(ts)) return null;
  const base = linkBase && URL_BASE.test(linkBase) ? linkBase : GENERIC_LINK_BASE;
  return `${base}archives/${channel}/p${ts.replace('.', '')}`;
}

/** A link to an incident's thread (the parent message), or why there is none yet. */
export function threadLink(
  i: Pick<Incident, 'channel' | 'threadTs'>,
  linkBase: string | null,
  label: 'thread' | 'incident thread' | 'announcement' = 'thread',
): Md {
  const url = i.threadTs ? threadUrl(i.channel, i.threadTs, linkBase) : null;
  // The URL is made of validated characters only (letters, digits, `.:/-`): `md` leaves it as it is.
  return url ? md`<${url}|${label}>` : md`thread not posted yet`;
}

// ------------------------------------------------------------------------------------------------ incidents

/** The first acknowledgement of an incident: the board's (immediate), else the one the monitor copied. */
export const ackOf = (i: Incident, acks: Readonly<Record<string, Ack>>): Ack | null =>
  acks[i.id] ?? i.ack ?? null;

/** Open incidents (Hosts' and the storm's; not maintenance announcements), the oldest loss first. */
export function openAlerts(o: Pick<BoardSnapshot, 'incidents'>): Incident[] {
  return Object.values(o.incidents)
    .filter((i) => i.state === 'open' && i.kind !== 'maintenance')
    .sort((a, b) => a.lostAt - b.lostAt || a.host.localeCompare(b.host));
}

/** The open incident of one Host, if any. */
export const openIncidentOf = (o: Pick<BoardSnapshot, 'incidents'>, host: string): Incident | undefined => {
  const i = o.incidents[host];
  return i?.state === 'open' && i.kind === 'host' ? i : undefined;
};

/** One line per open incident: what, since when, lost or recovering, who acknowledged it, its thread. */
export function alertLine(i: Incident, o: BoardSnapshot): Md {
  const now = o.readAt;
  const since = md`${clock(i.lostAt, now)} (${duration(now - i.lostAt)})`;
  const ack = ackOf(i, o.acks);
  const head =
    i.kind === 'storm'
      ? md`🌩️ *Storm*: ${i.hosts.length} Hosts lost at once since ${since}${i.hosts.length ? md`: ${i.hosts.slice(0, 20).join(', ')}${i.hosts.length > 20 ? md` and ${i.hosts.length - 20} more` : ''}` : ''}`
      : i.phase === 'recovering'
        ? md`🟡 *${i.host}* answers again, watched before it is resolved (lost since ${since})`
        : md`🔴 *${i.host}* lost since ${since}`;
  const who = ack ? md`acknowledged by ${mention(ack.by)} at ${clock(ack.at, now)}` : md`not acknowledged`;
  return md`${head} · ${who} · ${threadLink(i, o.linkBase)}`;
}

export const alertLines = (o: BoardSnapshot): Md[] => openAlerts(o).map((i) => alertLine(i, o));

// ------------------------------------------------------------------------------------------------ maintenance

/** Windows still running at `now` (an ended one stays on the board until the monitor has told its end). */
export const activeWindows = (maintenance: readonly Maintenance[], now: number): Maintenance[] =>
  maintenance.filter((m) => m.until > now);

/** `*host1* until 14:30:00 UTC (25 min left), set by @who — reason · announcement`. */
export function windowLine(m: Maintenance, o: Pick<BoardSnapshot, 'readAt' | 'incidents' | 'linkBase'>): Md {
  const now = o.readAt;
  const thread = o.incidents[maintenanceRecord(m.host)];
  return md`🔧 *${m.host}* until ${clock(m.until, now)} (${duration(m.until - now)} left), set by ${mention(m.by)}${m.reason ? md` — ${m.reason}` : ''}${thread?.maintenance?.id === m.id ? md` · ${threadLink(thread, o.linkBase, 'announcement')}` : ''}`;
}

export const windowLines = (o: BoardSnapshot): Md[] =>
  activeWindows(o.maintenance, o.readAt).map((m) => windowLine(m, o));

// ------------------------------------------------------------------------------------------------ Hosts

const STATE_ICON: Record<ProbeState, string> = {
  starting: '⚪',
  healthy: '🟢',
  suspect: '🟡',
  lost: '🔴',
  recovering: '🟠',
};

export const hostViewOf = (o: Pick<BoardSnapshot, 'view'>, host: string): HostView | undefined =>
  o.view?.hosts.find((h) => h.host === host);

/** What the monitor's probe says of a Host (as last seen, when the monitor is not running). */
export function probeText(v: HostView | undefined, running: boolean, now: number): Md {
  if (!v) return running ? md`❔ not watched by the monitor` : md`❔ unknown (monitor not running)`;
  const failing = v.failing.length ? md`, failing: ${v.failing.join(', ')}` : '';
  const problem = v.problem ? md` — \`${v.problem.slice(0, 200)}\`` : '';
  return md`${STATE_ICON[v.state]} ${v.state} since ${clock(v.since, now)}${failing}${problem}${running ? '' : md` (as last seen)`}`;
}

/** What the board says of one Host, in pieces: its probe state, its maintenance window, its open incident. */
export function hostBoardParts(
  host: string,
  o: BoardSnapshot,
  running: boolean,
): { view: HostView | undefined; probe: Md; window: Md | null; incident: Md | null } {
  const view = hostViewOf(o, host);
  const window = activeWindows(o.maintenance, o.readAt).find((m) => m.host === host);
  const incident = openIncidentOf(o, host);
  return {
    view,
    probe: probeText(view, running, o.readAt),
    window: window
      ? md`🔧 maintenance until ${clock(window.until, o.readAt)}${window.reason ? md` (${window.reason})` : ''}`
      : null,
    incident: incident
      ? md`${incident.phase === 'recovering' ? '🟡' : '🔴'} open incident (${threadLink(incident, o.linkBase)})`
      : null,
  };
}

/** One Home line per Host: the board's pieces and what the Manager said when the monitor last asked. */
export function hostLine(h: Pick<InventoryHost, 'name'>, o: BoardSnapshot, running: boolean): Md {
  const p = hostBoardParts(h.name, o, running);
  const parts = [md`*${h.name}* — ${p.probe}`, managerText(p.view?.manager, o.readAt), p.window, p.incident];
  return joinMd(
    parts.filter((x): x is Md => x !== null),
    ' · ',
  );
}

/** Counts by probe state, e.g. `3 healthy, 1 lost`. */
export function stateCounts(o: Overview): Md {
  const counts = new Map<string, number>();
  for (const h of o.hosts) {
    const s = hostViewOf(o, h.name)?.state ?? 'unknown';
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return md`${[...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`;
}

// ------------------------------------------------------------------------------------------------ Home tab

/** Slack's limit for a Home view. */
export const HOME_MAX_BLOCKS = 100;
/** Up to this many Hosts, every Host has its line; beyond, healthy ones are folded into one. */
export const HOME_LIST_ALL_UP_TO = 40;
const MAX_LINES = { alerts: 30, windows: 20, hosts: 60 } as const;

const header = (text: string): Block => ({
  type: 'header',
  text: { type: 'plain_text', text: text.slice(0, 150), emoji: true },
});

/** The first `max` lines, and a line saying how many were left out and where to see them. */
function capped(lines: readonly Md[], max: number, where: Md): Md[] {
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max), md`… and ${lines.length - max} more: ${where}`];
}

/** Names joined with `, ` within `budget` characters, then `and N more`. */
function foldNames(names: readonly string[], budget: number): Md {
  const shown: string[] = [];
  let size = 0;
  for (const n of names) {
    if (size + n.length + 2 > budget) break;
    shown.push(n);
    size += n.length + 2;
  }
  const rest = names.length - shown.length;
  return md`${shown.join(', ')}${rest ? md` and ${rest} more` : ''}`;
}

const lines = (title: string, body: readonly Md[]): Block[] =>
  sectionsFor(
    body.map((l) => l.mrkdwn),
    { title: `*${title}*` },
  );

/**
 * The app's Home tab for everyone: the monitor's state, the open incidents, the maintenance windows and the
 * Hosts, within Slack's 100 blocks and 3000 characters per section (long lists are cut with a note saying
 * which command lists everything; beyond 40 Hosts, healthy Hosts are folded into one line).
 */
export function homeView(o: Overview): { type: 'home'; blocks: Block[] } {
  const now = o.readAt;
  const status = monitorStatus(o.view, o.leaseMs, now);
  const alerts = alertLines(o);
  const windows = windowLines(o);
  const head: Block[] = [
    header('flexVDI cluster'),
    section(
      md`*${o.hosts.length} Hosts*: ${stateCounts(o)} · *${alerts.length}* open incident${alerts.length === 1 ? '' : 's'} · *${windows.length}* maintenance window${windows.length === 1 ? '' : 's'}`
        .mrkdwn,
    ),
    context(md`${status.line} Updated ${clock(now, now)}.`.mrkdwn),
    divider(),
  ];
  const body: Block[] = [
    ...lines(
      'Open incidents',
      alerts.length ? capped(alerts, MAX_LINES.alerts, md`\`/flexvdi alerts\` lists them all`) : [md`none`],
    ),
    ...lines(
      'Maintenance windows',
      windows.length
        ? capped(windows, MAX_LINES.windows, md`\`/flexvdi alerts\` lists them all`)
        : [md`none`],
    ),
    divider(),
    ...lines('Hosts', hostLines(o, status.running)),
  ];
  const tail: Block[] = [
    context(
      '`/flexvdi status`: every Host with the Manager and OCFS2 · `/flexvdi alerts` · `/flexvdi maintenance <host> --for 30m`',
    ),
  ];
  const room = HOME_MAX_BLOCKS - head.length - tail.length;
  const fitted =
    body.length <= room
      ? body
      : [
          ...body.slice(0, room - 1),
          context(
            `${body.length - (room - 1)} more blocks left out (Slack shows at most ${HOME_MAX_BLOCKS}): \`/flexvdi status\` and \`/flexvdi alerts\` list everything.`,
          ),
        ];
  return { type: 'home', blocks: [...head, ...fitted, ...tail] };
}

/** Every Host's line; beyond `HOME_LIST_ALL_UP_TO` Hosts, the healthy ones folded into one line. */
function hostLines(o: Overview, running: boolean): Md[] {
  if (!o.hosts.length) return [md`none in the inventory`];
  if (o.hosts.length <= HOME_LIST_ALL_UP_TO) return o.hosts.map((h) => hostLine(h, o, running));
  const quiet = (h: { name: string }) => {
    const p = hostBoardParts(h.name, o, running);
    return p.view?.state === 'healthy' && !p.window && !p.incident;
  };
  const calm = o.hosts.filter(quiet);
  const others = o.hosts.filter((h) => !quiet(h)).map((h) => hostLine(h, o, running));
  return [
    ...capped(others, MAX_LINES.hosts, md`\`/flexvdi status\` lists every Host`),
    ...(calm.length
      ? [
          md`🟢 ${calm.length} healthy, no incident, no maintenance: ${foldNames(
            calm.map((h) => h.name),
            2400,
          )}`,
        ]
      : []),
  ];
}
