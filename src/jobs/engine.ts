/**
 * What the worker's phases share: the long-lived stores (built once per worker) and one job's run (its
 * envelope, logger, reporter and AbortController).
 */
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { PlanEnv, PluginServices, StepEnv } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import type { Metrics } from '../metrics.js';
import type { AuditLog } from './audit.js';
import type { CancelBoard } from './cancel.js';
import type { Confirmations } from './confirmations.js';
import type { JobMessages } from './job-messages.js';
import type { Keys } from './keys.js';
import type { HostLocks } from './locks.js';
import type { FlexQueue, JobEnvelope, JobEnvelopeParsed, JobName } from './queue.js';
import type { RawOutput } from './raw-output.js';
import type { JobReporter } from './reporter.js';

export interface WorkerTuning {
  lockDurationMs?: number | undefined;
  stalledIntervalMs?: number | undefined;
  confirmTtlMs?: number | undefined;
  lockRetryMs?: number | undefined;
}

export interface Engine {
  config: Config;
  log: Logger;
  redis: Redis;
  keys: Keys;
  metrics: Metrics;
  services: PluginServices;
  /** Commands are bound per job, so a plugin's dependencies get the job's services (its log, its SSH). */
  registry: Registry;
  raw: RawOutput;
  messages: JobMessages;
  audit: AuditLog;
  cancels: CancelBoard;
  confirmations: Confirmations;
  locks: HostLocks;
  tuning: WorkerTuning;
  /** For a plan that confirms itself (`autoConfirm`): its run job is added here. */
  queue: FlexQueue;
}

export type FlexJob = Job<JobEnvelope, unknown, JobName>;

export interface JobRun {
  job: FlexJob;
  jobId: string;
  data: JobEnvelopeParsed;
  log: Logger;
  /** The plugins' services for this job: its logger, and an SSH pool that records raw output per Host. */
  services: PluginServices;
  reporter: JobReporter;
  ctl: AbortController;
  /** BullMQ's lock token of this attempt (to move the job to delayed). */
  token: string | undefined;
}

/** What a plan sees of its job: who asked, the job's services, the job's signal. */
export function planEnv(r: JobRun): PlanEnv {
  return {
    requester: r.data.requester,
    isAdmin: r.data.isAdmin,
    services: r.services,
    signal: r.ctl.signal,
  };
}

/** What the steps and the result see: the plan's view plus the job id, attempt and results so far. */
export function runEnv(
  r: JobRun,
  results: ReadonlyMap<string, unknown>,
): Omit<StepEnv, 'progress' | 'checkpoint' | 'finding'> {
  return { ...planEnv(r), jobId: r.jobId, attempt: r.job.attemptsMade + 1, results };
}
