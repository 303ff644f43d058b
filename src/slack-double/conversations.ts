/**
 * conversations.history and conversations.replies as Slack answers them (docs.slack.dev reference pages):
 * history is the channel's timeline newest first (thread replies only when broadcast), replies is a thread
 * oldest first with its parent leading the first page. Both take oldest / latest (exclusive unless
 * `inclusive`), limit (clamped) and cursor, answer `has_more` and `response_metadata.next_cursor`, and return
 * message metadata only with `include_all_metadata`.
 */
import { Buffer } from 'node:buffer';
import {
  type ApiBody,
  type ApiParams,
  fail,
  flag,
  type Handler,
  messageJson,
  ok,
  str,
} from './api-common.js';
import type { RecordedMessage } from './store.js';

interface Limits {
  default: number;
  max: number;
}
/** history: 100 by default, at most 999; replies: 1000 by default and at most. Larger limits are clamped. */
const LIMITS = {
  history: { default: 100, max: 999 },
  replies: { default: 1000, max: 1000 },
} as const satisfies Record<string, Limits>;

interface Page {
  messages: RecordedMessage[];
  nextCursor: string | undefined;
}

export const CONVERSATION_READS: Record<string, Handler> = {
  'conversations.history': (p, store) => {
    const channel = str(p, 'channel');
    if (!channel) return fail('channel_not_found');
    const all = store.channelMessages(channel);
    const timeline = all.filter((m) => m.threadTs === undefined || m.broadcast).reverse();
    const page = paginate(timeline, p, LIMITS.history, true);
    if ('error' in page) return page.error;
    return ok({ ...pageJson(page, all, p), pin_count: 0 });
  },

  'conversations.replies': (p, store) => {
    const channel = str(p, 'channel');
    if (!channel) return fail('channel_not_found');
    const ts = str(p, 'ts');
    if (!ts) return fail('invalid_arguments', ['[ERROR] missing required field: ts [json-pointer:/ts]']);
    const target = store.findMessage(channel, ts);
    if (!target) return fail('thread_not_found');
    const root = target.threadTs ?? target.ts; // a reply's ts means its whole thread
    const all = store.channelMessages(channel);
    const thread = all.filter((m) => m.ts === root || m.threadTs === root);
    const page = paginate(thread, p, LIMITS.replies, false);
    if ('error' in page) return page.error;
    return ok(pageJson(page, all, p));
  },
};

/**
 * One page of `ordered` (already in the method's order): the messages inside the oldest/latest window, from
 * the cursor's message on, at most `limit` of them.
 */
function paginate(
  ordered: RecordedMessage[],
  p: ApiParams,
  limits: Limits,
  newestFirst: boolean,
): Page | { error: ApiBody } {
  const oldest = bound(p, 'oldest');
  const latest = bound(p, 'latest');
  if (oldest === null) return { error: fail('invalid_ts_oldest') };
  if (latest === null) return { error: fail('invalid_ts_latest') };
  const inclusive = flag(p, 'inclusive');
  const cursorArg = str(p, 'cursor');
  const from = cursorArg === undefined ? undefined : decodeCursor(cursorArg);
  if (from === null) return { error: fail('invalid_cursor') };
  const inWindow = ordered.filter((m) => {
    const t = micros(m.ts) ?? 0;
    if (oldest !== undefined && (inclusive ? t < oldest : t <= oldest)) return false;
    if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
    if (from === undefined) return true;
    return newestFirst ? t <= from : t >= from;
  });
  const messages = inWindow.slice(0, limitOf(p, limits));
  const next = inWindow[messages.length];
  return { messages, nextCursor: next && encodeCursor(next.ts) };
}

function pageJson(page: Page, all: readonly RecordedMessage[], p: ApiParams): Record<string, unknown> {
  const latestReply = new Map<string, string>(); // `all` is oldest first: the last reply seen wins
  for (const m of all) if (m.threadTs !== undefined) latestReply.set(m.threadTs, m.ts);
  const metadata = flag(p, 'include_all_metadata');
  return {
    messages: page.messages.map((m) => messageJson(m, { metadata, latestReply: latestReply.get(m.ts) })),
    has_more: page.nextCursor !== undefined,
    ...(page.nextCursor === undefined ? {} : { response_metadata: { next_cursor: page.nextCursor } }),
  };
}

function limitOf(p: ApiParams, limits: Limits): number {
  const n = Number(str(p, 'limit'));
  return Number.isInteger(n) && n > 0 ? Math.min(n, limits.max) : limits.default;
}

/** A ts as whole microseconds, so "1700000000.5" and "1700000000.500000" are the same instant. */
function micros(ts: string): number | undefined {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(ts);
  if (!m?.[1]) return undefined;
  return Number(m[1]) * 1e6 + Number((m[2] ?? '').slice(0, 6).padEnd(6, '0'));
}

/** An oldest/latest argument: undefined when absent, null when it is not a timestamp. */
function bound(p: ApiParams, name: string): number | undefined | null {
  const v = str(p, name);
  return v === undefined ? undefined : (micros(v) ?? null);
}

/** Slack's cursors are opaque base64; this one says where the next page starts, as Slack's do. */
const encodeCursor = (ts: string) => Buffer.from(`next_ts:${ts}`).toString('base64');

function decodeCursor(cursor: string): number | null {
  const ts = /^next_ts:(\d+\.\d{6})$/.exec(Buffer.from(cursor, 'base64').toString('utf8'))?.[1];
  return ts === undefined ? null : (micros(ts) ?? null);
}
