/**
 * Posts what the monitor owes Slack, in order, once: the outbox's head event is posted, then dequeued.
 * - Each post starts only while this replica leads with a margin of its lease left, and is marked (who,
 *   when) first. A successor that finds the mark waits until the predecessor's post must have ended, then
 *   looks for the message — every post carries its event's sequence number and incident as Slack message
 *   metadata — from the time of the mark on, instead of posting it again.
 * - While Slack cannot be reached or rate-limits, the head waits (Retry-After honoured) and everything
 *   behind it keeps its order. An event Slack refuses for good (channel gone, bot not in it, scope missing)
 *   goes to the dead list with the error, logged as an error, so the alerts behind it still go out.
 * - Posts in the alert channel are spaced by at least a second (Slack's chat.postMessage rate per channel):
 *   `drain` returns rather than wait, and the next tick goes on.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { CANNOT_POST, retryAfterMs, slackErrorOf } from '../slack/updater.js';
import type { IncidentStore, MonitorEvent } from './incidents.js';
import { parentMessage, replyFor, type SlackMessage } from './messages.js';

const EVENT_TYPE = 'flexvdi_monitor_event';
const POST_SPACING_MS = 1000;
/** Longest a post can take (the Slack client's timeout) plus slack: after it, an attempt has ended. */
export const POST_TIMEOUT_MS = 10_000;
const ATTEMPT_SETTLED_MS = POST_TIMEOUT_MS + 2000;
/** Slack errors that will not go away by waiting. */
const PERMANENT = new Set([
  ...CANNOT_POST,
  'missing_scope',
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'invalid_arguments',
  'thread_not_found',
]);

interface Metadata {
  event_type?: string;
  event_payload?: Record<string, unknown>;
}
type Listed = { ts?: string; metadata?: Metadata }[] | undefined;

export interface PosterDeps {
  config: Config;
  store: IncidentStore;
  slack: WebClient;
  log: Logger;
  now?: () => number;
}

class NotLeading extends Error {}
class Unrenderable extends Error {}

export class Poster {
  #lastPostAt = 0;
  #failures = 0;
  #blockedUntil = 0;
  #pending = true;
  /** The store's cue when the outbox was last found empty (-1: never). */
  #emptyAtCue = -1;

  constructor(private readonly d: PosterDeps) {}

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  /**
   * True unless the outbox was found empty and nothing can have been queued since (the monitor then decides
   * less often). Only the leader queues events, through this process's IncidentStore, whose `cue` moves
   * when it does (or takes the lead: the replica before may have left events).
   */
  get pending(): boolean {
    return this.#pending || this.d.store.cue !== this.#emptyAtCue;
  }

  /** Posts the outbox's events in order until it is empty, Slack fails, or this replica stops leading. */
  async drain(): Promise<void> {
    if (!this.pending || this.now() < this.#blockedUntil) return;
    this.#pending = true;
    for (;;) {
      // Spaced by a second in the alert channel: rather than wait here (and hold up the monitor's next
      // decision), the next tick's drain posts it.
      if (this.now() < this.#lastPostAt + POST_SPACING_MS) return;
      const cue = this.d.store.cue;
      const e = await this.d.store.head();
      if (!e) {
        this.#pending = false;
        this.#emptyAtCue = cue;
        return;
      }
      try {
        if (!(await this.deliver(e))) return;
        this.#failures = 0;
      } catch (err) {
        if (err instanceof NotLeading) return;
        const code = err instanceof Unrenderable ? `render_failed: ${err.message}` : slackErrorOf(err);
        if (err instanceof Unrenderable || PERMANENT.has(code)) {
          this.d.log.error(
            { seq: e.seq, kind: e.kind, host: e.host, err: code, channel: e.incident.channel },
            'Slack refused an alert event for good: moved to the dead list; check slack.alertChannel and that the bot is in it',
          );
          if ((await this.d.store.deadLetter(e, code)) !== 'ok') return;
          continue;
        }
        const after = retryAfterMs(err);
        const wait = after ?? Math.min(30_000, 500 * 2 ** Math.min(this.#failures, 6));
        this.#failures++;
        this.#blockedUntil = this.now() + wait;
        this.d.log.warn(
          { seq: e.seq, kind: e.kind, host: e.host, err: code, retryInMs: wait },
          'could not post an alert event; it stays first in line',
        );
        return;
      }
    }
  }

  /** The message of event `e` among `messages`: same sequence number, incident and kind. */
  private static find(messages: Listed, e: MonitorEvent): string | undefined {
    return messages?.find((m) => {
      const p = m.metadata?.event_type === EVENT_TYPE ? m.metadata.event_payload : undefined;
      return p?.['seq'] === e.seq && p['incident'] === e.incidentId && p['kind'] === e.kind;
    })?.ts;
  }

  /** An earlier attempt's message, if it posted one: history (or the thread) since the attempt, every page. */
  private async lookup(e: MonitorEvent, since: number, threadTs: string | null): Promise<string | undefined> {
    const { slack } = this.d;
    const channel = e.incident.channel;
    const oldest = ((since - 60_000) / 1000).toFixed(6);
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = threadTs
        ? await slack.conversations.replies({
            channel,
            ts: threadTs,
            oldest,
            include_all_metadata: true,
            limit: 200,
            ...(cursor ? { cursor } : {}),
          })
        : await slack.conversations.history({
            channel,
            oldest,
            include_all_metadata: true,
            limit: 200,
            ...(cursor ? { cursor } : {}),
          });
      const found = Poster.find(r.messages as Listed, e);
      if (found) return found;
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) return undefined;
    }
    return undefined;
  }

  private async post(channel: string, m: SlackMessage, e: MonitorEvent, threadTs?: string): Promise<string> {
    this.#lastPostAt = this.now();
    const r = await this.d.slack.chat.postMessage({
      channel,
      text: m.text,
      blocks: m.blocks as never,
      metadata: {
        event_type: EVENT_TYPE,
        event_payload: { seq: e.seq, incident: e.incidentId, kind: e.kind },
      },
      unfurl_links: false,
      ...(threadTs ? { thread_ts: threadTs } : {}),
    });
    if (!r.ts) throw new Error('chat.postMessage returned no ts');
    return r.ts;
  }

  /**
   * Posts one event; false when it must wait (another replica's attempt may still be landing). Throws
   * NotLeading when this replica no longer leads with a margin (the next leader posts it).
   */
  private async deliver(e: MonitorEvent): Promise<boolean> {
    const { config, store, slack } = this.d;
    const t = config.inventory.monitor;
    const now = this.now();
    const earlier = await store.attempting(e.seq, now, Math.min(t.leaseMs / 2, ATTEMPT_SETTLED_MS));
    if (earlier === 'not-leader') throw new NotLeading();
    if (earlier && now - earlier.at < ATTEMPT_SETTLED_MS && earlier.by !== store.id) return false;
    const h = config.inventory.hosts.find((x) => x.name === e.host);
    const channel = e.incident.channel;
    let parent: SlackMessage;
    let reply: SlackMessage | null;
    try {
      parent = parentMessage(
        e.incident,
        h,
        e.manager,
        e.problem,
        t,
        e.at,
        config.inventory.hosts.length,
        e.roles,
      );
      reply = replyFor(e, t);
    } catch (err) {
      // A bug, not Slack: waiting would hold up every alert behind this one for ever.
      throw new Unrenderable((err as Error).message);
    }
    if (e.kind === 'opened') {
      const ts =
        (earlier && (await this.lookup(e, earlier.at, null))) || (await this.post(channel, parent, e));
      return (await store.delivered(e, ts)) === 'ok';
    }
    const threadTs = await store.threadOf(e.incidentId);
    if (!threadTs) {
      this.d.log.error(
        { seq: e.seq, host: e.host, incident: e.incidentId },
        'alert event without a thread: dropped',
      );
      return (await store.delivered(e, null)) === 'ok';
    }
    if (reply && !(earlier && (await this.lookup(e, earlier.at, threadTs))))
      await this.post(channel, reply, e, threadTs);
    await slack.chat.update({ channel, ts: threadTs, text: parent.text, blocks: parent.blocks as never });
    return (await store.delivered(e, null)) === 'ok';
  }
}
