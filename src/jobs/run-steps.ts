/**
 * Runs a command's steps in order. A step whose checkpoint exists (written right after it finished, by this
 * run or an earlier one of the same job) is skipped and its saved result reused. Between steps the cancel
 * flag is read, so a cancelled job stops at the next safe point.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnyCommand, StepContext } from '../core/plugin.js';
import { AppError, ErrorCode, errorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { StepState } from '../slack/job-view.js';
import type { JobReporter } from './reporter.js';

export interface RunStepsOptions {
  spec: AnyCommand;
  ctxBase: Omit<StepContext<unknown>, 'results'>;
  reporter: JobReporter;
  redis: Redis;
  checkpointKey: string;
  isCancelled: () => Promise<string | null>;
  metrics: Metrics;
  log: Logger;
}

export async function runSteps(o: RunStepsOptions): Promise<Record<string, unknown>> {
  const saved = await o.redis.hgetall(o.checkpointKey);
  const results: Record<string, unknown> = {};
  const view = o.spec.steps.map((s) => {
    const done = Object.hasOwn(saved, `step:${s.id}`);
    if (done) results[s.id] = JSON.parse(saved[`step:${s.id}`]!);
    return {
      id: s.id,
      title: s.title,
      state: (done ? 'skipped' : 'pending') as StepState,
      ...(done ? { detail: 'done in an earlier run' } : {}),
    };
  });
  void o.reporter.set({ state: 'running', steps: view });
  for (const [i, step] of o.spec.steps.entries()) {
    if (Object.hasOwn(results, step.id)) continue;
    const by = await o.isCancelled();
    // Fix (core tests): an abort that is not a cancel (a lost Host lock) stops the job with its own error
    // instead of being reported as "Cancelled by someone".
    const reason: unknown = o.ctxBase.signal.reason;
    if (!by && o.ctxBase.signal.aborted && errorCode(reason) !== ErrorCode.internal) throw reason;
    if (by || o.ctxBase.signal.aborted)
      throw new AppError(ErrorCode.jobCancelled, `cancelled by ${by ?? 'abort'}`);
    view[i]!.state = 'running';
    void o.reporter.set({ steps: view, current: `Step ${i + 1}/${o.spec.steps.length}: ${step.title}` });
    const t0 = performance.now();
    try {
      const value = await step.run({ ...o.ctxBase, results: { ...results } });
      results[step.id] = value ?? null;
      await o.redis.hset(o.checkpointKey, `step:${step.id}`, JSON.stringify(value ?? null));
      await o.redis.expire(o.checkpointKey, 30 * 86_400);
      view[i]!.state = 'done';
      o.metrics.steps.observe(
        { command: o.spec.id, step: step.id, outcome: 'ok' },
        (performance.now() - t0) / 1000,
      );
      o.log.info({ step: step.id, ms: Math.round(performance.now() - t0) }, 'step done');
    } catch (err) {
      view[i]!.state = 'failed';
      o.metrics.steps.observe(
        { command: o.spec.id, step: step.id, outcome: errorCode(err) },
        (performance.now() - t0) / 1000,
      );
      void o.reporter.set({ steps: view });
      throw err;
    }
    void o.reporter.set({ steps: view });
  }
  return results;
}
