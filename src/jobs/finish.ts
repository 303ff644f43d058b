/**
 * How a job ends, in one place: the final state of its message, the audit record and the metrics. Every way
 * out of a job — planned, refused, no-op, completed, completed with findings, failed, cancelled, retrying —
 * goes through here.
 */
import { UnrecoverableError } from 'bullmq';
import type { IncompleteDetails } from '../core/partial.js';
import type { CommandResult, StoredPlan } from '../core/plugin.js';
import { md, mention, prose } from '../core/text.js';
import { type AppError, ErrorCode } from '../errors.js';
import type { AuditOutcome } from './audit.js';
import type { Engine, JobRun } from './engine.js';
import type { JobRecord } from './job-state.js';

/** A result longer than this many lines is also posted in full in the job message's thread. */
export const THREAD_DETAIL_LINES = 10;

async function audit(e: Engine, r: JobRun, outcome: AuditOutcome, detail?: string, user?: string) {
  await e.audit.record({
    user: user ?? r.data.requester,
    command: r.data.text,
    channel: r.data.channel,
    outcome,
    jobId: r.jobId,
    ...(detail ? { detail } : {}),
  });
}

/** `audited` false: a re-run showing a plan stored by an earlier attempt (already in the audit trail). */
export async function finishPlanned(
  e: Engine,
  r: JobRun,
  plan: StoredPlan,
  patch: Partial<JobRecord>,
  audited = true,
): Promise<void> {
  if (plan.refused || plan.noop) {
    await r.reporter.final({ state: plan.refused ? 'refused' : 'noop', plan });
    await audit(e, r, plan.refused ? 'refused' : 'noop', (plan.refused ?? plan.summary).plain());
    return;
  }
  await r.reporter.final({ state: 'awaiting-confirmation', plan, ...patch });
  if (audited) await audit(e, r, 'planned');
}

export async function finishRun(
  e: Engine,
  r: JobRun,
  result: CommandResult,
): Promise<{ summary: string; outcome: string }> {
  const outcome = result.outcome ?? 'completed';
  const state = outcome === 'findings' ? 'findings' : outcome === 'failed' ? 'failed' : 'completed';
  const rec = await r.reporter.final({ state, result });
  const detailLines = result.sections.reduce((n, s) => n + s.lines.length, 0);
  if (detailLines > THREAD_DETAIL_LINES || outcome !== 'completed') {
    await e.messages.postInThread(
      rec,
      `${r.jobId}:${r.data.generation}:result`,
      result.sections.flatMap((s) => (s.title ? [md`*${s.title}*`, ...s.lines] : s.lines)),
      `Result of /flexvdi ${r.data.text.replace(/[`*_~<>&]/g, '')}`,
    );
  }
  await audit(e, r, outcome, result.summary.plain());
  e.metrics.jobsFinished.inc({ command: r.job.name, outcome });
  if (outcome === 'failed') throw new UnrecoverableError(`job.partial_failure: ${result.summary.plain()}`);
  return { summary: result.summary.plain(), outcome };
}

export async function finishFailed(e: Engine, r: JobRun, err: AppError): Promise<never> {
  r.log.error({ code: err.code, err: err.message }, 'job failed');
  const rec = await r.reporter.final({ state: 'failed', error: err.userMessage });
  await e.messages.postInThread(
    rec,
    `${r.jobId}:${r.data.generation}:error`,
    [md`code \`${err.code}\``, prose(err.userMessage)],
    'Failure details',
  );
  await audit(e, r, 'failed', `${err.code}: ${err.userMessage}`);
  e.metrics.jobsFinished.inc({ command: r.job.name, outcome: 'failed' });
  throw new UnrecoverableError(`${err.code}: ${err.userMessage}`);
}

/** `by`: who asked (the cancel flag), or null when the flag is gone (expired): then nobody is named. */
/**
 * A step finished some Hosts and not others: "partly done", with who is done and who is not; the job fails
 * in BullMQ's terms so that `/flexvdi retry` can finish it (the done Hosts are skipped by their checkpoints).
 */
export async function finishPartial(
  e: Engine,
  r: JobRun,
  err: AppError,
  details: IncompleteDetails,
): Promise<never> {
  r.log.warn({ done: details.done, failed: Object.keys(details.failed) }, 'job partly done');
  const rec = await r.reporter.final({ state: 'partial', error: err.userMessage });
  await e.messages.postInThread(
    rec,
    `${r.jobId}:${r.data.generation}:partial`,
    [
      ...Object.entries(details.failed).map(
        ([h, f]) => md`• *${h}*: not done — ${prose(f.message)} (\`${f.code}\`)`,
      ),
      ...details.done.map((h) => md`• *${h}*: done`),
    ],
    'Per Host',
  );
  await audit(e, r, 'partial', err.userMessage);
  e.metrics.jobsFinished.inc({ command: r.job.name, outcome: 'partial' });
  throw new UnrecoverableError(`${ErrorCode.jobIncomplete}: ${err.userMessage}`);
}

export async function finishCancelled(e: Engine, r: JobRun, by: string | null): Promise<never> {
  r.log.info({ by }, 'job cancelled');
  await r.reporter.final({
    state: 'cancelled',
    note: md`Cancelled${by ? md` by ${mention(by)}` : ''}. Steps already finished stay done; nothing else was started.`,
  });
  await audit(e, r, 'cancelled', undefined, by ?? r.data.requester);
  e.metrics.jobsFinished.inc({ command: r.job.name, outcome: 'cancelled' });
  throw new UnrecoverableError(`${ErrorCode.jobCancelled}: cancelled by ${by}`);
}

export async function reportRetrying(r: JobRun, err: AppError, attempts: number): Promise<void> {
  const n = r.job.attemptsMade + 1;
  r.log.warn({ code: err.code, err: err.message, attempt: n }, 'retryable failure');
  await r.reporter.final({
    state: 'retrying',
    note: md`Attempt ${n} of ${attempts} failed: ${prose(err.userMessage)} Retrying automatically.`,
  });
}
