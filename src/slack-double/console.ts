/**
 * The double's HTTP console for the demo and manual use: type a `/flexvdi` command or click a button as a
 * user would, and Slack's side (delivery to the bot, signed over HTTP or over its Socket Mode connection,
 * response_url, trigger_id, showing the ack body to the user) happens here. `curl` friendly: JSON or form bodies.
 */
import { isObj, messageJson } from './api-common.js';
import {
  ACK_TIMEOUT_MS,
  blockActionsPayload,
  type ClickedAction,
  type SendExtras,
  type SendResult,
  type SlashCommandFields,
} from './client.js';
import type { HttpAnswer, ResponseOrigin } from './response-urls.js';
import type { RecordedEphemeral, RecordedMessage, SlackStore } from './store.js';
import { newTriggerId, SLACK_DOUBLE_IDS } from './workspace.js';

export interface ConsoleHost {
  readonly store: SlackStore;
  readonly botUrl: string | undefined;
  readonly socketModeConnected: boolean;
  newResponseUrl(origin: ResponseOrigin): string;
  sendCommand(fields: SlashCommandFields, o: SendExtras): Promise<SendResult>;
  sendInteraction(payload: Record<string, unknown>, o: SendExtras): Promise<SendResult>;
  openHome(user: string, o: SendExtras): Promise<SendResult>;
}

export const unreachable = (host: ConsoleHost) => !host.botUrl && !host.socketModeConnected;

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const bad = (status: number, error: string): HttpAnswer => ({ status, body: { ok: false, error } });

export async function consoleCommand(host: ConsoleHost, p: Record<string, unknown>): Promise<HttpAnswer> {
  if (typeof p['text'] !== 'string') return bad(400, 'missing_text');
  if (unreachable(host)) return bad(409, 'bot_url_not_configured');
  const user = str(p['user']) ?? SLACK_DOUBLE_IDS.defaultUser;
  const channel = str(p['channel']) ?? SLACK_DOUBLE_IDS.defaultChannel;
  const responseUrl = host.newResponseUrl({ channel, user });
  const fields = {
    text: p['text'],
    userId: user,
    channelId: channel,
    responseUrl,
    triggerId: triggerFor(host.store, user),
  };
  const sent = await deliver(() => host.sendCommand(fields, { timeoutMs: ACK_TIMEOUT_MS }));
  showAck(host.store, channel, user, sent);
  return answer(sent, { responseUrl });
}

export async function consoleClick(host: ConsoleHost, p: Record<string, unknown>): Promise<HttpAnswer> {
  const channel = str(p['channel']);
  const ts = str(p['ts']);
  const actionId = str(p['actionId']) ?? str(p['action_id']);
  if (!channel || !ts || !actionId) return bad(400, 'missing_channel_ts_or_action_id');
  if (unreachable(host)) return bad(409, 'bot_url_not_configured');
  const message: RecordedMessage | RecordedEphemeral | undefined =
    host.store.findMessage(channel, ts) ?? host.store.findEphemeral(channel, ts);
  if (!message) return bad(404, 'message_not_found');
  const isEphemeral = !('replyCount' in message);
  const user = str(p['user']) ?? (isEphemeral ? message.user : SLACK_DOUBLE_IDS.defaultUser);
  if (isEphemeral && user !== message.user) return bad(404, 'message_not_found'); // only its user sees it
  const found = findAction(message.blocks, actionId);
  if (!found) return bad(404, 'action_not_found');
  const threadTs = message.threadTs;
  const origin = { channel, user, messageTs: ts, isEphemeral, ...(threadTs ? { threadTs } : {}) };
  const responseUrl = host.newResponseUrl(origin);
  const fields = {
    userId: user,
    channelId: channel,
    responseUrl,
    triggerId: triggerFor(host.store, user),
    messageTs: ts,
    isEphemeral,
    action: clickedAction(found),
    ...(threadTs ? { threadTs } : {}),
    ...(isEphemeral ? {} : { message: messageJson(message as RecordedMessage) }),
  };
  const sent = await deliver(() =>
    host.sendInteraction(blockActionsPayload(fields), { timeoutMs: ACK_TIMEOUT_MS }),
  );
  return answer(sent, { responseUrl });
}

/** The user opens the app's Home tab (`app_home_opened`); the view the app publishes is in `/console/views`. */
export async function consoleHomeOpened(host: ConsoleHost, p: Record<string, unknown>): Promise<HttpAnswer> {
  if (unreachable(host)) return bad(409, 'bot_url_not_configured');
  const user = str(p['user']) ?? SLACK_DOUBLE_IDS.defaultUser;
  const sent = await deliver(() => host.openHome(user, { timeoutMs: ACK_TIMEOUT_MS }));
  return answer(sent, { user });
}

/** The views Slack holds (modals, Home tabs), optionally only `user`'s. */
export function consoleViews(store: SlackStore, user: string | undefined): HttpAnswer {
  const views = store.views().filter((v) => user === undefined || v.userId === user);
  return { status: 200, body: { ok: true, views } };
}

export function consoleMessages(store: SlackStore, channel: string | undefined): HttpAnswer {
  const messages = store.messages(channel).map((m) => ({ ...m, replies: store.thread(m.channel, m.ts) }));
  return { status: 200, body: { ok: true, messages, ephemerals: store.ephemerals(channel) } };
}

export const consoleHowto = (
  url: string,
): string => `flexvdi-chatops local Slack workspace (a Slack Web API double)

Web API (point SLACK_API_URL here):  POST /api/<method>   e.g. chat.postMessage, chat.update, views.open

Act as a Slack user:
  curl -s ${url}/console/command -H 'content-type: application/json' \\
       -d '{"text":"help"}'                       # runs "/flexvdi help" (user/channel optional)
  curl -s '${url}/console/messages?channel=${SLACK_DOUBLE_IDS.defaultChannel}'   # what the channel shows
  curl -s ${url}/console/click -H 'content-type: application/json' \\
       -d '{"channel":"${SLACK_DOUBLE_IDS.defaultChannel}","ts":"<message ts>","actionId":"<button action_id>"}'
  curl -s ${url}/console/home -d user=${SLACK_DOUBLE_IDS.defaultUser}   # opens the app's Home tab
  curl -s '${url}/console/views?user=${SLACK_DOUBLE_IDS.defaultUser}'      # the Home tab the app published

Defaults: user ${SLACK_DOUBLE_IDS.defaultUser}, channel ${SLACK_DOUBLE_IDS.defaultChannel}.
`;

type Delivery = { ok: true; result: SendResult } | { ok: false; error: string; timedOut: boolean };

export async function deliver(send: () => Promise<SendResult>): Promise<Delivery> {
  try {
    return { ok: true, result: await send() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, error: e.message, timedOut: e.code === 'ETIMEDOUT' };
  }
}

export function answer(d: Delivery, extra: Record<string, unknown>): HttpAnswer {
  if (!d.ok) {
    const error = d.timedOut ? 'operation_timeout' : 'dispatch_failed';
    return { status: 502, body: { ok: false, error, detail: d.error, ...extra } };
  }
  const { status, body, ms } = d.result;
  return { status: 200, body: { ok: status === 200, status, body, ms: Math.round(ms), ...extra } };
}

/**
 * What Slack shows the user after a slash command: the ack body (plain text, or JSON with text/blocks and
 * an optional response_type) or, when the app fails to answer, Slack's own failure notice.
 */
function showAck(store: SlackStore, channel: string, user: string, d: Delivery): void {
  const ephemeral = (text: string, blocks: unknown[] = []) =>
    store.postEphemeral({ channel, user, text, blocks, via: 'command_ack' });
  if (!d.ok || d.result.status !== 200) {
    const reason = !d.ok && d.timedOut ? 'operation_timeout' : 'dispatch_failed';
    ephemeral(`/flexvdi failed with the error "${reason}"`);
    return;
  }
  const raw = d.result.body.trim();
  if (raw === '') return;
  let ack: unknown = raw;
  try {
    ack = JSON.parse(raw);
  } catch {
    // a plain-text ack is shown as is
  }
  if (!isObj(ack)) {
    ephemeral(raw);
    return;
  }
  const text = typeof ack['text'] === 'string' ? ack['text'] : '';
  const blocks = Array.isArray(ack['blocks']) ? (ack['blocks'] as unknown[]) : [];
  if (!text && !blocks.length) return;
  if (ack['response_type'] === 'in_channel') {
    store.post({ channel, user: SLACK_DOUBLE_IDS.botUserId, text, blocks, via: 'command_ack' });
  } else ephemeral(text, blocks);
}

/** A fresh trigger id given to `user`: a modal the app opens with it is shown to them. */
export function triggerFor(store: SlackStore, user: string): string {
  const id = newTriggerId();
  store.noteTrigger(id, user);
  return id;
}

/** The clicked element as the payload describes it. */
export function clickedAction(found: { element: Record<string, unknown>; blockId: string }): ClickedAction {
  const el = found.element;
  return {
    actionId: String(el['action_id']),
    blockId: found.blockId,
    type: typeof el['type'] === 'string' ? el['type'] : 'button',
    ...(typeof el['value'] === 'string' ? { value: el['value'] } : {}),
    ...(typeof el['style'] === 'string' ? { style: el['style'] } : {}),
    ...(isObj(el['text']) && typeof el['text']['text'] === 'string' ? { text: el['text']['text'] } : {}),
  };
}

export function findAction(
  blocks: unknown[],
  actionId: string,
): { element: Record<string, unknown>; blockId: string } | undefined {
  for (const [i, block] of blocks.entries()) {
    if (!isObj(block)) continue;
    const candidates = [...(Array.isArray(block['elements']) ? block['elements'] : []), block['accessory']];
    const element = candidates.find(
      (e): e is Record<string, unknown> => isObj(e) && e['action_id'] === actionId,
    );
    // Slack generates a block_id for blocks posted without one; an index-based one stands in for it.
    if (element)
      return { element, blockId: typeof block['block_id'] === 'string' ? block['block_id'] : `b${i}` };
  }
  return undefined;
}
