/**
 * The run phase: take the command's locks (canonical Host ids, so every spelling of a Host excludes the
 * others), keep their leases alive while the steps run (a lost lease aborts the job with `lock.lost`), run
 * the steps in order from their checkpoints, then the command's result.
 */
import { DelayedError } from 'bullmq';
import type { z } from 'zod';
import type { BoundRun, StepEnv } from '../core/plugin.js';
import { prose } from '../core/text.js';
import { AppError, asAppError, ErrorCode, errorCode } from '../errors.js';
import type { SshPool } from '../ssh/index.js';
import { Checkpoints } from './checkpoints.js';
import { type Engine, type JobRun, runEnv } from './engine.js';
import { finishRun } from './finish.js';
import type { StepState, stepViewSchema } from './job-state.js';
import type { HeldLocks } from './locks.js';

type StepView = z.output<typeof stepViewSchema>;

export async function runPhase(e: Engine, job: JobRun, run: BoundRun, resources: string[]) {
  const held = await takeLocks(e, job, resources);
  // Every write this job makes to a Host first checks, in Redis, that the job still holds its locks.
  const r: JobRun = held
    ? { ...job, services: { ...job.services, ssh: fenced(job.services.ssh, held, job) } }
    : job;
  const renew = held
    ? setInterval(
        () => {
          held.renew().catch((err: unknown) => {
            const lost = asAppError(err);
            // Only a lease another job took stops the steps; a Redis hiccup is retried at the next renewal
            // (a lease that merely expired meanwhile is taken again if nobody else held it).
            if (lost.code === ErrorCode.lockLost) r.ctl.abort(lost);
            else r.log.warn({ err: lost.message }, 'could not renew the Host locks; trying again');
          });
        },
        Math.max(500, e.config.inventory.jobs.lockTtlMs / 3),
      )
    : undefined;
  try {
    const checkpoints = new Checkpoints(e.redis, e.keys.checkpoints(r.jobId), r.log);
    const results = await runSteps(e, r, run, checkpoints);
    const result = await run.result(runEnv(r, results));
    return await finishRun(e, r, result);
  } finally {
    if (renew) clearInterval(renew);
    // The outcome is decided; a release that fails only leaves leases that expire by themselves.
    await held
      ?.release()
      .catch((err: unknown) => r.log.warn({ err: String(err) }, 'could not release the Host locks'));
  }
}

/**
 * The job's SSH pool, with each write and each command preceded by a check that the job's locks are still its own (the
 * lease's fence value in Redis): a job that lost a Host to another job (its lease lapsed while it was
 * paused, and another job took the Host) fails that write with `lock.lost` instead of writing, even if its
 * renewal timer has not fired yet. The check and the write are two steps, not one atomic act on the Host:
 * what this guarantees is in the README ("Locks").
 */
function fenced(ssh: SshPool, held: HeldLocks, r: JobRun): SshPool {
  const stillHeld = async () => {
    try {
      await held.renew();
    } catch (err) {
      const lost = asAppError(err);
      if (lost.code === ErrorCode.lockLost) r.ctl.abort(lost);
      throw lost;
    }
  };
  // Commands run through exec may write too (scripts that edit key files): they are checked the same way.
  return {
    ...ssh,
    exec: async (t, command, opts) => {
      await stillHeld();
      return ssh.exec(t, command, opts);
    },
    writeFileAtomic: async (t, path, content, opts) => {
      await stillHeld();
      return ssh.writeFileAtomic(t, path, content, opts);
    },
  };
}

/** Takes every lock or waits: a busy Host puts the job back as delayed (it says so) and tries again later. */
async function takeLocks(e: Engine, r: JobRun, resources: string[]): Promise<HeldLocks | undefined> {
  if (!resources.length) return undefined;
  try {
    return await e.locks.acquire(r.jobId, resources);
  } catch (err) {
    const busy = asAppError(err);
    if (busy.code !== ErrorCode.lockBusy || !r.token) throw busy;
    await r.reporter.final({ state: 'waiting', note: prose(busy.userMessage) });
    await r.job.moveToDelayed(Date.now() + (e.tuning.lockRetryMs ?? 2000), r.token);
    throw new DelayedError();
  }
}

/**
 * Runs the steps in order. A step whose checkpoint exists (written right after it finished, by this run or
 * an earlier one of the same job) is skipped and its saved result, validated again, reused. Between steps
 * the cancel flag and the job's signal are read, so a cancelled job stops at the next safe point.
 */
async function runSteps(
  e: Engine,
  r: JobRun,
  run: BoundRun,
  checkpoints: Checkpoints,
): Promise<Map<string, unknown>> {
  const saved = await checkpoints.steps();
  const results = new Map<string, unknown>();
  const view = run.steps.map((s): StepView => {
    const raw = saved.get(s.id);
    const ok = saved.has(s.id) ? s.accept(raw) : undefined;
    if (ok?.ok) results.set(s.id, ok.value);
    // A checkpoint that no longer validates is not trusted: the (idempotent) step runs again.
    if (ok && !ok.ok)
      r.log.warn(
        { step: s.id, err: ok.error.message },
        'checkpoint does not validate; running the step again',
      );
    const state: StepState = ok?.ok ? 'skipped' : 'pending';
    return { id: s.id, title: s.title, state, ...(ok?.ok ? { detail: 'done in an earlier run' } : {}) };
  });
  r.reporter.set({ state: 'running', steps: view });
  const findings: string[] = [];
  const env = (): StepEnv => ({
    ...runEnv(r, results),
    progress: r.reporter,
    checkpoint: checkpoints,
    finding: (text) => findings.push(text),
  });
  for (const [i, step] of run.steps.entries()) {
    if (results.has(step.id)) continue;
    await stopIfAsked(e, r);
    view[i] = { ...view[i]!, state: 'running' };
    r.reporter.set({ steps: [...view], current: `Step ${i + 1}/${run.steps.length}: ${step.title}` });
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    try {
      const value = await step.run(env());
      results.set(step.id, value);
      await checkpoints.saveStep(step.id, value);
      // A step that could not do all of its work is not ✅: it says what it could not do.
      view[i] = findings.length
        ? { ...view[i]!, state: 'warning', detail: findings.splice(0).join('; ').slice(0, 300) }
        : { ...view[i]!, state: 'done' };
      e.metrics.steps.observe({ command: r.job.name, step: step.id, outcome: 'ok' }, seconds());
      r.log.info({ step: step.id, ms: Math.round(seconds() * 1000) }, 'step done');
    } catch (err) {
      view[i] = { ...view[i]!, state: 'failed' };
      e.metrics.steps.observe({ command: r.job.name, step: step.id, outcome: errorCode(err) }, seconds());
      r.reporter.set({ steps: [...view] });
      throw err;
    }
    r.reporter.set({ steps: [...view] });
  }
  return results;
}

/** Throws the coded reason to stop: someone cancelled (`job.cancelled`), or the signal fired (`lock.lost`). */
async function stopIfAsked(e: Engine, r: JobRun): Promise<void> {
  const by = await e.cancels.isRequested(r.jobId);
  if (by) throw new AppError(ErrorCode.jobCancelled, `cancelled by ${by}`, { details: { by } });
  if (r.ctl.signal.aborted) throw asAppError(r.ctl.signal.reason);
}
