/**
 * What a running job shows: one JobView, rendered into the job's Slack message through the coalescing
 * updater, mirrored into the BullMQ job's progress (for `/flexvdi job <id>`), and thread posts that happen
 * at most once per job run (a Redis SET NX marker) even when BullMQ runs the job again.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ProgressReporter } from '../core/plugin.js';
import { type Block, sectionsFor } from '../slack/blocks.js';
import { type JobView, renderJob } from '../slack/job-view.js';
import { honourRetryAfter, type MessageUpdater, type SlackClient } from '../slack/updater.js';

export interface ReporterDeps {
  slack: SlackClient;
  updater: MessageUpdater;
  redis: Redis;
  postedKey: (k: string) => string;
  log: Logger;
  saveProgress: (view: JobView) => Promise<void>;
  postDebounceMs?: number;
}

export class JobReporter implements ProgressReporter {
  private lastSaved = 0;
  private messageTs: string | undefined;
  private creating: Promise<string> | undefined;
  private postTimer: NodeJS.Timeout | undefined;

  /**
   * `ts` is the job message when it exists already; otherwise `ensureMessage` posts it (once per job) the
   * first time there is something to show — for a job that finishes within the debounce, that first post
   * already carries the final state, one Slack call in all.
   */
  constructor(
    private readonly deps: ReporterDeps,
    readonly channel: string,
    ts: string | undefined,
    readonly view: JobView,
    private readonly ensureMessage: (content: {
      text: string;
      blocks: Block[];
    }) => Promise<{ ts: string; posted: boolean }>,
  ) {
    this.messageTs = ts;
  }

  get ts(): string | undefined {
    return this.messageTs;
  }

  /** The job message, posted now if it does not exist yet. */
  async target(): Promise<string> {
    if (this.messageTs) return this.messageTs;
    this.creating ??= (async () => {
      const content = renderJob(this.view);
      const r = await this.ensureMessage(content);
      this.messageTs = r.ts;
      // Edit when the post was made by an earlier run, or the view changed while posting.
      if (
        !r.posted ||
        renderJob(this.view).text !== content.text ||
        JSON.stringify(renderJob(this.view).blocks) !== JSON.stringify(content.blocks)
      ) {
        await this.deps.updater.update(this.channel, r.ts, renderJob(this.view), true);
      }
      return r.ts;
    })();
    try {
      return await this.creating;
    } catch (err) {
      this.creating = undefined;
      throw err;
    }
  }

  /** Changes the view and schedules an edit (coalesced). Resolves when Slack has it. */
  set(patch: Partial<JobView>): Promise<void> {
    Object.assign(this.view, patch);
    return this.push(false);
  }

  private async push(urgent: boolean): Promise<void> {
    const now = Date.now();
    if (urgent || now - this.lastSaved > 1000) {
      this.lastSaved = now;
      await this.deps
        .saveProgress(structuredClone(this.view))
        .catch((err: Error) => this.deps.log.debug({ err: err.message }, 'could not save progress'));
    }
    if (!this.messageTs) {
      if (!urgent) {
        this.postTimer ??= setTimeout(() => {
          this.postTimer = undefined;
          this.target().catch((err: Error) =>
            this.deps.log.warn({ err: err.message }, 'could not post the job message'),
          );
        }, this.deps.postDebounceMs ?? 300);
        return;
      }
      if (this.postTimer) clearTimeout(this.postTimer);
      this.postTimer = undefined;
      await this.target(); // posts the current view, or edits it in if it changed meanwhile
      return;
    }
    await this.deps.updater.update(this.channel, this.messageTs!, renderJob(this.view), urgent);
  }

  /** The final state: saved and sent, awaited. */
  async final(patch: Partial<JobView>): Promise<void> {
    Object.assign(this.view, patch);
    delete this.view.current;
    await this.push(true);
  }

  step(text: string): void {
    this.view.current = text;
    void this.push(false);
  }

  host(name: string, state: 'pending' | 'running' | 'ok' | 'failed' | 'skipped', detail?: string): void {
    this.view.hosts = {
      ...(this.view.hosts ?? {}),
      [name]: detail === undefined ? { state } : { state, detail },
    };
    void this.push(false);
  }

  /** Posts in the job message's thread once per `key` (a re-run of the job does not post it again). */
  async postInThread(key: string, lines: string[], title?: string): Promise<void> {
    const marker = this.deps.postedKey(key);
    const first = await this.deps.redis.set(marker, '1', 'EX', 30 * 86_400, 'NX');
    if (first !== 'OK') return;
    try {
      const blocks = sectionsFor(lines, title ? { title } : {}).slice(0, 50);
      const threadTs = await this.target();
      // Fix (core tests): a 429 used to drop the post for good; Retry-After is waited out instead.
      await honourRetryAfter(
        () =>
          this.deps.slack.chat.postMessage({
            channel: this.channel,
            thread_ts: threadTs,
            text: `${title ?? ''}\n${lines.join('\n')}`.slice(0, 39_000),
            blocks: blocks as never,
          }),
        this.deps.log,
        'chat.postMessage (thread)',
      );
    } catch (err) {
      await this.deps.redis.del(marker);
      this.deps.log.warn({ err: (err as Error).message }, 'could not post in the job thread');
    }
  }
}
