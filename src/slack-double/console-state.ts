/**
 * What the browser console reads: one user's view of the workspace (channels, messages with their threads,
 * their own ephemerals, modals and Home tab), the Web API calls the app made (the inspector), a channel's
 * transcript, and in demo mode the cluster (its Hosts, with Fail and Heal).
 */
import { isObj } from './api-common.js';
import type { ClusterHost, ConsoleUser } from './console-contract.js';
import type { HttpAnswer } from './response-urls.js';
import type { RecordedMessage, SlackStore } from './store.js';
import { channelName, SLACK_DOUBLE_IDS, userName } from './workspace.js';

/** Who the console's user switcher offers: the app's admins, and one member who is not one. */
export function consoleUsersFor(admins: readonly string[]): ConsoleUser[] {
  return [
    ...admins.map((id, i) => ({ id, name: i === 0 ? 'admin' : `admin${i + 1}`, admin: true })),
    ...(admins.includes(SLACK_DOUBLE_IDS.operatorUser)
      ? []
      : [{ id: SLACK_DOUBLE_IDS.operatorUser, name: 'operator', admin: false }]),
  ];
}

export const DEFAULT_CONSOLE_USERS: readonly ConsoleUser[] = consoleUsersFor([SLACK_DOUBLE_IDS.defaultUser]);

export type { ClusterHost, ConsoleUser } from './console-contract.js';

/** The demo's cluster, as the console's cluster panel shows and drives it (the testbed, in `demo`). */
export interface ClusterPanel {
  status(): Promise<{ hosts: ClusterHost[]; modes: readonly string[] }>;
  fail(host: string, mode: string): Promise<void>;
  heal(host: string): Promise<void>;
}

/** `panel` with its status read at most once per `ttlMs` (a Fail or Heal reads it again at once). */
export function cachedPanel(panel: ClusterPanel, ttlMs: number): ClusterPanel {
  let last: { at: number; status: ReturnType<ClusterPanel['status']> } | undefined;
  return {
    status() {
      if (!last || Date.now() - last.at >= ttlMs) {
        const read = { at: Date.now(), status: panel.status() };
        read.status.catch(() => {
          if (last === read) last = undefined; // a failed read is not kept
        });
        last = read;
      }
      return last.status;
    },
    async fail(host, mode) {
      last = undefined;
      await panel.fail(host, mode);
    },
    async heal(host) {
      last = undefined;
      await panel.heal(host);
    },
  };
}

export interface ConsoleView {
  readonly store: SlackStore;
  readonly users: readonly ConsoleUser[];
  readonly cluster: ClusterPanel | undefined;
}

const CHANNELS = [SLACK_DOUBLE_IDS.defaultChannel, SLACK_DOUBLE_IDS.alertChannel];

function nameOf(c: ConsoleView, id: string): string {
  return c.users.find((u) => u.id === id)?.name ?? userName(id);
}

const withName = (c: ConsoleView, m: RecordedMessage) => ({ ...m, userName: nameOf(c, m.user) });

export async function consoleState(c: ConsoleView, user: string | undefined): Promise<HttpAnswer> {
  const who = user ?? SLACK_DOUBLE_IDS.defaultUser;
  const { store } = c;
  const seen = new Set(store.messages().map((m) => m.channel));
  const channels = [...new Set([...CHANNELS, ...seen])].map((id) => ({ id, name: channelName(id) }));
  const messages = store.messages().map((m) => ({
    ...withName(c, m),
    replies: store.thread(m.channel, m.ts).map((r) => withName(c, r)),
  }));
  const views = store.views().filter((v) => v.userId === who);
  return {
    status: 200,
    body: {
      ok: true,
      version: store.version,
      workspace: {
        teamName: SLACK_DOUBLE_IDS.teamName,
        botName: SLACK_DOUBLE_IDS.botName,
        botUserId: SLACK_DOUBLE_IDS.botUserId,
      },
      users: c.users,
      channels,
      messages,
      ephemerals: store.ephemerals(undefined, who),
      views,
      cluster: c.cluster ? await c.cluster.status() : null,
    },
  };
}

/** `POST /console/cluster/fail {host, mode}` and `/console/cluster/heal {host}`: demo mode only. */
export async function consoleClusterAction(
  c: ConsoleView,
  method: string | undefined,
  action: string,
  p: Record<string, unknown>,
): Promise<HttpAnswer> {
  const cluster = c.cluster;
  if (!cluster || method !== 'POST' || (action !== 'fail' && action !== 'heal'))
    return { status: 404, body: { ok: false, error: 'not_found' } };
  const host = typeof p['host'] === 'string' ? p['host'] : '';
  try {
    const { hosts, modes } = await cluster.status();
    if (!hosts.some((h) => h.name === host))
      return { status: 400, body: { ok: false, error: 'unknown_host' } };
    if (action === 'heal') await cluster.heal(host);
    else {
      const mode = typeof p['mode'] === 'string' ? p['mode'] : '';
      if (!modes.includes(mode)) return { status: 400, body: { ok: false, error: 'unknown_mode', modes } };
      await cluster.fail(host, mode);
    }
  } catch (err) {
    return {
      status: 500,
      body: { ok: false, error: 'cluster_action_failed', detail: (err as Error).message },
    };
  }
  c.store.touch(); // the page refetches: the panel shows the new state
  return { status: 200, body: { ok: true } };
}

/** Every Web API call the app made (tokens are never recorded), numbered, from `since` on. */
export function consoleCalls(store: SlackStore, since: number): HttpAnswer {
  const calls = store
    .calls()
    .map((call, seq) => ({ seq, ...call }))
    .slice(Math.max(0, since));
  return { status: 200, body: { ok: true, calls } };
}

/** A channel's conversation, threads included: Markdown for people, JSON for programs. */
export function consoleTranscript(
  c: ConsoleView,
  channel: string,
  format: 'md' | 'json',
): { type: string; filename: string; text: string } {
  const name = channelName(channel);
  const messages = c.store.messages(channel).map((m) => ({
    ...withName(c, m),
    replies: c.store.thread(channel, m.ts).map((r) => withName(c, r)),
  }));
  const stamp = new Date().toISOString();
  if (format === 'json') {
    const text = JSON.stringify({ channel: { id: channel, name }, exportedAt: stamp, messages }, null, 2);
    return { type: 'application/json', filename: `${name}-transcript.json`, text };
  }
  const line = (m: RecordedMessage & { userName: string }, indent: string) =>
    `${indent}**${m.userName}** · ${new Date(m.postedAt).toISOString()}${m.editCount ? ' (edited)' : ''}\n` +
    [m.text, ...blockTexts(m.blocks)]
      .join('\n')
      .split('\n')
      .map((l) => `${indent}${l}`)
      .join('\n');
  const body = messages
    .map((m) => [line(m, ''), ...m.replies.map((r) => line(r, '> '))].join('\n\n'))
    .join('\n\n---\n\n');
  return {
    type: 'text/markdown; charset=utf-8',
    filename: `${name}-transcript.md`,
    text: `# #${name} (${SLACK_DOUBLE_IDS.teamName})\n\nExported ${stamp}.\n\n${body}\n`,
  };
}

/** The words a reader sees in Block Kit blocks (headers, sections and their fields, context, buttons). */
function blockTexts(blocks: unknown[]): string[] {
  const out: string[] = [];
  const text = (t: unknown) => {
    if (isObj(t) && typeof t['text'] === 'string') out.push(t['text']);
  };
  for (const b of blocks) {
    if (!isObj(b)) continue;
    text(b['text']);
    for (const f of Array.isArray(b['fields']) ? b['fields'] : []) text(f);
    for (const e of Array.isArray(b['elements']) ? b['elements'] : []) {
      if (isObj(e) && e['type'] === 'button')
        out.push(`[${isObj(e['text']) ? String(e['text']['text']) : ''}]`);
      else text(e);
    }
  }
  return out;
}
