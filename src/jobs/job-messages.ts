/**
 * The one owner of job messages. Every change to what a job shows — the worker's plan, progress and result,
 * the bot's "queued", "cancelled", "expired", "replaced by an edited plan" — goes through `save`: the job-state
 * record is written to Redis, then the message is posted (once) or edited (coalesced, ≤ 1 edit/s per message
 * across processes) from that record by the one renderer. Nothing else in the program posts or edits a job
 * message. Thread posts (long results, failure details) are made here too, at most once per key.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Md } from '../core/text.js';
import { AppError, ErrorCode } from '../errors.js';
import { sectionsFor } from '../slack/blocks.js';
import { renderJob } from '../slack/job-view.js';
import {
  CANNOT_POST,
  honourRetryAfter,
  MessageUpdater,
  type SlackClient,
  slackErrorOf,
} from '../slack/updater.js';
import { type JobRecord, jobRecordSchema } from './job-state.js';
import type { Keys } from './keys.js';

const RECORD_TTL_S = 30 * 86_400;
const FORGET_AFTER_MS = 60_000;

export interface JobMessagesDeps {
  slack: SlackClient;
  /** A client connection (commands, not blocking). */
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** How long a progress update waits before the first post (a fast job then posts its result only). */
  postDebounceMs?: number;
}

export class JobMessages {
  private readonly updater: MessageUpdater;
  private readonly posting = new Map<string, Promise<string>>();
  private readonly postTimers = new Map<string, NodeJS.Timeout>();
  /** The newest record of a message being posted (the post sends it, and edits in what came meanwhile). */
  private readonly latest = new Map<string, JobRecord>();
  /** Message ts this process learnt by posting, until the record's writer has seen it (a final save). */
  private readonly known = new Map<string, string>();
  /** Records whose channel refused the post (not_in_channel…): never posted again by this process. */
  private readonly undeliverable = new Set<string>();
  private readonly forgetting = new Set<string>();

  constructor(private readonly d: JobMessagesDeps) {
    this.updater = new MessageUpdater({
      slack: d.slack,
      redis: d.redis,
      rateKey: d.keys.messageRate,
      log: d.log,
    });
  }

  /** The record, validated; undefined when there is none (or it no longer parses: it is then rebuilt). */
  async read(recordId: string): Promise<JobRecord | undefined> {
    const raw = await this.d.redis.get(this.d.keys.jobRecord(recordId));
    if (!raw) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const parsed = jobRecordSchema.safeParse(json);
    if (!parsed.success) {
      this.d.log.warn({ recordId, err: parsed.error.issues[0]?.message }, 'job-state record does not parse');
      return undefined;
    }
    return parsed.data;
  }

  /**
   * Writes the record and shows it. `urgent` (a state change a person waits for) posts or edits now and
   * resolves when Slack has it; otherwise the edit is coalesced. Returns the record as saved (with its
   * message ts once posted). A message the channel refuses is reported once (response_url) and then only
   * the record is kept: the job's outcome does not depend on Slack.
   */
  async save(record: JobRecord, opts: { urgent: boolean; responseUrl?: string }): Promise<JobRecord> {
    const id = record.recordId;
    const ts = record.messageTs ?? this.known.get(id);
    const r: JobRecord = { ...record, ...(ts ? { messageTs: ts } : {}), updatedAt: Date.now() };
    // After a state change its writer has the ts (returned below), so this process may forget it soon.
    if (opts.urgent) this.forgetLater(id);
    await this.write(r);
    if (this.undeliverable.has(id)) return r;
    if (r.messageTs) {
      await this.updater.update(r.channel, r.messageTs, renderJob(r), opts.urgent);
      return r;
    }
    this.latest.set(id, r);
    if (!opts.urgent) {
      // First progress of a job: post after a short wait, so a job that ends within it costs one call.
      if (!this.postTimers.has(id) && !this.posting.has(id)) {
        this.postTimers.set(
          id,
          setTimeout(() => {
            this.postTimers.delete(id);
            this.ensurePosted(id, opts.responseUrl).catch((err: Error) =>
              this.d.log.warn({ err: err.message }, 'could not post the job message'),
            );
          }, this.d.postDebounceMs ?? 300),
        );
      }
      return r;
    }
    const posted = await this.ensurePosted(id, opts.responseUrl);
    return { ...r, messageTs: posted };
  }

  /** The message's ts, posting it now (from the newest record) if it does not exist yet. */
  async ensurePosted(recordId: string, responseUrl?: string): Promise<string> {
    const timer = this.postTimers.get(recordId);
    if (timer) clearTimeout(timer);
    this.postTimers.delete(recordId);
    const known = this.known.get(recordId);
    if (known) return known;
    const running = this.posting.get(recordId);
    if (running) return running;
    const p = this.post(recordId, responseUrl).finally(() => {
      this.posting.delete(recordId);
      this.latest.delete(recordId);
    });
    this.posting.set(recordId, p);
    return p;
  }

  private async post(recordId: string, responseUrl: string | undefined): Promise<string> {
    const current = this.latest.get(recordId) ?? (await this.read(recordId));
    if (!current) throw new AppError(ErrorCode.internal, `no job-state record ${recordId}`);
    if (current.messageTs) return current.messageTs;
    const first = renderJob(current);
    let ts: string;
    try {
      const res = await honourRetryAfter(
        () =>
          this.d.slack.chat.postMessage({
            channel: current.channel,
            ...(current.threadTs ? { thread_ts: current.threadTs } : {}),
            text: first.text,
            blocks: first.blocks as never,
          }),
        this.d.log,
        'chat.postMessage (job message)',
      );
      ts = res.ts ?? '';
      if (!ts) throw new AppError(ErrorCode.slackApi, 'chat.postMessage returned no ts');
    } catch (err) {
      const slackError = slackErrorOf(err);
      this.d.log.warn({ err: slackError, channel: current.channel }, 'could not post the job message');
      if (CANNOT_POST.has(slackError)) {
        this.undeliverable.add(recordId);
        this.forgetLater(recordId);
        if (responseUrl) await this.tellOnce(responseUrl, current, slackError);
        throw new AppError(ErrorCode.slackCannotPost, `chat.postMessage: ${slackError}`, {
          userMessage: `The bot cannot post in this channel (${slackError}). Invite it with \`/invite @flexvdi\` and try again.`,
        });
      }
      throw new AppError(ErrorCode.slackApi, `chat.postMessage: ${slackError}`, { cause: err });
    }
    this.known.set(recordId, ts);
    // The newest state may have moved on while posting: store the ts in it and edit if it differs.
    const saved: JobRecord = { ...(this.latest.get(recordId) ?? current), messageTs: ts };
    await this.write(saved);
    const now = renderJob(saved);
    if (now.text !== first.text || JSON.stringify(now.blocks) !== JSON.stringify(first.blocks))
      await this.updater.update(saved.channel, ts, now, true);
    return ts;
  }

  /** Drops what this process remembers of a record once its writer is done with it (bounded memory). */
  private forgetLater(recordId: string): void {
    if (this.forgetting.has(recordId)) return;
    this.forgetting.add(recordId);
    setTimeout(() => {
      this.forgetting.delete(recordId);
      if (this.posting.has(recordId) || this.postTimers.has(recordId)) return this.forgetLater(recordId);
      this.known.delete(recordId);
      this.undeliverable.delete(recordId);
    }, FORGET_AFTER_MS).unref();
  }

  /** Posts in the message's thread once per `key` (a re-run of the job does not post it again). */
  async postInThread(record: JobRecord, key: string, lines: readonly Md[], title: string): Promise<void> {
    const marker = this.d.keys.posted(key);
    const first = await this.d.redis.set(marker, '1', 'EX', RECORD_TTL_S, 'NX');
    if (first !== 'OK') return;
    try {
      const body = lines.map((l) => l.mrkdwn);
      const blocks = sectionsFor(body, { title: `*${title}*` }).slice(0, 50);
      // A message that is itself in a thread (a job started from an alert's buttons) gets its details in that
      // thread: Slack has no thread inside a thread.
      const threadTs = record.threadTs ?? record.messageTs ?? (await this.ensurePosted(record.recordId));
      await honourRetryAfter(
        () =>
          this.d.slack.chat.postMessage({
            channel: record.channel,
            thread_ts: threadTs,
            text: `${title}\n${body.join('\n')}`.slice(0, 39_000),
            blocks: blocks as never,
          }),
        this.d.log,
        'chat.postMessage (thread)',
      );
    } catch (err) {
      await this.d.redis.del(marker);
      this.d.log.warn({ err: (err as Error).message }, 'could not post in the job thread');
    }
  }

  /** Waits until every queued edit is in Slack (before shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.posting.values()]);
    await this.updater.flush();
  }

  private async write(r: JobRecord): Promise<void> {
    await this.d.redis.set(this.d.keys.jobRecord(r.recordId), JSON.stringify(r), 'EX', RECORD_TTL_S);
  }

  /** Tells the requester once per record (a Redis marker: retries and other workers do not repeat it). */
  private async tellOnce(url: string, r: JobRecord, slackError: string): Promise<void> {
    const first = await this.d.redis
      .set(this.d.keys.posted(`${r.recordId}:cannot-post`), '1', 'EX', RECORD_TTL_S, 'NX')
      .catch(() => 'OK');
    if (first !== 'OK') return;
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        response_type: 'ephemeral',
        text: `Could not start \`/flexvdi ${r.text.replace(/[`<>&]/g, '')}\`: the bot cannot post in this channel (${slackError}). Invite it with \`/invite @flexvdi\` and try again.`,
      }),
    }).catch((err: Error) => this.d.log.warn({ err: err.message }, 'response_url fallback failed'));
  }
}
