/**
 * The worker: takes jobs from the queue, re-validates them with the command's schema, and runs the plan or
 * the steps. BullMQ is at-least-once, so every step is checkpointed in Redis and skipped when a resumed job
 * (stalled recovery after a crash, `/flexvdi retry`) reaches it again. Retries happen only for retryable
 * error codes; everything else fails at once with an UnrecoverableError.
 */
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { type AnyCommand, type PluginServices, planButtons, type StepContext } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import { AppError, asAppError, ErrorCode, errorCode, isRetryableCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { JobView } from '../slack/job-view.js';
import { honourRetryAfter, MessageUpdater, type SlackClient } from '../slack/updater.js';
import { AuditLog } from './audit.js';
import { CancelBoard } from './cancel.js';
import { Confirmations } from './confirmations.js';
import { keys } from './keys.js';
import { HostLocks } from './locks.js';
import {
  deterministicId,
  type JobEnvelope,
  type JobEnvelopeParsed,
  type JobName,
  jobEnvelopeSchema,
} from './queue.js';
import { JobReporter } from './reporter.js';
import { runSteps } from './run-steps.js';

/** A result longer than this many lines is also posted in full in the job message's thread. */
export const THREAD_DETAIL_LINES = 10;

export interface WorkerDeps {
  config: Config;
  /** A connection for BullMQ (maxRetriesPerRequest: null); the worker duplicates it as needed. */
  redis: Redis;
  log: Logger;
  registry: Registry;
  slack: SlackClient;
  metrics: Metrics;
  /** Live clients for plugins (ssh pool, manager client), by name. */
  extra?: Record<string, unknown>;
  /** Overrides for tests: shorter stall detection, confirmation TTL, lock wait. */
  tuning?: {
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    confirmTtlMs?: number;
    lockRetryMs?: number;
  };
}

export interface FlexWorker {
  worker: Worker<JobEnvelope, unknown, JobName>;
  close(): Promise<void>;
}

export async function createWorker(deps: WorkerDeps): Promise<FlexWorker> {
  const inv = deps.config.inventory;
  const k = keys(inv.jobs.prefix);
  const cmd = deps.redis.duplicate();
  const sub = deps.redis.duplicate();
  // Fix (core tests, Redis restart): duplicates do not inherit listeners; without one, ioredis prints
  // "[ioredis] Unhandled error event" to stderr on every reconnect attempt, outside the JSON log.
  for (const c of [cmd, sub])
    c.on('error', (err: Error) => deps.log.warn({ err: err.message }, 'redis connection error'));
  const audit = new AuditLog(cmd, k.audit);
  const cancels = new CancelBoard(cmd, k.cancel, k.cancelChannel);
  await cancels.listen(sub);
  const confirmations = new Confirmations(cmd, k.confirm, k.confirmUsed);
  const locks = new HostLocks(cmd, k.lock, k.fence, inv.jobs.lockTtlMs);
  const updater = new MessageUpdater({
    slack: deps.slack,
    redis: cmd,
    rateKey: k.messageRate,
    log: deps.log,
  });
  const services: PluginServices = { config: deps.config, log: deps.log, extra: deps.extra ?? {} };
  const lockRetryMs = deps.tuning?.lockRetryMs ?? 2000;

  async function process(job: Job<JobEnvelope, unknown, JobName>, token?: string): Promise<unknown> {
    const env = jobEnvelopeSchema.safeParse(job.data);
    if (!env.success)
      throw new UnrecoverableError(`${ErrorCode.jobInvalidData}: job data is not a job envelope`);
    const data = env.data;
    const log = deps.log.child({ jobId: job.id, command: job.name, user: data.requester, phase: data.phase });
    const reporter = new JobReporter(
      {
        slack: deps.slack,
        updater,
        redis: cmd,
        postedKey: k.posted,
        log,
        saveProgress: (view) => job.updateProgress(view as unknown as object),
      },
      data.channel,
      data.messageTs,
      initialView(job, data),
      (content) => ensureJobMessage(job, data, content, log),
    );
    const spec = deps.registry.get(job.name);
    if (!spec)
      return fail(
        reporter,
        job,
        data,
        new AppError(ErrorCode.jobUnknownCommand, `no command "${job.name}"`),
        log,
      );
    const args = spec.args.safeParse(data.args);
    if (!args.success) {
      const msg = `job data no longer matches the command's arguments: ${args.error.issues[0]?.message ?? 'invalid'}`;
      return fail(reporter, job, data, new AppError(ErrorCode.jobInvalidData, msg), log);
    }
    const ctl = cancels.track(job.id!);
    try {
      const by = await cancels.isRequested(job.id!);
      if (by) return cancelled(reporter, job, data, by, log);
      if (data.phase === 'plan') return await plan(spec, job, data, args.data, reporter, ctl.signal, log);
      return await run(spec, job, data, args.data, reporter, ctl, token, log);
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      // Fix (core tests): when the signal fired for a lost Host lock, whatever the step threw on seeing it
      // (often an abort error) is reported as that loss, never as a cancellation.
      const aborted: unknown = ctl.signal.aborted ? ctl.signal.reason : undefined;
      const e = asAppError(errorCode(aborted) === ErrorCode.lockLost ? aborted : err);
      if (
        e.code === ErrorCode.jobCancelled ||
        (ctl.signal.aborted && ctl.signal.reason?.message === 'cancelled')
      ) {
        return cancelled(reporter, job, data, (await cancels.isRequested(job.id!)) ?? 'someone', log);
      }
      const attempts = job.opts.attempts ?? 1;
      if (isRetryableCode(e.code) && job.attemptsMade + 1 < attempts) {
        log.warn({ code: e.code, err: e.message, attempt: job.attemptsMade + 1 }, 'retryable failure');
        await reporter.final({
          state: 'retrying',
          note: `Attempt ${job.attemptsMade + 1} of ${attempts} failed: ${e.userMessage} Retrying automatically.`,
        });
        throw e;
      }
      return fail(reporter, job, data, e, log);
    } finally {
      cancels.untrack(job.id!);
    }
  }

  /**
   * Posts the job's one message, once per job: a re-run (stalled job, retry) finds it in Redis. The bot does
   * not post it, so its ack path is a single Redis call.
   */
  async function ensureJobMessage(
    job: Job,
    data: JobEnvelopeParsed,
    first: { text: string; blocks: unknown[] },
    log: Logger,
  ): Promise<{ ts: string; posted: boolean }> {
    const key = k.jobMessage(job.id!);
    const known = await cmd.get(key);
    if (known) return { ts: known, posted: false };
    let ts: string;
    try {
      // Fix (core tests): a 429 is waited out (Retry-After) instead of failing the attempt at once.
      const r = await honourRetryAfter(
        () =>
          deps.slack.chat.postMessage({
            channel: data.channel,
            text: first.text,
            blocks: first.blocks as never,
          }),
        log,
        'chat.postMessage (job message)',
      );
      ts = r.ts!;
    } catch (err) {
      const slackError = (err as { data?: { error?: string } }).data?.error ?? (err as Error).message;
      log.warn({ err: slackError, channel: data.channel }, 'could not post the job message');
      if (/not_in_channel|channel_not_found|is_archived/.test(slackError)) {
        if (data.responseUrl) {
          await fetch(data.responseUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              response_type: 'ephemeral',
              text: `Could not start \`/flexvdi ${data.text}\`: the bot cannot post in this channel (${slackError}). Invite it with \`/invite @flexvdi\` and try again.`,
            }),
          }).catch(() => {});
        }
        await audit.record({
          user: data.requester,
          command: data.text,
          channel: data.channel,
          outcome: 'failed',
          jobId: job.id!,
          detail: slackError,
        });
        throw new UnrecoverableError(`${ErrorCode.slackApi}: ${slackError}`);
      }
      throw new AppError(ErrorCode.slackApi, `chat.postMessage: ${slackError}`);
    }
    await cmd.set(key, ts, 'EX', 30 * 86_400);
    await job.updateData({ ...(job.data as object), messageTs: ts } as JobEnvelope);
    return { ts, posted: true };
  }

  async function plan(
    spec: AnyCommand,
    job: Job,
    data: JobEnvelopeParsed,
    args: unknown,
    reporter: JobReporter,
    signal: AbortSignal,
    log: Logger,
  ) {
    const p = await spec.plan({
      args,
      requester: data.requester,
      isAdmin: data.isAdmin,
      services: { ...services, log },
      signal,
    });
    if (p.refused || p.noop) {
      await reporter.final({ state: p.refused ? 'refused' : 'noop', plan: p });
      await audit.record({
        user: data.requester,
        command: data.text,
        channel: data.channel,
        outcome: p.refused ? 'refused' : 'noop',
        jobId: job.id!,
        detail: p.refused ?? p.summary,
      });
      return { planned: false, refused: p.refused ?? null };
    }
    const ttl = deps.tuning?.confirmTtlMs ?? inv.jobs.confirmTtlSeconds * 1000;
    const pending = await confirmations.create({
      confirmId: deterministicId('j', job.id!).replace(/^j-/, 'c'),
      command: spec.id,
      text: data.text,
      args,
      pinned: p.pinned ?? {},
      plan: p,
      requester: data.requester,
      channel: data.channel,
      messageTs: await reporter.target(),
      createdAt: Date.now(),
      expiresAt: Date.now() + ttl,
    });
    await reporter.final({
      state: 'awaiting-confirmation',
      plan: p,
      confirmId: pending.confirmId,
      expiresAt: pending.expiresAt,
      // OCFS2 plugin: a plan may offer more buttons (Edit) beside Confirm/Cancel.
      extraButtons: planButtons(p),
    });
    await audit.record({
      user: data.requester,
      command: data.text,
      channel: data.channel,
      outcome: 'planned',
      jobId: job.id!,
    });
    log.info({ confirmId: pending.confirmId }, 'plan posted, awaiting confirmation');
    return { planned: true, confirmId: pending.confirmId };
  }

  async function run(
    spec: AnyCommand,
    job: Job,
    data: JobEnvelopeParsed,
    args: unknown,
    reporter: JobReporter,
    ctl: AbortController,
    token: string | undefined,
    log: Logger,
  ) {
    const resources = spec.locks?.(args) ?? [];
    let held: Awaited<ReturnType<HostLocks['acquire']>> | undefined;
    if (resources.length) {
      try {
        held = await locks.acquire(job.id!, resources);
      } catch (err) {
        const e = asAppError(err);
        if (e.code !== ErrorCode.lockBusy || !token) throw e;
        await reporter.final({ state: 'waiting', note: e.userMessage });
        await job.moveToDelayed(Date.now() + lockRetryMs, token);
        throw new DelayedError();
      }
    }
    const renew = held
      ? setInterval(
          () => {
            held!.renew().catch((err: Error) => ctl.abort(err));
          },
          Math.max(500, inv.jobs.lockTtlMs / 3),
        )
      : undefined;
    try {
      const ctxBase: Omit<StepContext<unknown>, 'results'> = {
        args,
        requester: data.requester,
        isAdmin: data.isAdmin,
        services: { ...services, log },
        signal: ctl.signal,
        jobId: job.id!,
        attempt: job.attemptsMade + 1,
        pinned: data.pinned,
        progress: reporter,
        checkpoint: {
          get: async <T>(key: string) => {
            const v = await cmd.hget(k.checkpoints(job.id!), `sub:${key}`);
            return v === null ? undefined : (JSON.parse(v) as T);
          },
          set: async (key: string, value: unknown) => {
            await cmd.hset(k.checkpoints(job.id!), `sub:${key}`, JSON.stringify(value ?? null));
            await cmd.expire(k.checkpoints(job.id!), 30 * 86_400);
          },
        },
      };
      const results = await runSteps({
        spec,
        ctxBase,
        reporter,
        redis: cmd,
        checkpointKey: k.checkpoints(job.id!),
        isCancelled: () => cancels.isRequested(job.id!),
        metrics: deps.metrics,
        log,
      });
      const result = await spec.result({ ...ctxBase, results });
      const outcome = result.failed ? 'failed' : 'completed';
      await reporter.final({ state: outcome, result });
      // Details go to the thread when they are more than a glance (the message shows the first of them).
      const detailLines = result.sections.reduce((n, s) => n + s.lines.length, 0);
      if (detailLines > THREAD_DETAIL_LINES || result.failed) {
        await reporter.postInThread(
          `${job.id}:${data.generation}:result`,
          result.sections.flatMap((s) => (s.title ? [`*${s.title}*`, ...s.lines] : s.lines)),
          `Result of \`/flexvdi ${data.text}\``,
        );
      }
      await audit.record({
        user: data.requester,
        command: data.text,
        channel: data.channel,
        outcome,
        jobId: job.id!,
        detail: result.summary,
      });
      deps.metrics.jobsFinished.inc({ command: spec.id, outcome });
      if (result.failed) throw new UnrecoverableError(`job.partial_failure: ${result.summary}`);
      return { summary: result.summary };
    } finally {
      if (renew) clearInterval(renew);
      await held?.release();
    }
  }

  async function fail(
    reporter: JobReporter,
    job: Job,
    data: JobEnvelopeParsed,
    e: AppError,
    log: Logger,
  ): Promise<never> {
    log.error({ code: e.code, err: e.message }, 'job failed');
    await reporter.final({ state: 'failed', error: e.userMessage });
    await reporter.postInThread(
      `${job.id}:${data.generation}:error`,
      [`code \`${e.code}\``, e.userMessage],
      'Failure details',
    );
    await audit.record({
      user: data.requester,
      command: data.text,
      channel: data.channel,
      outcome: 'failed',
      jobId: job.id!,
      detail: `${e.code}: ${e.userMessage}`,
    });
    deps.metrics.jobsFinished.inc({ command: job.name, outcome: 'failed' });
    throw new UnrecoverableError(`${e.code}: ${e.userMessage}`);
  }

  async function cancelled(
    reporter: JobReporter,
    job: Job,
    data: JobEnvelopeParsed,
    by: string,
    log: Logger,
  ): Promise<never> {
    log.info({ by }, 'job cancelled');
    await reporter.final({
      state: 'cancelled',
      note: `Cancelled by <@${by}>. Steps already finished stay done; nothing else was started.`,
    });
    await audit.record({
      user: by,
      command: data.text,
      channel: data.channel,
      outcome: 'cancelled',
      jobId: job.id!,
    });
    deps.metrics.jobsFinished.inc({ command: job.name, outcome: 'cancelled' });
    throw new UnrecoverableError(`${ErrorCode.jobCancelled}: cancelled by ${by}`);
  }

  const worker = new Worker<JobEnvelope, unknown, JobName>(k.queueName, process, {
    connection: deps.redis,
    prefix: k.bullPrefix,
    concurrency: inv.jobs.concurrency,
    lockDuration: deps.tuning?.lockDurationMs ?? 30_000,
    stalledInterval: deps.tuning?.stalledIntervalMs ?? 30_000,
    maxStalledCount: 1,
    autorun: true,
  });
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'worker error'));
  // BullMQ workers have been seen to stop taking jobs after Redis reconnects: a watchdog restarts the loop.
  const watchdog = setInterval(() => {
    if (!worker.isRunning() && !closing) {
      deps.log.warn('worker loop stopped; restarting it');
      worker.run().catch((err: Error) => deps.log.error({ err: err.message }, 'worker restart failed'));
    }
  }, 2000);
  let closing = false;
  return {
    worker,
    async close() {
      closing = true;
      clearInterval(watchdog);
      await worker.close();
      await updater.flush();
      sub.disconnect();
      cmd.disconnect();
    },
  };
}

function initialView(job: Job, data: JobEnvelopeParsed): JobView {
  const saved = job.progress as Partial<JobView> | number | undefined;
  const base: JobView = {
    text: data.text,
    requester: data.requester,
    state: data.phase === 'plan' ? 'planning' : 'running',
    ...(data.phase === 'run' ? { jobId: job.id! } : {}),
    ...(data.confirmedBy ? { confirmedBy: data.confirmedBy } : {}),
  };
  if (saved && typeof saved === 'object' && data.phase === 'run') {
    return {
      ...base,
      ...(saved.steps ? { steps: saved.steps } : {}),
      ...(saved.hosts ? { hosts: saved.hosts } : {}),
    };
  }
  return base;
}
