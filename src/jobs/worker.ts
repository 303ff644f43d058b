/**
 * The worker role: BullMQ wiring. It builds the stores the phases share (src/jobs/engine.ts), hands each job
 * to `processJob`, and owns the worker's life: the loop watchdog and a graceful close. BullMQ is
 * at-least-once, so every step is checkpointed and skipped when a resumed job reaches it again.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { BaseServices, Registry } from '../core/registry.js';
import type { Metrics } from '../metrics.js';
import { MonitorBoard } from '../monitor/board.js';
import type { SlackClient } from '../slack/updater.js';
import { AuditLog } from './audit.js';
import { CancelBoard } from './cancel.js';
import { Confirmations } from './confirmations.js';
import type { Engine, WorkerTuning } from './engine.js';
import { JobMessages } from './job-messages.js';
import { keys } from './keys.js';
import { HostLocks } from './locks.js';
import { processJob } from './process-job.js';
import { createQueue, type JobEnvelope, type JobName } from './queue.js';
import { RawOutput } from './raw-output.js';

export interface WorkerDeps {
  config: Config;
  /** A connection for BullMQ (maxRetriesPerRequest: null); the worker duplicates it as needed. */
  redis: Redis;
  log: Logger;
  registry: Registry;
  slack: SlackClient;
  metrics: Metrics;
  /**
   * The live clients plugins use (ssh pool, Manager client); the worker adds the monitor's board (on its own
   * Redis connection) and the registry the plugins' own.
   */
  services: Omit<BaseServices, 'config' | 'log' | 'board'>;
  /** Overrides for tests: shorter stall detection, confirmation TTL, lock wait. */
  tuning?: WorkerTuning;
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
  // Duplicates do not inherit listeners; without one, ioredis prints "[ioredis] Unhandled error event" to
  // stderr on every reconnect attempt, outside the JSON log.
  for (const c of [cmd, sub])
    c.on('error', (err: Error) => deps.log.warn({ err: err.message }, 'redis connection error'));
  const cancels = new CancelBoard(cmd, k.cancel, k.cancelChannel);
  await cancels.listen(sub);
  const services = deps.registry.services({
    ...deps.services,
    config: deps.config,
    log: deps.log,
    board: new MonitorBoard(cmd, inv.jobs.prefix),
  });
  const engine: Engine = {
    config: deps.config,
    log: deps.log,
    redis: cmd,
    keys: k,
    metrics: deps.metrics,
    services,
    registry: deps.registry,
    raw: new RawOutput(cmd, k.rawOutput, deps.log),
    messages: new JobMessages({ slack: deps.slack, redis: cmd, keys: k, log: deps.log }),
    audit: new AuditLog(cmd, k.audit),
    cancels,
    confirmations: new Confirmations(cmd, k.confirm, k.confirmUsed),
    locks: new HostLocks(cmd, k.lock, k.fence, inv.jobs.lockTtlMs),
    tuning: deps.tuning ?? {},
    queue: createQueue(cmd, inv.jobs.prefix),
  };

  const worker = new Worker<JobEnvelope, unknown, JobName>(
    k.queueName,
    (job, token) => processJob(engine, job, token),
    {
      connection: deps.redis,
      prefix: k.bullPrefix,
      concurrency: inv.jobs.concurrency,
      lockDuration: deps.tuning?.lockDurationMs ?? inv.jobs.lockDurationMs,
      stalledInterval: deps.tuning?.stalledIntervalMs ?? inv.jobs.stalledIntervalMs,
      maxStalledCount: inv.jobs.maxStalledCount,
      autorun: true,
    },
  );
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'worker error'));
  // Ready before it is handed out: a runtime whose start fails right after closes it cleanly.
  await worker.waitUntilReady();
  // BullMQ workers have been seen to stop taking jobs after Redis reconnects: a watchdog restarts the loop.
  let closing = false;
  const watchdog = setInterval(() => {
    if (!worker.isRunning() && !closing) {
      deps.log.warn('worker loop stopped; restarting it');
      worker.run().catch((err: Error) => deps.log.error({ err: err.message }, 'worker restart failed'));
    }
  }, 2000);
  return {
    worker,
    async close() {
      closing = true;
      clearInterval(watchdog);
      await worker.close();
      await engine.queue.close();
      await engine.messages.flush();
      sub.disconnect();
      cmd.disconnect();
    },
  };
}
