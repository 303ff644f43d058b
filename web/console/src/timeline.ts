/** Ordering what a channel or a thread shows: messages and the acting user's ephemerals, by ts. */
import type { ConsoleMessage, Ephemeral } from './api.ts';

export type Entry =
  | { kind: 'message'; message: ConsoleMessage }
  | { kind: 'ephemeral'; ephemeral: Ephemeral };

const tsOf = (e: Entry) => Number(e.kind === 'message' ? e.message.ts : e.ephemeral.ts);

export function channelTimeline(
  messages: readonly ConsoleMessage[],
  ephemerals: readonly Ephemeral[],
  channel: string,
): Entry[] {
  return [
    ...messages.filter((m) => m.channel === channel).map((message): Entry => ({ kind: 'message', message })),
    ...ephemerals
      .filter((e) => e.channel === channel && !e.threadTs)
      .map((ephemeral): Entry => ({ kind: 'ephemeral', ephemeral })),
  ].sort((a, b) => tsOf(a) - tsOf(b));
}

export function threadTimeline(parent: ConsoleMessage, ephemerals: readonly Ephemeral[]): Entry[] {
  return [
    ...(parent.replies ?? []).map((message): Entry => ({ kind: 'message', message })),
    ...ephemerals
      .filter((e) => e.channel === parent.channel && e.threadTs === parent.ts)
      .map((ephemeral): Entry => ({ kind: 'ephemeral', ephemeral })),
  ].sort((a, b) => tsOf(a) - tsOf(b));
}

/** The newest activity of a channel (messages and replies), for its unread dot. */
export function lastActivity(messages: readonly ConsoleMessage[], channel: string): number {
  let last = 0;
  for (const m of messages) {
    if (m.channel !== channel) continue;
    last = Math.max(last, m.postedAt);
    for (const r of m.replies ?? []) last = Math.max(last, r.postedAt);
  }
  return last;
}
