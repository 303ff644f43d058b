/**
 * Confirm / Cancel buttons on a plan. Ack first; then the click is checked (requester or admin, and the
 * current copy of the plan). Cancel claims the pending confirmation; Confirm goes to src/bot/confirm.ts
 * (four eyes, the claim, the enqueue), or, for a plan with `typeToConfirm`, opens the modal whose
 * submission confirms (src/bot/type-to-confirm.ts). Claims are atomic in Redis, so a double click, a second
 * bot replica or a Slack redelivery can never make a second job.
 */
import type { BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { md, mention } from '../core/text.js';
import type { ClaimResult, Pending } from '../jobs/confirmations.js';
import { runJobIdFor } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import { isAdmin } from './auth.js';
import { approvalRefusal, type ConfirmOutcome, confirmAs, showPlanState, unclaimed } from './confirm.js';
import type { BotContext } from './context.js';
import { onlyRequesterOrAdmin } from './plan-notices.js';
import { openTypeToConfirm } from './type-to-confirm.js';

// Kept importable from here (tests name the run job of a confirmation through it).
export { runJobIdFor } from '../jobs/queue.js';

export async function handleButton(
  ctx: BotContext,
  client: WebClient,
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
  // nothing. Before the claim (or the approval) nothing has happened, so it is safe to say so and ask for
  // another click; after it, the failure goes to the caller's handler like any other.
  let taken = false;
  const unavailable = async (err: unknown): Promise<void> => {
    if (taken || !isRedisUnavailableError(err)) throw err;
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
  if (outcome === 'cancelled') return cancel(ctx, body, confirmId, user, say, unavailable);
  // A plan that asks for its text to be typed: the click opens the modal, whose submission confirms.
  if (pending?.plan.typeToConfirm) {
    const refusal = approvalRefusal(ctx, pending, user);
    if (refusal) return void (await say(refusal.mrkdwn));
    return openTypeToConfirm(ctx, client, body.trigger_id, pending, say);
  }
  let done: ConfirmOutcome;
  try {
    done = await confirmAs(ctx, {
      confirmId,
      pending,
      user,
      channel: body.channel?.id,
      messageTs: body.message?.ts,
      taken: async () => {
        taken = true;
      },
      say,
    });
  } catch (err) {
    return unavailable(err);
  }
  if (!done.ok) await say(done.notice);
}

async function cancel(
  ctx: BotContext,
  body: BlockAction,
  confirmId: string,
  user: string,
  say: (text: string) => Promise<void>,
  unavailable: (err: unknown) => Promise<void>,
): Promise<void> {
  let claim: ClaimResult;
  try {
    claim = await ctx.confirmations.claim(confirmId, user, 'cancelled', runJobIdFor(confirmId));
  } catch (err) {
    return unavailable(err);
  }
  if (claim.kind !== 'claimed') {
    const where = { confirmId, user, channel: body.channel?.id, messageTs: body.message?.ts };
    return void (await say(await unclaimed(ctx, claim, where)));
  }
  const p = claim.pending;
  await showPlanState(ctx, p, {
    state: 'cancelled',
    note: md`Cancelled by ${mention(user)} before anything ran.`,
  });
  await ctx.audit.record({ user, command: p.text, channel: p.channel, outcome: 'cancelled' });
}
