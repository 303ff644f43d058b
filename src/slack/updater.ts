/**
 * Edits job messages in place without tripping Slack's limits: per message at most one `chat.update` per
 * second (a Redis key spaces edits across every process that touches the message), intermediate states
 * coalesced (only the newest view is sent), and a 429's `Retry-After` honoured before the next try.
 */
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError, ErrorCode } from '../errors.js';
import type { Block } from './blocks.js';

export type SlackClient = Pick<WebClient, 'chat'>;

interface Pending {
  content: { text: string; blocks: Block[] };
  waiters: (() => void)[];
}

export interface UpdaterOptions {
  slack: SlackClient;
  redis: Redis;
  rateKey: (channel: string, ts: string) => string;
  log: Logger;
  minIntervalMs?: number;
  debounceMs?: number;
}

/** Slack's error code of a failed Web API call (`not_in_channel`…), else the error's message. */
export function slackErrorOf(err: unknown): string {
  if (err && typeof err === 'object' && 'data' in err) {
    const data = (err as { data?: { error?: unknown } }).data;
    if (typeof data?.error === 'string') return data.error;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Slack's answers that mean the bot cannot post in the channel at all (retrying will not help). */
export const CANNOT_POST = new Set(['not_in_channel', 'channel_not_found', 'is_archived']);

/** Reads `Retry-After` from a @slack/web-api rate-limit error or an HTTP error with headers. */
export function retryAfterMs(err: unknown): number | undefined {
  const e = err as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string };
    headers?: Record<string, string>;
  };
  if (e?.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number')
    return e.retryAfter * 1000;
  if (e?.data?.error === 'ratelimited') return 1000;
  return undefined;
}

export class MessageUpdater {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Set<string>();
  private readonly debouncing = new Map<string, NodeJS.Timeout>();
  private readonly minInterval: number;
  private readonly debounceMs: number;

  constructor(private readonly o: UpdaterOptions) {
    this.minInterval = o.minIntervalMs ?? 1000;
    this.debounceMs = o.debounceMs ?? 300;
  }

  /**
   * Queues the newest content for a message; resolves once that content (or a newer one) is in Slack.
   * A progress update (`urgent` false) waits `debounceMs` first, so a job that finishes quickly sends one
   * edit (its final state) instead of spending its one-per-second budget on a state nobody will see.
   */
  update(
    channel: string,
    ts: string,
    content: { text: string; blocks: Block[] },
    urgent = true,
  ): Promise<void> {
    const id = `${channel}/${ts}`;
    const prev = this.pending.get(id);
    const p: Pending = { content, waiters: prev?.waiters ?? [] };
    this.pending.set(id, p);
    const done = new Promise<void>((resolve) => p.waiters.push(resolve));
    if (this.running.has(id)) return done; // the drain loop sends the newest content next
    const timer = this.debouncing.get(id);
    if (timer && !urgent) return done;
    if (timer) clearTimeout(timer);
    this.debouncing.delete(id);
    if (urgent) void this.drain(channel, ts, id);
    else {
      const fire = () => {
        this.debouncing.delete(id);
        if (!this.running.has(id)) void this.drain(channel, ts, id);
      };
      this.debouncing.set(id, setTimeout(fire, this.debounceMs));
    }
    return done;
  }

  private async drain(channel: string, ts: string, id: string): Promise<void> {
    this.running.add(id);
    try {
      // Fix (core tests): look for work before taking a slot. The loop used to take one more slot after its
      // last send only to find nothing pending, holding the message's slot (and delaying every process's
      // next edit of it) for up to another second.
      while (this.pending.has(id)) {
        await this.waitForSlot(channel, ts);
        const p = this.pending.get(id);
        if (!p) break;
        this.pending.delete(id);
        try {
          await this.send(channel, ts, p.content);
        } catch (err) {
          this.o.log.warn(
            { err: (err as Error).message, channel, ts },
            'chat.update failed; the next update will retry',
          );
        }
        for (const w of p.waiters) w();
      }
    } finally {
      this.running.delete(id);
      if (this.pending.has(id)) void this.drain(channel, ts, id);
    }
  }

  /**
   * Takes the per-message slot: SET NX PX; if taken, sleeps for what is left of it. Never throws: without
   * Redis the edits are spaced by this process alone.
   */
  private async waitForSlot(channel: string, ts: string): Promise<void> {
    const key = this.o.rateKey(channel, ts);
    try {
      for (let i = 0; i < 120; i++) {
        const got = await this.o.redis.set(key, '1', 'PX', this.minInterval, 'NX');
        if (got === 'OK') return;
        const left = await this.o.redis.pttl(key);
        await sleep(left > 0 ? left : 50);
      }
    } catch (err) {
      // Fix (core tests, Redis restart): `drain` runs detached, so a Redis error here (the bot's fail-fast
      // connection while Redis restarts) was an unhandled rejection, and the waiters of `update()` were never
      // resolved: whoever awaited the edit (a button handler, a job's final state) hung for good.
      this.o.log.warn(
        { err: (err as Error).message, channel, ts },
        'edit spacing via Redis failed; spacing locally',
      );
      await sleep(this.minInterval);
    }
  }

  private async send(channel: string, ts: string, content: { text: string; blocks: Block[] }): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.o.slack.chat.update({ channel, ts, text: content.text, blocks: content.blocks as never });
        return;
      } catch (err) {
        const wait = retryAfterMs(err);
        if (wait === undefined)
          throw new AppError(ErrorCode.slackApi, `chat.update: ${(err as Error).message}`, { cause: err });
        this.o.log.info({ channel, ts, retryAfterMs: wait }, 'Slack rate limit: waiting Retry-After');
        // Best effort (tells other processes to hold off too); the local wait is what honours Retry-After.
        await this.o.redis.set(this.o.rateKey(channel, ts), '1', 'PX', Math.max(wait, 1)).catch(() => {});
        await sleep(wait);
      }
    }
    throw new AppError(ErrorCode.slackApi, 'chat.update: still rate limited after 5 tries');
  }

  /** Waits until every queued update has been sent (used before a worker shuts down). */
  async flush(): Promise<void> {
    while (this.running.size || this.debouncing.size) await sleep(20);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `fn` (a Web API post), waiting out Slack's `Retry-After` when it is rate limited, up to `tries` calls.
 * Added with the core tests: job message and thread posts used to retry at once (or give up) on a 429.
 */
export async function honourRetryAfter<T>(
  fn: () => Promise<T>,
  log: Logger,
  what: string,
  tries = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = retryAfterMs(err);
      if (wait === undefined || attempt >= tries) throw err;
      log.info({ what, retryAfterMs: wait }, 'Slack rate limit: waiting Retry-After');
      await sleep(wait);
    }
  }
}
