/**
 * What every Web API method of the double shares: reading arguments the way Slack reads them (form values are
 * strings, JSON bodies may carry numbers and booleans), the `{ ok, error }` body, and a message as Slack
 * renders it in API responses and interaction payloads.
 */
import type { RecordedMessage, SlackStore } from './store.js';
import { SLACK_DOUBLE_IDS as IDS } from './workspace.js';

export type ApiParams = Record<string, unknown>;
export type ApiBody = Record<string, unknown> & { ok: boolean };
export type Handler = (p: ApiParams, store: SlackStore, baseUrl: string) => ApiBody;

export const ok = (extra: Record<string, unknown> = {}): ApiBody => ({ ok: true, ...extra });
export const fail = (error: string, messages: string[] = []): ApiBody => ({
  ok: false,
  error,
  ...(messages.length ? { response_metadata: { messages } } : {}),
});

/** A string argument (form values are strings; JSON bodies may carry numbers). */
export function str(p: ApiParams, name: string): string | undefined {
  const v = p[name];
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A boolean argument: WebClient sends `true` as the form value "true"; Slack also takes 1. */
export function flag(p: ApiParams, name: string): boolean {
  const v = p[name];
  return v === true || v === 1 || v === 'true' || v === '1';
}

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface MessageJsonOptions {
  /** Default true; conversations.history / .replies return metadata only with `include_all_metadata`. */
  metadata?: boolean;
  /** The ts of a thread parent's newest reply, where the caller knows it. */
  latestReply?: string | undefined;
}

/** A message as Slack returns it in API responses and interaction payloads. */
export function messageJson(m: RecordedMessage, o: MessageJsonOptions = {}): Record<string, unknown> {
  return {
    type: 'message',
    ...(m.broadcast ? { subtype: 'thread_broadcast' } : {}),
    user: m.user,
    ...(m.user === IDS.botUserId ? { bot_id: IDS.botId, app_id: IDS.appId } : {}),
    text: m.text,
    ts: m.ts,
    team: IDS.teamId,
    blocks: m.blocks,
    ...(m.threadTs === undefined ? {} : { thread_ts: m.threadTs }),
    ...(m.replyCount > 0 ? { thread_ts: m.ts, reply_count: m.replyCount } : {}),
    ...(m.replyCount > 0 && o.latestReply !== undefined ? { latest_reply: o.latestReply } : {}),
    ...(m.metadata === undefined || o.metadata === false ? {} : { metadata: m.metadata }),
  };
}
