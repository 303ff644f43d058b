/**
 * Confirm / Cancel buttons on a plan. Ack first; then the click is checked (requester or admin), and the
 * pending confirmation is claimed atomically in Redis, so a double click, a second bot replica or a Slack
 * redelivery can never make a second job; the run job's id is derived from the confirmation too.
 */
import type { BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import { planButtons } from '../core/plugin.js';
import { asAppError } from '../errors.js';
import type { ClaimResult, Pending } from '../jobs/confirmations.js';
import { deterministicId, enqueue, type JobName } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import { type JobView, renderJob } from '../slack/job-view.js';
import { isAdmin } from './auth.js';
import type { BotContext } from './context.js';

export const runJobIdFor = (confirmId: string) => deterministicId('j', 'confirm', confirmId);

function viewOf(p: Pending, patch: Partial<JobView>): JobView {
  return { text: p.text, requester: p.requester, state: 'queued', ...patch };
}

export async function handleButton(
  ctx: BotContext,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
  outcome: 'confirmed' | 'cancelled',
): Promise<void> {
  const user = body.user.id;
  const confirmId = action.value ?? '';
  const say = (text: string) =>
    respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => {});
  // Fix (core tests, Redis restart): without Redis a click ended in an unhandled error and the user heard
  // nothing. Before the claim nothing has happened, so it is safe to say so and ask for another click.
  const unavailable = async (err: unknown): Promise<void> => {
    if (!isRedisUnavailableError(err)) throw err;
    ctx.log.warn({ err: (err as Error).message, confirmId }, 'click while Redis is unavailable');
    await say(
      'Redis is unavailable right now. Nothing was started; the plan stays valid, click again in a minute.',
    );
  };
  let pending: Pending | undefined;
  try {
    pending = await ctx.confirmations.peek(confirmId);
  } catch (err) {
    return unavailable(err);
  }
  if (pending && pending.requester !== user && !isAdmin(ctx.config, user)) {
    await ctx.audit.record({
      user,
      command: pending.text,
      channel: pending.channel,
      outcome: 'refused',
      detail: `${outcome} click by non-requester`,
    });
    await say(
      `Only <@${pending.requester}> (who asked) or a flexVDI admin can ${outcome === 'confirmed' ? 'confirm' : 'cancel'} this plan.`,
    );
    return;
  }
  if (pending && body.message?.ts && body.message.ts !== pending.messageTs) {
    await say(
      'This button belongs to an older copy of the plan. Use the buttons on the current plan message.',
    );
    return;
  }
  const jobId = runJobIdFor(confirmId);
  let claim: ClaimResult;
  try {
    claim = await ctx.confirmations.claim(confirmId, user, outcome, jobId);
  } catch (err) {
    return unavailable(err);
  }
  if (claim.kind === 'used') {
    await say(
      claim.outcome === 'confirmed'
        ? `Already confirmed by <@${claim.by}>: job \`${claim.jobId}\`. \`/flexvdi job ${claim.jobId}\` shows it.`
        : claim.outcome === 'edited'
          ? `This plan was replaced by an edited one (by <@${claim.by}>); nothing was run. Use the buttons on the new plan message.`
          : `This plan was already cancelled by <@${claim.by}>.`,
    );
    return;
  }
  if (claim.kind === 'expired' || claim.kind === 'unknown') {
    const why =
      claim.kind === 'expired'
        ? 'This plan has expired'
        : 'This plan is no longer valid (superseded, or from a stale message)';
    await say(`${why}; nothing was run. Type the command again for a fresh plan.`);
    const channel = body.channel?.id;
    const ts = body.message?.ts;
    if (claim.kind === 'expired' && channel && ts) {
      const note = 'The plan expired before anyone confirmed it. Run the command again.';
      await ctx.updater.update(
        channel,
        ts,
        renderJob({ text: claim.text, requester: claim.requester, state: 'expired', note }),
      );
    }
    await ctx.audit.record({
      user,
      command: claim.kind === 'expired' ? claim.text : `confirm ${confirmId}`,
      channel: body.channel?.id ?? '',
      outcome: claim.kind === 'expired' ? 'expired' : 'refused',
      detail: claim.kind,
    });
    return;
  }
  const p = claim.pending;
  if (outcome === 'cancelled') {
    await ctx.updater.update(
      p.channel,
      p.messageTs,
      renderJob(viewOf(p, { state: 'cancelled', note: `Cancelled by <@${user}> before anything ran.` })),
    );
    await ctx.audit.record({ user, command: p.text, channel: p.channel, outcome: 'cancelled' });
    return;
  }
  // The "queued" edit goes first and is awaited, so it can never land after the worker's own edits.
  await ctx.updater.update(
    p.channel,
    p.messageTs,
    renderJob(viewOf(p, { state: 'queued', jobId, confirmedBy: user })),
  );
  try {
    await enqueue(
      ctx.queue,
      p.command as JobName,
      {
        phase: 'run',
        text: p.text,
        args: p.args,
        requester: p.requester,
        isAdmin: isAdmin(ctx.config, p.requester),
        channel: p.channel,
        messageTs: p.messageTs,
        confirmId,
        confirmedBy: user,
        pinned: p.pinned,
      },
      jobId,
      ctx.queueSettings,
    );
  } catch (err) {
    ctx.log.error(
      { err: asAppError(err).message, confirmId },
      'enqueue after confirmation failed; confirmation restored',
    );
    await ctx.confirmations.restore(p);
    const again = viewOf(p, {
      state: 'awaiting-confirmation',
      plan: p.plan,
      confirmId,
      expiresAt: p.expiresAt,
      extraButtons: planButtons(p.plan),
      note: 'The job queue was unavailable; nothing was started. Click Confirm again.',
    });
    await ctx.updater.update(p.channel, p.messageTs, renderJob(again));
    await say(
      'The job queue is unavailable right now (Redis?). Nothing was started; the plan is still valid, click Confirm again in a minute.',
    );
    return;
  }
  await ctx.audit.record({ user, command: p.text, channel: p.channel, outcome: 'confirmed', jobId });
}
