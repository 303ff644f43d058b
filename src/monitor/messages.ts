/**
 * What the monitor posts: the incident's parent message (its state at a glance, edited as it changes) and one
 * reply per event in its thread. Every name that came from the inventory or the Manager goes through `md`.
 * Pure: the same event always renders the same message.
 */
import type { InventoryHost } from '../config.js';
import { joinMd, type Md, md, mdSchema, mention } from '../core/text.js';
import { actions, type Block, type ButtonSpec, context, section } from '../slack/blocks.js';
import { ALERT_ACTIONS, alertButtonValue } from './board.js';
import type { Signal } from './detector.js';
import type { Incident, LostRole, ManagerView, MonitorEvent } from './incidents.js';
import type { MonitorSettings } from './settings.js';

export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** `12:00:03 UTC` (the date too when it is not today's). */
export function clock(at: number, now = at): string {
  const iso = new Date(at).toISOString();
  const day = iso.slice(0, 10);
  const time = `${iso.slice(11, 19)} UTC`;
  return day === new Date(now).toISOString().slice(0, 10) ? time : `${day} ${time}`;
}

/** `2.5 s`, `42 s`, `1 min 7 s`, `2 h 5 min`. */
export function duration(ms: number): string {
  if (ms > 0 && ms < 10_000) return `${Number((ms / 1000).toFixed(1))} s`;
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 60)} h`;
}

const SIGNAL_TEXT: Record<Signal, (t: MonitorSettings) => string> = {
  heartbeat: (t) => `no heartbeat for ${duration(t.lostAfterMs)} or more (link down, Host frozen or down)`,
  sshd: () => 'sshd does not accept connections (nobody can log in or run a procedure on it)',
};

/** When a time from the Manager can be read, as a clock; else as the Manager wrote it. */
function managerTime(iso: string, now: number): Md {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? md`\`${iso.slice(0, 40)}\`` : md`${clock(t, now)}`;
}

/** What the Manager says of a Host: its status and last heartbeat (undefined: not known). */
export function managerText(
  m: ManagerView | undefined,
  now: number,
  label: 'Manager: ' | '' = 'Manager: ',
): Md {
  if (m === undefined) return md`${label}not known`;
  if (m === null) return md`${label}could not be read`;
  return md`${label}${m.status}${m.lastHeartbeat ? md`, last heartbeat ${managerTime(m.lastHeartbeat, now)}` : ''}`;
}

function hostTitle(h: InventoryHost | undefined, name: string): Md {
  return h ? md`*${h.name}* (\`${h.fqdn}\`, ${h.ip})` : md`*${name}*`;
}

const stormTitle = (hosts: readonly string[]) => joinMd(hosts.map((h) => md`*${h}*`));

/**
 * The buttons of an open Host (or storm) incident: acknowledge, diagnose, replace, and what the plugins offer
 * for the Host (e.g. start the Manager it ran on another Host; at most 5 offers, Slack's limit per block is 25).
 */
function buttons(i: Incident, roles: readonly LostRole[]): Block[] {
  const value = alertButtonValue({ incident: i.id, host: i.host });
  const b: ButtonSpec[] = [];
  if (!i.ack) b.push({ text: 'Acknowledge', actionId: ALERT_ACTIONS.acknowledge, value, style: 'primary' });
  if (i.kind === 'host') {
    b.push({ text: 'Diagnose', actionId: ALERT_ACTIONS.diagnose, value });
    b.push({ text: 'Replace host…', actionId: ALERT_ACTIONS.replace, value });
    for (const o of roles.flatMap((r) => r.offers ?? []).slice(0, 5))
      b.push({
        text: o.label,
        actionId: `${ALERT_ACTIONS.offer}:${o.command}:${o.host}`.slice(0, 255),
        value: alertButtonValue({ incident: i.id, host: i.host, run: o.command, on: o.host }),
      });
  }
  return b.length ? [actions(`alert-${i.id}`.slice(0, 255), b)] : [];
}

/** `• node 2 of OCFS2 cluster x: the other nodes evict it at ~12:00:33 UTC (in 27 s); …` */
function roleLine(r: LostRole, lostAt: number, now: number): Md {
  const role = mdSchema.parse(r.role);
  const when = (r.onLoss ?? []).map((d) => {
    const at = lostAt + d.afterMs;
    const left = at > now ? md` (in ${duration(at - now)})` : md` (passed)`;
    return md`${mdSchema.parse(d.what)} at ~${clock(at, now)}${left}`;
  });
  return when.length ? md`• ${role}: ${joinMd(when, md`; `)}` : md`• ${role}`;
}

const ackLine = (i: Incident, now: number): Block[] =>
  i.ack ? [context(String(md`Acknowledged by ${mention(i.ack.by)} at ${clock(i.ack.at, now)}`))] : [];

/** The parent of a maintenance window: muted until when, by whom, why; or ended. */
function maintenanceParent(i: Incident, h: InventoryHost | undefined, now: number): SlackMessage {
  const title = hostTitle(h, i.host);
  const m = i.maintenance;
  const why = m?.reason ? md` — ${m.reason}` : md``;
  const by = m ? mention(m.by) : md`someone`;
  const head =
    i.state === 'resolved' && i.resolvedAt !== null
      ? md`🔧 ${title}: maintenance ended at ${clock(i.resolvedAt, now)}; its alerts are on again`
      : md`🔧 ${title} is in maintenance until ${clock(m?.until ?? now, now)} (set by ${by}${why}): its heartbeat alerts are muted until then`;
  return {
    text: String(head),
    blocks: [
      section(String(head)),
      context(`maintenance \`${i.id}\` · \`/flexvdi maintenance\` lists the windows`),
    ],
  };
}

/** The parent of a storm: many Hosts lost at once. */
function stormParent(i: Incident, t: MonitorSettings, now: number, total: number): SlackMessage {
  let head: Md;
  if (i.state === 'resolved' && i.resolvedAt !== null) {
    head = md`✅ Storm over at ${clock(i.resolvedAt, now)} (began ${clock(i.lostAt, now)}, ${duration(i.resolvedAt - i.lostAt)})`;
  } else if (i.phase === 'recovering') {
    head = md`🟡 Storm easing: ${i.hosts.length} of ${total} Hosts still lost (${stormTitle(i.hosts)}), since ${clock(i.lostAt, now)}`;
  } else {
    head = md`🔴 ${i.hosts.length} of ${total} Hosts lost at once since ${clock(i.lostAt, now)}: ${stormTitle(i.hosts)}`;
  }
  const body =
    i.state === 'resolved'
      ? i.hosts.length
        ? md`Still lost: ${stormTitle(i.hosts)} — each has its own thread now.`
        : md`Every Host answers again.`
      : md`So many at once usually means the path between the monitor and the Hosts (its network, a switch, the monitor's own machine) rather than the Hosts themselves: check that first. One thread for all of them; no thread per Host while it lasts.`;
  return {
    text: String(head),
    blocks: [
      section(String(head)),
      section(String(body)),
      ...ackLine(i, now),
      ...(i.state === 'open' ? buttons(i, []) : []),
      context(
        `storm \`${i.id}\` · updates in this thread · over when the Hosts are back for ${duration(t.recoverAfterMs)}`,
      ),
    ],
  };
}

/** The parent message: open (lost or recovering) or resolved; a storm's or a maintenance window's. */
export function parentMessage(
  i: Incident,
  h: InventoryHost | undefined,
  manager: ManagerView,
  problem: string | null,
  t: MonitorSettings,
  now: number,
  total = 0,
  roles: readonly LostRole[] = [],
): SlackMessage {
  if (i.kind === 'maintenance') return maintenanceParent(i, h, now);
  if (i.kind === 'storm') return stormParent(i, t, now, total);
  const title = hostTitle(h, i.host);
  let head: Md;
  if (i.state === 'resolved' && i.resolvedAt !== null) {
    head = md`✅ ${title} is back: lost at ${clock(i.lostAt, now)}, answering since ${clock(i.resolvedAt, now)} (down ${duration(i.resolvedAt - i.lostAt)})`;
  } else if (i.phase === 'recovering') {
    head = md`🟡 ${title} answers again, watched for ${duration(t.recoverAfterMs)} before this is resolved (lost at ${clock(i.lostAt, now)})`;
  } else {
    head = md`🔴 ${title} is lost since ${clock(i.lostAt, now)}`;
  }
  const lines: Md[] =
    i.state === 'resolved'
      ? []
      : [
          ...i.failing.map((s) => md`• ${SIGNAL_TEXT[s](t)}`),
          ...(problem ? [md`• Connection: \`${problem.slice(0, 300)}\``] : []),
          md`• ${managerText(manager, now)}`,
          ...roles.map((r) => roleLine(r, i.lostAt, now)),
          ...(i.flaps ? [md`• Lost ${i.flaps + 1} times since ${clock(i.openedAt, now)} (flapping)`] : []),
        ];
  const body = lines.map(String).join('\n');
  return {
    text: String(head),
    blocks: [
      section(String(head)),
      ...(body ? [section(body)] : []),
      ...(i.toldLate
        ? [
            context(
              'Told late: this happened while the monitor could not reach Redis, and is posted now that it can.',
            ),
          ]
        : []),
      ...ackLine(i, now),
      ...(i.state === 'open' && !i.toldLate ? buttons(i, roles) : []),
      context(
        `incident \`${i.id}\` · updates in this thread · resolved after ${duration(t.recoverAfterMs)} of health`,
      ),
    ],
  };
}

/** The thread reply for an event (the `opened` event's reply is the parent itself: null). */
export function replyFor(e: MonitorEvent, t: MonitorSettings): SlackMessage | null {
  const i = e.incident;
  const signals = i.failing.map((s) => SIGNAL_TEXT[s](t)).join('; ');
  let m: Md;
  switch (e.kind) {
    case 'opened':
      return null;
    case 'signals':
      m =
        i.kind === 'storm'
          ? md`Lost at ${clock(e.at)}: ${stormTitle(i.hosts)} (${i.hosts.length}).`
          : md`Now failing at ${clock(e.at)}: ${signals || 'nothing'}.`;
      break;
    case 'recovering':
      m =
        i.kind === 'storm'
          ? md`Hosts answering again at ${clock(e.at)}; still lost: ${i.hosts.length ? stormTitle(i.hosts) : 'none'}.`
          : md`Answering again at ${clock(e.at)}; resolved after ${duration(t.recoverAfterMs)} without a failure.`;
      break;
    case 'relapsed':
      m =
        i.kind === 'storm'
          ? md`Worse again at ${clock(e.at)}: ${stormTitle(i.hosts)} lost.`
          : md`Lost again at ${clock(e.at)} before it had recovered: ${signals}.`;
      break;
    case 'resolved':
      m =
        i.kind === 'maintenance'
          ? i.maintenance?.endedBy
            ? md`Maintenance ended early by ${mention(i.maintenance.endedBy)} at ${clock(e.at)}: alerts for ${i.host} are on again.`
            : md`Maintenance over at ${clock(e.at)}: alerts for ${i.host} are on again.`
          : i.kind === 'storm'
            ? md`✅ Storm over at ${clock(e.at)}, after ${duration(e.at - i.lostAt)}.${i.hosts.length ? md` Still lost: ${stormTitle(i.hosts)} — each gets its own thread.` : ''}`
            : md`✅ Recovered at ${clock(e.at)}, after ${duration(e.at - i.lostAt)} down.`;
      break;
    case 'reopened':
      m =
        i.kind === 'storm'
          ? md`🔴 Storm again at ${clock(e.at)}, within ${duration(t.flapWindowMs)} of the last: ${stormTitle(i.hosts)}.`
          : md`🔴 Lost again at ${clock(e.at)}, within ${duration(t.flapWindowMs)} of recovering: this thread continues (${i.flaps + 1} losses). ${signals}.`;
      break;
    case 'acknowledged':
      m = md`👀 Acknowledged by ${mention(i.ack?.by ?? '')} at ${clock(i.ack?.at ?? e.at)}: no more reminders.`;
      break;
    case 'reminder':
      m = md`⏰ Still lost after ${duration(e.at - i.lostAt)} and nobody has acknowledged it.`;
      break;
    case 'changed':
      m = md`Maintenance window changed: now until ${clock(i.maintenance?.until ?? e.at)}${i.maintenance?.reason ? md` — ${i.maintenance.reason}` : ''}.`;
      break;
  }
  return { text: String(m), blocks: [section(String(m))] };
}
