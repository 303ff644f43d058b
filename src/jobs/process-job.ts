/**
 * One job, from BullMQ to its end: the envelope is validated, the command looked up and its args parsed with
 * its own schema (a job that no longer fits fails at once, unrecoverable), then the plan or run phase, and
 * whatever was thrown is classified once (cancelled / retry / fail) and reported through `finish`.
 */
import { DelayedError, UnrecoverableError } from 'bullmq';
import { AppError, ErrorCode } from '../errors.js';
import { classify } from './classify.js';
import type { Engine, FlexJob, JobRun } from './engine.js';
import { finishCancelled, finishFailed, finishPartial, reportRetrying } from './finish.js';
import type { JobRecord } from './job-state.js';
import { planPhase } from './plan-phase.js';
import { type JobEnvelopeParsed, jobEnvelopeSchema } from './queue.js';
import { JobReporter } from './reporter.js';
import { runPhase } from './run-phase.js';

export async function processJob(e: Engine, job: FlexJob, token: string | undefined): Promise<unknown> {
  const jobId = job.id;
  if (!jobId) throw new UnrecoverableError(`${ErrorCode.jobInvalidData}: job without an id`);
  const env = jobEnvelopeSchema.safeParse(job.data);
  if (!env.success) {
    e.log.error({ jobId, err: env.error.issues[0]?.message }, 'job data is not a job envelope');
    throw new UnrecoverableError(`${ErrorCode.jobInvalidData}: job data is not a job envelope`);
  }
  const data = env.data;
  const log = e.log.child({ jobId, command: job.name, user: data.requester, phase: data.phase });
  const reporter = new JobReporter(
    {
      messages: e.messages,
      log,
      saveProgress: (p) => job.updateProgress(p),
      responseUrl: data.responseUrl,
    },
    await initialRecord(e, jobId, data),
  );
  const ctl = e.cancels.track(jobId);
  const services = { ...e.services, log, ssh: e.raw.recording(e.services.ssh, jobId) };
  const r: JobRun = { job, jobId, data, log, services, reporter, ctl, token };
  try {
    const command = e.registry.runnable(services).get(job.name);
    if (!command)
      throw new AppError(ErrorCode.jobUnknownCommand, `no command "${job.name}"`, {
        userMessage: `This job's command \`${job.name}\` is not installed on this worker; nothing was run.`,
      });
    const bound = command.bind(data.args);
    if (!bound.ok) throw bound.error;
    const by = await e.cancels.isRequested(jobId);
    if (by) return await finishCancelled(e, r, by);
    if (data.phase === 'plan') return await planPhase(e, r, bound.value);
    const run = bound.value.withPinned(data.pinned ?? null);
    if (!run.ok) throw run.error;
    return await runPhase(e, r, run.value, bound.value.locks(e.config));
  } catch (err) {
    if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
    const verdict = classify({
      err,
      abortReason: ctl.signal.aborted ? ctl.signal.reason : undefined,
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
    });
    if (verdict.kind === 'cancelled') return await finishCancelled(e, r, await e.cancels.isRequested(jobId));
    if (verdict.kind === 'partial') return await finishPartial(e, r, verdict.error, verdict.details);
    if (verdict.kind === 'retry') {
      await reportRetrying(r, verdict.error, job.opts.attempts ?? 1);
      throw verdict.error;
    }
    return await finishFailed(e, r, verdict.error);
  } finally {
    r.reporter.close();
    e.cancels.untrack(jobId);
  }
}

/** The job's record: the one its plan made (a confirmed run), the one an earlier attempt left, or a new one. */
async function initialRecord(e: Engine, jobId: string, data: JobEnvelopeParsed): Promise<JobRecord> {
  const recordId = data.recordId ?? jobId;
  const existing = await e.messages.read(recordId).catch(() => undefined);
  const base: JobRecord = existing ?? {
    recordId,
    channel: data.channel,
    ...(data.threadTs ? { threadTs: data.threadTs } : {}),
    text: data.text,
    requester: data.requester,
    state: data.phase === 'plan' ? 'planning' : 'running',
    updatedAt: 0,
  };
  // What an earlier attempt said (its error, result, "retrying" note) is not this attempt's story.
  const { error: _e, result: _r, note: _n, current: _cur, ...kept } = base;
  if (data.phase === 'plan') return { ...kept, state: 'planning' };
  const { plan: _plan, confirmId: _c, expiresAt: _x, extraButtons: _b, ...rest } = kept;
  return {
    ...rest,
    state: 'running',
    jobId,
    ...(data.confirmedBy ? { confirmedBy: data.confirmedBy } : {}),
  };
}
