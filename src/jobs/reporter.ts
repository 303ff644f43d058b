/**
 * What one running job shows: it holds the job's record in memory, takes progress from the engine and the
 * plugin (steps, Hosts, a status line), and hands every change to the job-message service (the only Slack
 * writer), coalesced. BullMQ's job progress gets the step and Host tables only (for `/flexvdi job <id>`).
 */
import type { Logger } from 'pino';
import type { HostState, ProgressReporter } from '../core/plugin.js';
import type { Md } from '../core/text.js';
import { AppError, ErrorCode } from '../errors.js';
import type { JobMessages } from './job-messages.js';
import type { JobProgress, JobRecord } from './job-state.js';

const PROGRESS_COALESCE_MS = 250;

export interface ReporterDeps {
  messages: JobMessages;
  log: Logger;
  saveProgress: (p: JobProgress) => Promise<void>;
  responseUrl?: string | undefined;
}

export class JobReporter implements ProgressReporter {
  private lastSaved = 0;
  private saving: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly d: ReporterDeps,
    private rec: JobRecord,
  ) {}

  get record(): JobRecord {
    return this.rec;
  }

  /** Changes what the job shows; coalesced (a progress update: at most one record write per 250 ms). */
  set(patch: Partial<JobRecord>): void {
    if (this.closed) return;
    this.rec = { ...this.rec, ...patch };
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.push(false).catch((err: Error) =>
        this.d.log.warn({ err: err.message }, 'job progress not shown'),
      );
    }, PROGRESS_COALESCE_MS);
  }

  /**
   * A state change: saved and shown, awaited. Clears the status line. What the job did does not depend on
   * Slack: a message that cannot be shown (the channel refuses the bot, Slack is down) is logged, and the
   * record in Redis still holds the state.
   */
  async final(patch: Partial<JobRecord>): Promise<JobRecord> {
    const { current: _drop, ...rest } = { ...this.rec, ...patch };
    this.rec = rest;
    try {
      await this.push(true);
    } catch (err) {
      this.d.log.warn(
        { err: err instanceof Error ? err.message : String(err), state: this.rec.state },
        'job state not shown in Slack',
      );
    }
    return this.rec;
  }

  /** The job is over (this attempt): later progress from a step that is still unwinding is dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The message's ts (posting it now if needed): for things that must point at it, e.g. a confirmation. */
  async messageTs(): Promise<string> {
    if (this.rec.messageTs) return this.rec.messageTs;
    await this.push(true);
    if (!this.rec.messageTs) throw new AppError(ErrorCode.internal, 'the job message was not posted');
    return this.rec.messageTs;
  }

  async postInThread(key: string, lines: readonly Md[], title: string): Promise<void> {
    await this.d.messages.postInThread(this.rec, key, lines, title);
  }

  step(text: string): void {
    this.set({ current: text });
  }

  host(name: string, state: HostState, detail?: string): void {
    this.set({
      hosts: { ...(this.rec.hosts ?? {}), [name]: detail === undefined ? { state } : { state, detail } },
    });
  }

  private async push(urgent: boolean): Promise<void> {
    if (urgent && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    if (urgent || now - this.lastSaved > 1000) {
      this.lastSaved = now;
      const progress: JobProgress = { steps: this.rec.steps ?? [], hosts: this.rec.hosts ?? {} };
      this.saving = this.d
        .saveProgress(progress)
        .catch((err: Error) => this.d.log.debug({ err: err.message }, 'could not save progress'));
    }
    const saved = await this.d.messages.save(this.rec, {
      urgent,
      ...(this.d.responseUrl ? { responseUrl: this.d.responseUrl } : {}),
    });
    if (saved.messageTs && !this.rec.messageTs) this.rec = { ...this.rec, messageTs: saved.messageTs };
    if (urgent) await this.saving;
  }
}
