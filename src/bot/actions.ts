/**
 * Confirm / Cancel buttons on a plan. Ack first; then the click is checked (requester or admin), and the
 * pending confirmation is claimed atomically in Redis, so a double click, a second bot replica or a Slack
 * redelivery can never make a second job; the run job's id is derived from the confirmation too.
 */
import type { BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import { planButtons } from '../core/plugin.js';
import { md, mention } from '../core/text.js';
import { asAppError } from '../errors.js';
import type { ClaimResult, Pending } from '../jobs/confirmations.js';
import type { JobRecord } from '../jobs/job-state.js';
import { deterministicId, enqueue } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import { isAdmin } from './auth.js';
import type { BotContext } from './context.js';
import { alreadyUsed, onlyRequesterOrAdmin } from './plan-notices.js';

export const runJobIdFor = (confirmId: string) => deterministicId('j', 'confirm', confirmId);

/**
 * Shows a new state of a plan's message through the job-message service (the one writer), starting from
 * the stored record (or, if it is gone, from the confirmation itself).
 */
export async function showPlanState(
  ctx: BotContext,
  p: { recordId: string; channel: string; messageTs: string; text: string; requester: string },
  patch: Partial<JobRecord>,
): Promise<void> {
  const stored = await ctx.messages.read(p.recordId).catch(() => undefined);
  // What a plan's message keeps across these states: who asked, what, and the plan; the rest is the patch's.
  const base: JobRecord = {
    recordId: p.recordId,
    channel: stored?.channel ?? p.channel,
    ...(stored?.threadTs ? { threadTs: stored.threadTs } : {}),
    messageTs: stored?.messageTs ?? p.messageTs,
    text: stored?.text ?? p.text,
    requester: stored?.requester ?? p.requester,
    state: 'queued',
    ...(stored?.plan ? { plan: stored.plan } : {}),
    updatedAt: 0,
  };
  await ctx.messages.save({ ...base, ...patch }, { urgent: true });
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
  // Only admins run mutating commands, so a non-admin is never the requester: refused (and audited) whether
  // the plan is still pending or was already claimed by someone else.
  if (!isAdmin(ctx.config, user) && (!pending || pending.requester !== user)) {
    await ctx.audit.record({
      user,
      command: pending?.text ?? `${outcome === 'confirmed' ? 'confirm' : 'cancel'} ${confirmId}`,
      channel: pending?.channel ?? body.channel?.id ?? '',
      outcome: 'refused',
      detail: `${outcome} click by non-requester`,
    });
    await say(
      onlyRequesterOrAdmin(pending?.requester, outcome === 'confirmed' ? 'confirm' : 'cancel').mrkdwn,
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
    await say(alreadyUsed(claim).mrkdwn);
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
      const note = md`The plan expired before anyone confirmed it. Run the command again.`;
      await showPlanState(
        ctx,
        {
          recordId: claim.recordId ?? `expired-${ts}`,
          channel,
          messageTs: ts,
          text: claim.text,
          requester: claim.requester,
        },
        { state: 'expired', note },
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
    await showPlanState(ctx, p, {
      state: 'cancelled',
      note: md`Cancelled by ${mention(user)} before anything ran.`,
    });
    await ctx.audit.record({ user, command: p.text, channel: p.channel, outcome: 'cancelled' });
    return;
  }
  try {
    // The "queued" state goes first and is awaited, so it can never land after the worker's own edits.
    await showPlanState(ctx, p, { state: 'queued', jobId, confirmedBy: user });
    await enqueue(
      ctx.queue,
      p.command,
      {
        phase: 'run',
        text: p.text,
        args: p.args,
        requester: p.requester,
        isAdmin: isAdmin(ctx.config, p.requester),
        channel: p.channel,
        recordId: p.recordId,
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
    await ctx.confirmations.restore(p).catch(() => {});
    await showPlanState(ctx, p, {
      state: 'awaiting-confirmation',
      plan: p.plan,
      confirmId,
      expiresAt: p.expiresAt,
      extraButtons: planButtons(p.plan),
      note: md`The job queue was unavailable; nothing was started. Click Confirm again.`,
    }).catch(() => {});
    await say(
      'The job queue is unavailable right now (Redis?). Nothing was started; the plan is still valid, click Confirm again in a minute.',
    );
    return;
  }
  await ctx.audit.record({ user, command: p.text, channel: p.channel, outcome: 'confirmed', jobId });
}
