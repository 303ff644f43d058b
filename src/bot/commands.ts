/**
 * The slash command handler. Order matters for Slack's 3-second rule: parse and authorize synchronously
 * (cheap, in memory), ack at once (errors go back in the ack body as an ephemeral reply), and only then do
 * the slow things: post the job message, enqueue, audit.
 */
import type { AckFn, RespondArguments, RespondFn, SlashCommand } from '@slack/bolt';
import { asAppError } from '../errors.js';
import { deterministicId, enqueue, type JobName } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import { authorize, isAdmin } from './auth.js';
import { handleBuiltin } from './builtins.js';
import type { BotContext } from './context.js';
import { helpText } from './help.js';
import { parseCommandText } from './parse.js';

const ephemeral = (text: string): RespondArguments => ({ response_type: 'ephemeral', text });

export async function handleSlashCommand(
  ctx: BotContext,
  command: SlashCommand,
  ack: AckFn<string | RespondArguments>,
  respond: RespondFn,
): Promise<void> {
  const user = command.user_id;
  const channel = command.channel_id;
  const parsed = parseCommandText(ctx.registry, command.text ?? '');
  if (!parsed.ok) {
    await ack(ephemeral(parsed.error.userMessage));
    ctx.metrics.commands.inc({ command: 'unknown', outcome: 'invalid' });
    return;
  }
  const p = parsed.value;
  if (p.kind === 'builtin') {
    if (p.id === 'help') {
      await ack(ephemeral(helpText(ctx.registry, p.rest.join(' ') || undefined)));
      ctx.metrics.commands.inc({ command: 'help', outcome: 'answered' });
      return;
    }
    await ack();
    ctx.metrics.commands.inc({ command: p.id, outcome: 'answered' });
    let reply: string;
    try {
      reply = await handleBuiltin(ctx, p.id, p.rest, user, channel);
    } catch (err) {
      // Fix (core tests, Redis restart): the user heard nothing when Redis was down.
      if (!isRedisUnavailableError(err)) throw err;
      ctx.log.warn(
        { err: (err as Error).message, command: p.id },
        'built-in command while Redis is unavailable',
      );
      reply = `Could not answer \`/flexvdi ${p.text}\`: Redis is unavailable right now. Try again in a minute.`;
    }
    await respond(ephemeral(reply));
    return;
  }
  const { spec } = p;
  const refusal = authorize(ctx.config, spec.access, spec.mutates, user, channel);
  if (refusal) {
    await ack(ephemeral(refusal.userMessage));
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'refused' });
    await ctx.audit
      .record({ user, command: p.text, channel, outcome: 'refused', detail: refusal.code })
      .catch(() => {});
    return;
  }
  await ack();
  // Everything after the ack is one Redis call (the add), deferred past the I/O already waiting so a burst
  // of commands is acked first. The job id comes from Slack's trigger id (unique per invocation), so a
  // redelivered or duplicated request is a no-op add. The worker posts the job message (another process).
  const requestKey = `${command.team_id}:${command.trigger_id || `${user}:${command.text}:${Date.now()}`}`;
  const phase = spec.mutates ? 'plan' : 'run';
  const jobId = deterministicId(phase === 'plan' ? 'p' : 'j', requestKey);
  await new Promise((r) => setImmediate(r));
  try {
    await enqueue(
      ctx.queue,
      spec.id as JobName,
      {
        phase,
        text: p.text,
        args: p.args,
        requester: user,
        isAdmin: isAdmin(ctx.config, user),
        channel,
        ...(command.response_url ? { responseUrl: command.response_url } : {}),
      },
      jobId,
      ctx.queueSettings,
    );
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'enqueued' });
    // Fix (core tests): a redelivery is a no-op add, but each delivery was audited as a new "requested"
    // record; a marker per job id keeps the trail to one record per request (still off the ack path).
    void ctx.redis
      .set(ctx.keys.dedup(jobId), '1', 'EX', 86_400, 'NX')
      .then((first) =>
        first === 'OK'
          ? ctx.audit.record({ user, command: p.text, channel, outcome: 'requested', jobId })
          : undefined,
      )
      .catch(() => {});
  } catch (err) {
    const e = asAppError(err);
    ctx.log.error({ err: e.message, code: e.code, command: spec.id, user }, 'could not enqueue the command');
    await respond(
      ephemeral(
        `Could not start \`/flexvdi ${p.text}\`: the job queue is unavailable (Redis?). Nothing was started; try again in a minute.`,
      ),
    ).catch(() => {});
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'error' });
  }
}
