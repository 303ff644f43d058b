/**
 * Cross-process cancellation. BullMQ's `worker.cancelJob` only reaches the worker holding the job, and the
 * bot is another process, so: the bot sets a flag key (read at every step boundary and when a job starts) and
 * publishes the job id; every worker subscribes and aborts the AbortController of the job if it holds it.
 */
import { setMaxListeners } from 'node:events';
import type { Redis } from 'ioredis';
import { AppError, ErrorCode } from '../errors.js';

export class CancelBoard {
  private readonly active = new Map<string, AbortController>();
  private subscribed = false;

  constructor(
    private readonly redis: Redis,
    private readonly flagKey: (jobId: string) => string,
    private readonly channel: string,
  ) {}

  /** Asks for a job to stop, wherever it runs. */
  static async request(
    redis: Redis,
    flagKey: string,
    channel: string,
    jobId: string,
    by: string,
  ): Promise<void> {
    await redis.set(flagKey, by, 'EX', 86_400);
    await redis.publish(channel, jobId);
  }

  /** Subscribes (once) with a dedicated connection; call with a duplicate of the worker's connection. */
  async listen(sub: Redis): Promise<void> {
    if (this.subscribed) return;
    this.subscribed = true;
    sub.on('message', (_channel: string, jobId: string) => {
      this.active.get(jobId)?.abort(new AppError(ErrorCode.jobCancelled, `job ${jobId} cancelled`));
    });
    await sub.subscribe(this.channel);
  }

  /** Registers a running job; the returned signal aborts when someone cancels it. */
  track(jobId: string): AbortController {
    const ctl = new AbortController();
    // One job signal is shared by every concurrent SSH operation of a fan-out (32+ Hosts): not a leak.
    setMaxListeners(1000, ctl.signal);
    this.active.set(jobId, ctl);
    return ctl;
  }

  untrack(jobId: string): void {
    this.active.delete(jobId);
  }

  async isRequested(jobId: string): Promise<string | null> {
    return this.redis.get(this.flagKey(jobId));
  }

  async clear(jobId: string): Promise<void> {
    await this.redis.del(this.flagKey(jobId));
  }
}
