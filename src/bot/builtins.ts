/**
 * The core's own commands — help, jobs, job, cancel, retry, audit — as specs like every plugin command: an
 * id, help text, a zod schema for the arguments (parsed by the same parser, so `audit 1.5` or `job x` get
 * the field, the reason and the usage line), who may run them, and an answer. They read and write Redis
 * only, and are answered by the bot directly (no job).
 */
import type { Job } from 'bullmq';
import { z } from 'zod';
import { parseArgs } from '../core/args.js';
import { type Access, type CommandInfo, commandInfo, findHost, type Schema } from '../core/plugin.js';
import type { BuiltinId } from '../core/registry.js';
import { joinMd, Md, md, mention } from '../core/text.js';
import { AppError, ErrorCode, type Result } from '../errors.js';
import { CancelBoard } from '../jobs/cancel.js';
import { jobProgressSchema } from '../jobs/job-state.js';
import { type JobEnvelopeParsed, jobEnvelopeSchema } from '../jobs/queue.js';
import { RawOutput } from '../jobs/raw-output.js';
import { isAdmin } from './auth.js';
import type { BotContext } from './context.js';
import { helpText } from './help.js';

export interface BuiltinCall {
  ctx: BotContext;
  user: string;
  channel: string;
}

interface BuiltinSpec<A> {
  id: BuiltinId;
  summary: string;
  examples: readonly string[];
  args: Schema<A>;
  positionals: readonly (keyof A & string)[];
  restPositional?: boolean;
  access: Access;
  /** What a user who may not run it is told (default: the generic admins-only sentence). */
  refusal?: string;
  answer(call: BuiltinCall, args: A): Promise<string> | string;
}

/** A built-in with its types erased: `parse` validates the words with its schema, then it can answer. */
export interface Builtin {
  readonly info: CommandInfo & { readonly id: BuiltinId };
  readonly refusal: string | undefined;
  parse(tokens: string[]): Result<{ answer(call: BuiltinCall): Promise<string> }, AppError>;
}

function defineBuiltin<A>(spec: BuiltinSpec<A>): Builtin {
  const info = commandInfo({ ...spec, mutates: false, steps: [] });
  return {
    info,
    refusal: spec.refusal,
    parse(tokens) {
      const shaped = parseArgs(info, tokens);
      if (!shaped.ok) return shaped;
      const args = spec.args.safeParse(shaped.value);
      // parseArgs ran this same schema; parsing again gives the typed value.
      if (!args.success)
        return {
          ok: false,
          error: new AppError(ErrorCode.argsInvalid, 'invalid arguments', {
            userMessage: 'Invalid arguments.',
          }),
        };
      return { ok: true, value: { answer: async (call) => spec.answer(call, args.data) } };
    },
  };
}

const jobIdArg = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(
    z
      .string()
      .regex(
        /^[a-z]-[a-z0-9]{6,20}$/,
        'Give a job id, as shown in the job message or by `/flexvdi jobs` (e.g. `j-3k9x0a1b2c`)',
      ),
  );

const age = (ms: number) => {
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

/** Job data as stored, validated (it may be old); undefined when it no longer parses. */
const dataOf = (job: Job): JobEnvelopeParsed | undefined => {
  const d = jobEnvelopeSchema.safeParse(job.data);
  return d.success ? d.data : undefined;
};

/** One line per job; everything in it that came from Redis or a user is escaped (md). */
async function describe(job: Job): Promise<Md> {
  const state = await job.getState();
  const data = dataOf(job);
  const ret = returnSchema.safeParse(job.returnvalue);
  const reason = job.failedReason?.startsWith('job.cancelled')
    ? 'cancelled'
    : job.failedReason?.startsWith('job.incomplete')
      ? 'partly done'
      : state === 'completed' && ret.success && ret.data.outcome === 'findings'
        ? 'completed with findings'
        : state;
  const what = data ? md`\`/flexvdi ${data.text}\` by ${mention(data.requester)}` : md`(unreadable job data)`;
  return md`\`${job.id ?? ''}\` ${reason.padEnd(9)} ${what}, ${age(job.timestamp)}`;
}

const lines = (parts: readonly Md[]): string => joinMd(parts, md`\n`).mrkdwn;

async function findJob(ctx: BotContext, id: string): Promise<Job | string> {
  const job = await ctx.queue.getJob(id);
  return job ?? `No job \`${id}\` (it may have been cleaned up; \`/flexvdi jobs\` lists recent ones).`;
}

const STEP_MARK: Record<string, string> = { done: '✅', warning: '⚠️', failed: '❌', skipped: '⏭️' };
const returnSchema = z.object({ summary: z.string(), outcome: z.string().optional() });

export const BUILTINS: readonly Builtin[] = [
  defineBuiltin({
    id: 'help',
    summary: 'List the commands, or explain one: `/flexvdi help <command>`',
    examples: ['/flexvdi help', '/flexvdi help ocfs2 join'],
    args: z.object({ topic: z.string().max(200).optional() }).strict(),
    positionals: ['topic'],
    restPositional: true,
    access: 'anyone',
    answer: ({ ctx }, a) => helpText(ctx.registry, BUILTINS, a.topic),
  }),
  defineBuiltin({
    id: 'jobs',
    summary: 'Recent jobs and their state',
    examples: ['/flexvdi jobs'],
    args: z.object({}).strict(),
    positionals: [],
    access: 'anyone',
    answer: async ({ ctx }) => {
      const jobs = await ctx.queue.getJobs(
        ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'],
        0,
        50,
      );
      const runs = jobs
        .filter((j) => dataOf(j)?.phase === 'run')
        .sort((a, b) => b.timestamp - a.timestamp)
        .slice(0, 15);
      if (!runs.length) return 'No jobs yet.';
      return lines([md`*Recent jobs*`, ...(await Promise.all(runs.map(describe)))]);
    },
  }),
  defineBuiltin({
    id: 'job',
    summary:
      "One job's steps, state and result; with --host, each remote command it ran there and its output",
    examples: ['/flexvdi job j-3k9x0a1b2c', '/flexvdi job j-3k9x0a1b2c --host host2'],
    args: z.object({ id: jobIdArg, host: z.string().max(253).optional() }).strict(),
    positionals: ['id'],
    access: 'anyone',
    answer: async ({ ctx }, a) => {
      const job = await findJob(ctx, a.id);
      if (typeof job === 'string') return job;
      if (a.host !== undefined) return rawOutputOf(ctx, a.id, a.host);
      const progress = jobProgressSchema.safeParse(job.progress);
      const view = progress.success ? progress.data : { steps: [], hosts: {} };
      const steps = view.steps.map((s) => md`  ${STEP_MARK[s.state] ?? '◻️'} ${s.title}`);
      const hosts = Object.entries(view.hosts).map(
        ([n, h]) => md`  ${n}: ${h.state}${h.detail ? md` — ${h.detail}` : ''}`,
      );
      const ret = returnSchema.safeParse(job.returnvalue);
      const end = job.failedReason
        ? [md`Failed: ${job.failedReason}`]
        : ret.success
          ? [md`Result: ${ret.data.summary}`]
          : [];
      return lines([
        await describe(job),
        md`attempts: ${job.attemptsMade}/${job.opts.attempts ?? 1}`,
        ...steps,
        ...hosts,
        ...end,
      ]);
    },
  }),
  defineBuiltin({
    id: 'cancel',
    summary: 'Cancel a queued job, or stop a running one at its next safe point',
    examples: ['/flexvdi cancel j-3k9x0a1b2c'],
    args: z.object({ id: jobIdArg }).strict(),
    positionals: ['id'],
    access: 'anyone',
    answer: async ({ ctx, user, channel }, a) => {
      const job = await findJob(ctx, a.id);
      if (typeof job === 'string') return job;
      const data = dataOf(job);
      const requester = data?.requester ?? '';
      if (requester !== user && !isAdmin(ctx.config, user)) {
        await ctx.audit.record({ user, command: `cancel ${a.id}`, channel, outcome: 'refused', jobId: a.id });
        return md`Only ${mention(requester)} or an admin can cancel \`${a.id}\`.`.mrkdwn;
      }
      const state = await job.getState();
      if (state === 'completed' || state === 'failed')
        return `\`${job.id}\` has already finished (${state}); nothing to cancel.`;
      await CancelBoard.request(ctx.redis, ctx.keys.cancel(a.id), ctx.keys.cancelChannel, a.id, user);
      // A delayed job (waiting for a lock or a retry) would otherwise see the flag only when its delay ends.
      if (state === 'delayed') await job.promote().catch(() => {});
      await ctx.audit.record({ user, command: `cancel ${a.id}`, channel, outcome: 'requested', jobId: a.id });
      return state === 'active'
        ? `Cancelling \`${job.id}\`: the running step is told to stop, and no further step starts.`
        : `Cancelled \`${job.id}\` before it started.`;
    },
  }),
  defineBuiltin({
    id: 'retry',
    summary: 'Run a failed job again; finished steps are not repeated',
    examples: ['/flexvdi retry j-3k9x0a1b2c'],
    args: z.object({ id: jobIdArg }).strict(),
    positionals: ['id'],
    access: 'admin',
    refusal: 'Only flexVDI admins can retry jobs.',
    answer: async ({ ctx, user, channel }, a) => {
      const job = await findJob(ctx, a.id);
      if (typeof job === 'string') return job;
      const state = await job.getState();
      if (state !== 'failed') return `\`${job.id}\` is ${state}; only failed jobs can be retried.`;
      const data = dataOf(job);
      if (!data) return `\`${job.id}\`'s data can no longer be read; run the command again.`;
      await ctx.redis.del(ctx.keys.cancel(a.id));
      await job.updateData({ ...data, generation: data.generation + 1 });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      await ctx.audit.record({ user, command: `retry ${a.id}`, channel, outcome: 'retried', jobId: a.id });
      return `Retrying \`${job.id}\`: finished steps are kept, the rest runs again. Progress in the job's message.`;
    },
  }),
  defineBuiltin({
    id: 'audit',
    summary: 'Who did what, when, and how it ended',
    examples: ['/flexvdi audit', '/flexvdi audit 50'],
    args: z.object({ count: z.number().int().min(1).max(100).default(20) }).strict(),
    positionals: ['count'],
    access: 'admin',
    refusal: 'Only flexVDI admins can read the audit trail.',
    answer: async ({ ctx }, a) => {
      const rows = await ctx.audit.recent(a.count);
      if (!rows.length) return 'The audit trail is empty.';
      return lines([
        md`*Audit trail* (newest first)`,
        ...rows.map(
          (r) =>
            md`${r.at} ${mention(r.user)} ${r.outcome} \`${r.command}\`${r.jobId ? md` job \`${r.jobId}\`` : ''}${r.detail ? md` — ${r.detail}` : ''}`,
        ),
      ]);
    },
  }),
];

/** Room for one ephemeral answer (Slack shows up to 40 000 characters; a screenful is more useful). */
const RAW_ANSWER_CHARS = 3800;

/** `/flexvdi job <id> --host <h>`: the remote operations of a job on one Host, newest kept when too long. */
async function rawOutputOf(ctx: BotContext, jobId: string, host: string): Promise<string> {
  const h = findHost(ctx.config, host);
  if (!h) return md`\`${host}\` is not a Host of the inventory (a name, FQDN or IP).`.mrkdwn;
  const entries = await new RawOutput(ctx.redis, ctx.keys.rawOutput, ctx.log).entries(jobId, h.name);
  if (!entries.length)
    return md`Job \`${jobId}\` has no recorded remote operations on *${h.name}* (it did not touch it, or the record expired after 7 days).`
      .mrkdwn;
  const blocks = entries.map((e) => {
    const how = e.error ? `failed (${e.error})` : e.code === null ? 'no exit status' : `exit ${e.code}`;
    const out = [
      e.stdout && md`\`\`\`${e.stdout}\`\`\``,
      e.stderr && md`stderr: \`\`\`${e.stderr}\`\`\``,
    ].filter((x): x is Md => x instanceof Md);
    return joinMd([md`\`${e.at.slice(11, 19)}\` ${e.op} \`${e.what}\` → ${how}, ${e.ms} ms`, ...out], md`\n`);
  });
  const head = md`*Job \`${jobId}\` on ${h.name}*: ${entries.length} remote operation${entries.length === 1 ? '' : 's'}, oldest first (secrets redacted)`;
  const kept: Md[] = [];
  let size = head.mrkdwn.length;
  for (const b of [...blocks].reverse()) {
    if (size + b.mrkdwn.length + 1 > RAW_ANSWER_CHARS) break;
    kept.unshift(b);
    size += b.mrkdwn.length + 1;
  }
  const cut = blocks.length - kept.length;
  return lines([
    head,
    ...(cut ? [md`…${cut} older operation${cut === 1 ? '' : 's'} not shown`] : []),
    ...kept,
  ]);
}
