/**
 * What the monitor posts: the incident's parent message (its state at a glance, edited as it changes) and one
 * reply per event in its thread. Every name that came from the inventory or the Manager goes through `md`.
 * Pure: the same event always renders the same message.
 */
import type { InventoryHost } from '../config.js';
import { type Md, md } from '../core/text.js';
import { type Block, context, section } from '../slack/blocks.js';
import type { Signal } from './detector.js';
import type { Incident, ManagerView, MonitorEvent } from './incidents.js';
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

const managerLine = (m: ManagerView): Md =>
  m
    ? md`• Manager: ${m.status}${m.lastHeartbeat ? md`, last heartbeat ${clock(Date.parse(m.lastHeartbeat))}` : ''}`
    : md`• Manager: could not be read`;

function hostTitle(h: InventoryHost | undefined, name: string): Md {
  return h ? md`*${h.name}* (\`${h.fqdn}\`, ${h.ip})` : md`*${name}*`;
}

/** The parent message: open (lost or recovering) or resolved. */
export function parentMessage(
  i: Incident,
  h: InventoryHost | undefined,
  manager: ManagerView,
  problem: string | null,
  t: MonitorSettings,
  now: number,
): SlackMessage {
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
          managerLine(manager),
          ...(i.flaps ? [md`• Lost ${i.flaps + 1} times since ${clock(i.openedAt, now)} (flapping)`] : []),
        ];
  const body = lines.map(String).join('\n');
  return {
    text: String(head),
    blocks: [
      section(String(head)),
      ...(body ? [section(body)] : []),
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
      m = md`Now failing at ${clock(e.at)}: ${signals || 'nothing'}.`;
      break;
    case 'recovering':
      m = md`Answering again at ${clock(e.at)}; resolved after ${duration(t.recoverAfterMs)} without a failure.`;
      break;
    case 'relapsed':
      m = md`Lost again at ${clock(e.at)} before it had recovered: ${signals}.`;
      break;
    case 'resolved':
      m = md`✅ Recovered at ${clock(e.at)}, after ${duration(e.at - i.lostAt)} down.`;
      break;
    case 'reopened':
      m = md`🔴 Lost again at ${clock(e.at)}, within ${duration(t.flapWindowMs)} of recovering: this thread continues (${i.flaps + 1} losses). ${signals}.`;
      break;
  }
  return { text: String(m), blocks: [section(String(m))] };
}
