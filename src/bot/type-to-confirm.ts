/**
 * Type-to-confirm (`Plan.typeToConfirm`), the guard of the most destructive plans: their Confirm button
 * opens a modal that says what would be destroyed and asks for a text (e.g. the volume's name) to be typed
 * exactly. Only the submission confirms, as a Confirm click by that user would (four eyes included: each
 * approver types). The modal carries the confirmation id only; everything is checked again on submission
 * (still pending, who submits, the plan's current message). Wrong text is answered next to the field
 * (`response_action: 'errors'`) and audited; nothing is confirmed.
 */
import type { AckFn, ViewOutput, ViewResponseAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { md } from '../core/text.js';
import { approvalsRequired } from '../jobs/approvals.js';
import type { Pending } from '../jobs/confirmations.js';
import { slackErrorOf } from '../slack/updater.js';
import { isAdmin } from './auth.js';
import { approvalRefusal, confirmAs } from './confirm.js';
import type { BotContext } from './context.js';
import { onlyRequesterOrAdmin } from './plan-notices.js';

export const TYPE_TO_CONFIRM_CALLBACK = 'flexvdi_type_to_confirm';
/** The input's block and action id. */
export const TYPED = 'typed';

/** Opens the modal for `p` (the click was checked by the caller); says so if Slack would not open it. */
export async function openTypeToConfirm(
  ctx: BotContext,
  client: WebClient,
  triggerId: string,
  p: Pending,
  say: (text: string) => Promise<void>,
): Promise<void> {
  try {
    await client.views.open({ trigger_id: triggerId, view: modalOf(ctx, p) as never });
  } catch (err) {
    const e = slackErrorOf(err);
    ctx.log.warn({ err: e, confirmId: p.confirmId }, 'views.open failed (type to confirm)');
    await say(`Could not open the confirmation dialog (${e}); nothing was confirmed. Click Confirm again.`);
  }
}

function modalOf(ctx: BotContext, p: Pending): Record<string, unknown> {
  const t = p.plan.typeToConfirm!;
  const required = approvalsRequired(ctx.config.inventory, p.command);
  const second = required > 1 && p.approvals.length > 0;
  const fourEyes =
    required > 1
      ? second
        ? md`You are the second admin: confirming runs the plan.`
        : md`Four eyes: a second admin confirms after you, typing the same.`
      : undefined;
  return {
    type: 'modal',
    callback_id: TYPE_TO_CONFIRM_CALLBACK,
    private_metadata: JSON.stringify({ confirmId: p.confirmId }),
    title: { type: 'plain_text', text: 'Confirm the plan' },
    submit: { type: 'plain_text', text: 'Confirm' },
    close: { type: 'plain_text', text: 'Back' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*Plan:* ${p.plan.summary.mrkdwn}`.slice(0, 3000) } },
      { type: 'section', text: { type: 'mrkdwn', text: `:warning: ${t.why.mrkdwn}`.slice(0, 3000) } },
      ...(fourEyes ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: fourEyes.mrkdwn }] }] : []),
      {
        type: 'input',
        block_id: TYPED,
        label: { type: 'plain_text', text: `Type ${t.text} to confirm`.slice(0, 2000) },
        element: { type: 'plain_text_input', action_id: TYPED, max_length: 300 },
      },
    ],
  };
}

export async function handleTypeToConfirmSubmission(
  ctx: BotContext,
  client: WebClient,
  user: string,
  view: ViewOutput,
  ack: AckFn<ViewResponseAction>,
): Promise<void> {
  let acked = false;
  const close = async () => {
    if (acked) return;
    acked = true;
    await ack();
  };
  const problem = async (text: string) => {
    if (acked) return;
    acked = true;
    await ack({ response_action: 'errors', errors: { [TYPED]: text } });
  };
  const meta = z.object({ confirmId: z.string() }).safeParse(parseOrNull(view.private_metadata));
  const confirmId = meta.success ? meta.data.confirmId : '';
  const typed = (view.state.values[TYPED]?.[TYPED]?.value ?? '').trim();
  const pending = await ctx.confirmations.peek(confirmId).catch(() => null);
  if (pending === null) return problem('Redis is unavailable right now; submit again in a minute.');
  if (pending) {
    if (pending.requester !== user && !isAdmin(ctx.config, user)) {
      await ctx.audit.record({
        user,
        command: pending.text,
        channel: pending.channel,
        outcome: 'refused',
        detail: 'type-to-confirm submission by non-requester',
      });
      return problem(plainNotice(onlyRequesterOrAdmin(pending.requester, 'confirm').mrkdwn));
    }
    const shown = await ctx.messages.read(pending.recordId).catch(() => undefined);
    if (shown?.messageTs && shown.messageTs !== pending.messageTs)
      return problem(
        'This dialog belongs to an older copy of the plan. Close it and use the current plan message.',
      );
    const t = pending.plan.typeToConfirm;
    if (!t) return problem('This plan does not ask for a text to be typed; use its Confirm button.');
    const refusal = approvalRefusal(ctx, pending, user);
    if (refusal) return problem(plainNotice(refusal.mrkdwn));
    if (typed !== t.text) {
      await ctx.audit.record({
        user,
        command: pending.text,
        channel: pending.channel,
        outcome: 'refused',
        detail: 'type-to-confirm: the typed text did not match',
      });
      return problem(`Type ${t.text} exactly (case-sensitive) to confirm. Nothing was confirmed.`);
    }
  }
  // Gone meanwhile (or unknown): the claim in confirmAs says why, in the modal.
  const done = await confirmAs(ctx, {
    confirmId,
    pending,
    user,
    ...(pending ? { channel: pending.channel, messageTs: pending.messageTs } : {}),
    typed,
    taken: close,
    say: async (text) => {
      if (!pending) return;
      await client.chat
        .postEphemeral({ channel: pending.channel, user, text })
        .catch((err: unknown) => ctx.log.warn({ err: slackErrorOf(err) }, 'could not post an ephemeral'));
    },
  });
  if (!done.ok) return problem(plainNotice(done.notice));
  await close();
}

function parseOrNull(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** A notice written for a message, shown in a modal's plain-text error: mentions as @id, entities decoded. */
const plainNotice = (mrkdwn: string): string =>
  mrkdwn
    .replace(/<@([UW][A-Z0-9]+)>/g, '@$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
