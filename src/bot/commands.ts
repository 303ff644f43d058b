/**
 * The slash command handler. Order matters for Slack's 3-second rule: parse and authorize synchronously
 * (cheap, in memory), ack at once (errors go back in the ack body as an ephemeral reply), and only then do
 * the slow things: the enqueue and its audit record (src/bot/enqueuer.ts: after the burst being acked, in one
 * round trip with the commands acked meanwhile).
 */
import type { AckFn, RespondArguments, RespondFn, SlashCommand } from '@slack/bolt';
import { asAppError } from '../errors.js';
import { deterministicId } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import { authorize, isAdmin } from './auth.js';
import type { BotContext } from './context.js';
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
    const id = p.builtin.info.id;
    const denied = authorize(ctx.config, p.builtin.info.access, false, user, channel);
    if (denied) {
      // As every answer of a built-in: an ephemeral reply through response_url after the ack.
      await ack();
      await respond(ephemeral(p.builtin.refusal ?? denied.userMessage));
      ctx.metrics.commands.inc({ command: id, outcome: 'refused' });
      await ctx.audit
        .record({ user, command: p.text, channel, outcome: 'refused', detail: denied.code })
        .catch(() => {});
      return;
    }
    if (id === 'help') {
      await ack(ephemeral(await p.answer({ ctx, user, channel })));
      ctx.metrics.commands.inc({ command: 'help', outcome: 'answered' });
      return;
    }
    await ack();
    ctx.metrics.commands.inc({ command: id, outcome: 'answered' });
    let reply: string;
    try {
      reply = await p.answer({ ctx, user, channel });
    } catch (err) {
      // Nothing after the ack may fail silently: the user hears what went wrong and what to do.
      const e = asAppError(err);
      ctx.log.warn({ err: e.message, code: e.code, command: id }, 'built-in command failed');
      reply = isRedisUnavailableError(err)
        ? `Could not answer \`/flexvdi ${p.text}\`: Redis is unavailable right now. Try again in a minute.`
        : `Could not answer \`/flexvdi ${p.text}\`: ${e.userMessage} (\`${e.code}\`).`;
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
  // Everything after the ack is the enqueue, with its audit record: handed to the enqueuer, which sends it
  // once the requests being handled meanwhile are answered (a burst is acked first), in one round trip with
  // theirs. The job id comes from Slack's trigger id (unique per invocation), so a redelivered or duplicated
  // request is a no-op add, audited once. The worker posts the job message (another process).
  const requestKey = `${command.team_id}:${command.trigger_id || `${user}:${command.text}:${Date.now()}`}`;
  const phase = spec.mutates ? 'plan' : 'run';
  const jobId = deterministicId(phase === 'plan' ? 'p' : 'j', requestKey);
  try {
    await ctx.enqueuer.enqueue({
      name: spec.id,
      data: {
        phase,
        text: p.text,
        args: p.args,
        requester: user,
        isAdmin: isAdmin(ctx.config, user),
        channel,
        ...(command.response_url ? { responseUrl: command.response_url } : {}),
      },
      jobId,
      audit: { marker: ctx.keys.dedup(jobId), user, command: p.text, channel },
    });
    ctx.metrics.commands.inc({ command: spec.id, outcome: 'enqueued' });
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
