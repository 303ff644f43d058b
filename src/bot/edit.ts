/**
 * The Edit button of a plan (`Plan.edit`): a click opens a modal with the plan's editable arguments
 * prefilled; the submission is validated with the command's own zod schema (problems shown in the modal,
 * next to the field, via `response_action: 'errors'`) and starts a new plan for the edited arguments. The
 * old plan is superseded by claiming its confirmation (one atomic Redis script, as Confirm does), so its
 * Confirm/Edit/Cancel buttons stop working, and its message says it was replaced.
 */

import type {
  AckFn,
  BlockAction,
  ButtonAction,
  RespondFn,
  ViewOutput,
  ViewResponseAction,
} from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { commandText } from '../core/args.js';
import type { CommandInfo, EditField, PlanEdit } from '../core/plugin.js';
import { md, mention } from '../core/text.js';
import { asAppError } from '../errors.js';
import type { Pending } from '../jobs/confirmations.js';
import { deterministicId, enqueue, jobEnvelopeSchema } from '../jobs/queue.js';
import { slackErrorOf } from '../slack/updater.js';
import { authorize, isAdmin } from './auth.js';
import { showPlanState } from './confirm.js';
import type { BotContext } from './context.js';
import { onlyRequesterOrAdmin } from './plan-notices.js';

export const EDIT_CALLBACK = 'flexvdi_edit_plan';
const MAX_TEXT = jobEnvelopeSchema.shape.text.maxLength ?? 2000;

/** The plan job of an edited confirmation: one per confirmation (a redelivered submission adds nothing). */
export const editJobIdFor = (confirmId: string) => deterministicId('p', 'edit', confirmId);

export async function handleEditClick(
  ctx: BotContext,
  client: WebClient,
  body: BlockAction,
  action: ButtonAction,
  respond: RespondFn,
): Promise<void> {
  const user = body.user.id;
  const say = (text: string) =>
    respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => {});
  const pending = await ctx.confirmations.peek(action.value ?? '').catch((err: Error) => {
    ctx.log.warn({ err: err.message }, 'edit click: cannot read the confirmation');
    return null;
  });
  if (pending === null)
    return void (await say('Redis is unavailable right now; click Edit again in a minute.'));
  if (!pending)
    return void (await say(
      'This plan is no longer pending (confirmed, cancelled, edited or expired). Run the command again.',
    ));
  if (pending.requester !== user && !isAdmin(ctx.config, user))
    return void (await say(onlyRequesterOrAdmin(pending.requester, 'edit').mrkdwn));
  if (body.message?.ts && body.message.ts !== pending.messageTs)
    return void (await say(
      'This button belongs to an older copy of the plan. Use the current plan message.',
    ));
  const edit = pending.plan.edit;
  if (!edit) return void (await say('This plan has nothing to edit.'));
  try {
    await client.views.open({ trigger_id: body.trigger_id, view: modalOf(pending, edit) as never });
  } catch (err) {
    const e = slackErrorOf(err);
    ctx.log.warn({ err: e }, 'views.open failed');
    await say(`Could not open the editor (${e}). Type the command again with the changes instead.`);
  }
}

function modalOf(p: Pending, edit: PlanEdit): Record<string, unknown> {
  const input = (f: EditField) => ({
    type: 'input',
    block_id: f.name,
    optional: f.optional ?? false,
    label: { type: 'plain_text', text: f.label.slice(0, 2000) },
    ...(f.hint ? { hint: { type: 'plain_text', text: f.hint.slice(0, 2000) } } : {}),
    element:
      f.kind === 'number'
        ? {
            type: 'number_input',
            action_id: f.name,
            is_decimal_allowed: false,
            ...(f.value ? { initial_value: f.value } : {}),
          }
        : {
            type: 'plain_text_input',
            action_id: f.name,
            multiline: f.kind === 'list',
            max_length: 3000,
            ...(f.value ? { initial_value: f.value.slice(0, 3000) } : {}),
          },
  });
  return {
    type: 'modal',
    callback_id: EDIT_CALLBACK,
    private_metadata: JSON.stringify({ confirmId: p.confirmId }),
    title: { type: 'plain_text', text: edit.title.slice(0, 24) },
    submit: { type: 'plain_text', text: 'Plan again' },
    close: { type: 'plain_text', text: 'Back' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Editing \`/flexvdi ${p.text.slice(0, 2800)}\`. Submitting makes a new plan; the current one is withdrawn.`,
        },
      },
      ...edit.fields.slice(0, 90).map(input),
    ],
  };
}

type ViewAck = AckFn<ViewResponseAction>;

export async function handleEditSubmission(
  ctx: BotContext,
  user: string,
  view: ViewOutput,
  ack: ViewAck,
): Promise<void> {
  const values = view.state.values;
  const firstBlock = Object.keys(values)[0] ?? 'reserve';
  const problem = (text: string) => ack({ response_action: 'errors', errors: { [firstBlock]: text } });
  let confirmId = '';
  try {
    const meta = z.object({ confirmId: z.string() }).safeParse(JSON.parse(view.private_metadata));
    confirmId = meta.success ? meta.data.confirmId : '';
  } catch {
    // an unknown confirmation is answered below
  }
  const pending = await ctx.confirmations.peek(confirmId).catch(() => null);
  if (pending === null) return problem('Redis is unavailable right now; submit again in a minute.');
  const spec = pending ? ctx.registry.get(pending.command) : undefined;
  if (!pending || !spec || !pending.plan.edit)
    return problem(
      'This plan is no longer pending (confirmed, cancelled, edited or expired). Close this and run the command again.',
    );
  if (pending.requester !== user && !isAdmin(ctx.config, user))
    return problem(onlyRequesterOrAdmin(pending.requester, 'edit').mrkdwn);
  const refusal = authorize(ctx.config, spec.access, spec.mutates, user, pending.channel);
  if (refusal) return problem(refusal.userMessage);

  const edited = editedArgs(spec, pending, values);
  if (!edited.ok) return ack({ response_action: 'errors', errors: edited.errors });
  const text = commandText(spec, edited.args);
  if (text.length > MAX_TEXT)
    return problem(`The edited command would be ${text.length} characters; the limit is ${MAX_TEXT}.`);
  const jobId = editJobIdFor(confirmId);
  const claim = await ctx.confirmations.claim(confirmId, user, 'edited', jobId).catch(() => undefined);
  if (claim?.kind !== 'claimed') {
    if (claim?.kind === 'used' && claim.outcome === 'edited') return ack(); // a redelivery: already done
    return problem(
      'This plan is no longer pending (confirmed, cancelled or expired). Close this and run the command again.',
    );
  }
  // The edited plan goes where the plan was: a plan in an alert thread (its record says so) stays there.
  const threadTs = (await ctx.messages.read(pending.recordId).catch(() => undefined))?.threadTs;
  // Enqueued before the ack: if the queue is down, the old plan is given back and the modal says so.
  try {
    await enqueue(
      ctx.queue,
      spec.id,
      {
        phase: 'plan',
        text,
        args: edited.args,
        requester: user,
        isAdmin: isAdmin(ctx.config, user),
        channel: pending.channel,
        ...(threadTs ? { threadTs } : {}),
      },
      jobId,
      ctx.queueSettings,
    );
  } catch (err) {
    ctx.log.error({ err: asAppError(err).message, confirmId }, 'could not enqueue the edited plan');
    await ctx.confirmations.restore(pending).catch(() => {});
    return problem(
      'The job queue is unavailable right now (Redis?); the current plan stays valid. Submit again in a minute.',
    );
  }
  await ack();
  await showPlanState(ctx, pending, {
    state: 'cancelled',
    note: md`Replaced by an edited plan (by ${mention(user)}); see the new plan message. Nothing was run.`,
  });
  await ctx.audit.record({
    user,
    command: pending.text,
    channel: pending.channel,
    outcome: 'cancelled',
    detail: `replaced by an edited plan: ${text}`,
  });
}

/** The pending args with the modal's values applied, validated by the command's schema. */
function editedArgs(
  spec: CommandInfo,
  pending: Pending,
  values: ViewOutput['state']['values'],
): { ok: true; args: Record<string, unknown> } | { ok: false; errors: Record<string, string> } {
  const fields = pending.plan.edit?.fields ?? [];
  const stored = z.record(z.unknown()).safeParse(pending.args);
  const candidate: Record<string, unknown> = { ...(stored.success ? stored.data : {}) };
  for (const f of fields) {
    const raw = (values[f.name]?.[f.name]?.value ?? '').trim();
    const value =
      f.kind === 'list'
        ? raw
            .split(/\s*[\n,]\s*/)
            .filter(Boolean)
            .join(',')
        : raw;
    if (value === '') delete candidate[f.name];
    else candidate[f.name] = f.kind === 'number' && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  const parsed = spec.args.safeParse(candidate);
  const asRecord = parsed.success ? z.record(z.unknown()).safeParse(parsed.data) : undefined;
  if (asRecord?.success) return { ok: true, args: asRecord.data };
  const errors: Record<string, string> = {};
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const key = String(issue.path[0] ?? '');
    const block = fields.some((f) => f.name === key) ? key : (fields[0]?.name ?? key);
    const message =
      issue.code === 'invalid_type' && issue.received === 'undefined' ? 'Required.' : issue.message;
    errors[block] ??= message;
  }
  return { ok: false, errors };
}
