/** The core's own commands: jobs, job, cancel, retry, audit. They read and write Redis only. */
import type { Job } from 'bullmq';
import type { BuiltinId } from '../core/registry.js';
import { CancelBoard } from '../jobs/cancel.js';
import type { JobEnvelopeParsed } from '../jobs/queue.js';
import type { JobView } from '../slack/job-view.js';
import { isAdmin } from './auth.js';
import type { BotContext } from './context.js';

const age = (ms: number) => {
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

const safeId = (s: string | undefined) => (s && /^[a-z]-[a-z0-9]{6,20}$/.test(s) ? s : undefined);

async function describe(job: Job): Promise<string> {
  const state = await job.getState();
  const data = job.data as JobEnvelopeParsed;
  const reason = job.failedReason?.startsWith('job.cancelled') ? 'cancelled' : state;
  return `\`${job.id}\` ${reason.padEnd(9)} \`/flexvdi ${data.text}\` by <@${data.requester}>, ${age(job.timestamp)}`;
}

export async function handleBuiltin(
  ctx: BotContext,
  id: BuiltinId,
  rest: string[],
  user: string,
  channel: string,
): Promise<string> {
  switch (id) {
    case 'help':
      return '';
    case 'jobs': {
      const jobs = await ctx.queue.getJobs(
        ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'],
        0,
        50,
      );
      const runs = jobs
        .filter((j) => (j.data as JobEnvelopeParsed).phase === 'run')
        .sort((a, b) => b.timestamp - a.timestamp)
        .slice(0, 15);
      if (!runs.length) return 'No jobs yet.';
      return ['*Recent jobs*', ...(await Promise.all(runs.map(describe)))].join('\n');
    }
    case 'job': {
      const job = await findJob(ctx, rest[0]);
      if (typeof job === 'string') return job;
      const view = job.progress as Partial<JobView>;
      const steps =
        view?.steps?.map(
          (s) =>
            `  ${s.state === 'done' ? '✅' : s.state === 'failed' ? '❌' : s.state === 'skipped' ? '⏭️' : '◻️'} ${s.title}`,
        ) ?? [];
      const hosts = view?.hosts
        ? Object.entries(view.hosts).map(([n, h]) => `  ${n}: ${h.state}${h.detail ? ` — ${h.detail}` : ''}`)
        : [];
      const end = job.failedReason
        ? `Failed: ${job.failedReason}`
        : job.returnvalue
          ? `Result: ${(job.returnvalue as { summary?: string }).summary ?? 'done'}`
          : '';
      return [
        await describe(job),
        `attempts: ${job.attemptsMade}/${job.opts.attempts ?? 1}`,
        ...steps,
        ...hosts,
        end,
      ]
        .filter(Boolean)
        .join('\n');
    }
    case 'cancel': {
      const job = await findJob(ctx, rest[0]);
      if (typeof job === 'string') return job;
      const data = job.data as JobEnvelopeParsed;
      if (data.requester !== user && !isAdmin(ctx.config, user))
        return `Only <@${data.requester}> or an admin can cancel \`${job.id}\`.`;
      const state = await job.getState();
      if (state === 'completed' || state === 'failed')
        return `\`${job.id}\` has already finished (${state}); nothing to cancel.`;
      await CancelBoard.request(ctx.redis, ctx.keys.cancel(job.id!), ctx.keys.cancelChannel, job.id!, user);
      // A delayed job (waiting for a lock or a retry) would otherwise see the flag only when its delay ends.
      if (state === 'delayed') await job.promote().catch(() => {});
      await ctx.audit.record({
        user,
        command: `cancel ${job.id}`,
        channel,
        outcome: 'requested',
        jobId: job.id!,
      });
      return state === 'active'
        ? `Cancelling \`${job.id}\`: the running step is told to stop, and no further step starts.`
        : `Cancelled \`${job.id}\` before it started.`;
    }
    case 'retry': {
      const job = await findJob(ctx, rest[0]);
      if (typeof job === 'string') return job;
      if (!isAdmin(ctx.config, user)) return 'Only flexVDI admins can retry jobs.';
      const state = await job.getState();
      if (state !== 'failed') return `\`${job.id}\` is ${state}; only failed jobs can be retried.`;
      const data = job.data as JobEnvelopeParsed;
      await ctx.redis.del(ctx.keys.cancel(job.id!));
      await job.updateData({ ...data, generation: (data.generation ?? 0) + 1 });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      await ctx.audit.record({
        user,
        command: `retry ${job.id}`,
        channel,
        outcome: 'retried',
        jobId: job.id!,
      });
      return `Retrying \`${job.id}\`: finished steps are kept, the rest runs again. Progress in the job's message.`;
    }
    case 'audit': {
      if (!isAdmin(ctx.config, user)) return 'Only flexVDI admins can read the audit trail.';
      const n = Math.min(100, Math.max(1, Number(rest[0] ?? 20) || 20));
      const rows = await ctx.audit.recent(n);
      if (!rows.length) return 'The audit trail is empty.';
      return [
        '*Audit trail* (newest first)',
        ...rows.map(
          (r) =>
            `${r.at} <@${r.user}> ${r.outcome} \`${r.command}\`${r.jobId ? ` job \`${r.jobId}\`` : ''}${r.detail ? ` — ${r.detail}` : ''}`,
        ),
      ].join('\n');
    }
  }
}

async function findJob(ctx: BotContext, raw: string | undefined): Promise<Job | string> {
  const id = safeId(raw?.toLowerCase());
  if (!id) return 'Give a job id, as shown in the job message or by `/flexvdi jobs` (e.g. `j-3k9x0a1b2c`).';
  const job = await ctx.queue.getJob(id);
  return job ?? `No job \`${id}\` (it may have been cleaned up; \`/flexvdi jobs\` lists recent ones).`;
}
