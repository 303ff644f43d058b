/**
 * What a Confirm does, in one place, whether it came from the plan's button or from the type-to-confirm
 * modal. With four eyes (src/jobs/approvals.ts) the requester's Confirm is recorded as an approval in the
 * pending confirmation and the plan waits for a second admin's; the last Confirm needed claims the
 * confirmation (one atomic Redis script: one job, however many click at once) and enqueues the run job,
 * whose id is derived from the confirmation. Every approval is audited.
 */
import { planButtons } from '../core/plugin.js';
import { type Md, md, mention } from '../core/text.js';
import { asAppError } from '../errors.js';
import { approvalsField, approvalsRequired, nextApproval } from '../jobs/approvals.js';
import type { ClaimResult, Pending } from '../jobs/confirmations.js';
import type { JobRecord } from '../jobs/job-state.js';
import { enqueue, runEnvelope, runJobIdFor } from '../jobs/queue.js';
import { isAdmin } from './auth.js';
import type { BotContext } from './context.js';
import { alreadyUsed } from './plan-notices.js';

export interface ConfirmRequest {
  confirmId: string;
  /** The pending confirmation as read just before (undefined: gone; the claim tells why). */
  pending: Pending | undefined;
  user: string;
  /** Where the click came from: an expired plan's message is shown as expired there. */
  channel?: string | undefined;
  messageTs?: string | undefined;
  /** What was typed in the type-to-confirm modal (checked against the plan's `typeToConfirm` as claimed). */
  typed?: string | undefined;
  /** Called once the Confirm is taken (approval recorded or plan claimed), before the slower edits. */
  taken?: () => Promise<void>;
  /** Tells the user something once the Confirm was taken (an ephemeral message). */
  say: (text: string) => Promise<void>;
}

/** `ok: false`: nothing was taken, and `notice` says why (for the caller to show: ephemeral, or in a modal). */
export type ConfirmOutcome = { ok: true } | { ok: false; notice: string };

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

/** The plan's message awaiting confirmation again (after an approval, or a failed enqueue), with `note`. */
export async function showPending(ctx: BotContext, p: Pending, note?: Md): Promise<void> {
  const required = approvalsRequired(ctx.config.inventory, p.command);
  await showPlanState(ctx, p, {
    state: 'awaiting-confirmation',
    plan: p.plan,
    confirmId: p.confirmId,
    expiresAt: p.expiresAt,
    extraButtons: planButtons(p.plan),
    ...approvalsField(
      required,
      p.approvals.map((a) => a.user),
    ),
    ...(note ? { note } : {}),
  });
}

/**
 * Why `user`'s Confirm cannot be taken now under four eyes (they approved already; the requester has not
 * yet), or undefined. The click that opens the type-to-confirm modal asks first, so nobody types in vain.
 */
export function approvalRefusal(ctx: BotContext, p: Pending, user: string): Md | undefined {
  const step = nextApproval(
    p,
    user,
    isAdmin(ctx.config, user),
    approvalsRequired(ctx.config.inventory, p.command),
  );
  if (step === 'already')
    return md`You already approved this plan; a second admin must confirm it before it runs.`;
  if (step === 'requester-first')
    return md`${mention(p.requester)} (who asked) must confirm this plan first; then a second admin confirms it.`;
  if (step === 'not-admin') return md`The second approval of this plan must come from a flexVDI admin.`;
  return undefined;
}

/** A plan with `typeToConfirm` is confirmed only with its text typed (in the modal), never by a click. */
function typedRefusal(p: Pending, typed: string | undefined): Md | undefined {
  const t = p.plan.typeToConfirm;
  if (!t || typed === t.text) return undefined;
  return typed === undefined
    ? md`This plan asks for a text to be typed: click Confirm… again.`
    : md`Type ${t.text} exactly (case-sensitive) to confirm. Nothing was confirmed.`;
}

/** Takes `r.user`'s Confirm: records an approval, or claims the plan and enqueues its run job. */
export async function confirmAs(ctx: BotContext, r: ConfirmRequest): Promise<ConfirmOutcome> {
  const p = r.pending;
  const required = p ? approvalsRequired(ctx.config.inventory, p.command) : 1;
  const untyped = p && typedRefusal(p, r.typed);
  if (untyped) return { ok: false, notice: untyped.mrkdwn };
  if (p && required > 1) {
    const refusal = approvalRefusal(ctx, p, r.user);
    if (refusal) {
      if (!p.approvals.some((a) => a.user === r.user))
        await audit(ctx, r, p, 'refused', `four eyes: ${refusal.plain()}`);
      return { ok: false, notice: refusal.mrkdwn };
    }
    if (nextApproval(p, r.user, isAdmin(ctx.config, r.user), required) === 'record') {
      const res = await ctx.confirmations.approve(r.confirmId, { user: r.user, at: Date.now() });
      if (res.kind === 'already')
        return { ok: false, notice: approvalRefusal(ctx, res.pending, r.user)!.mrkdwn };
      if (res.kind === 'approved') {
        await r.taken?.();
        const n = res.pending.approvals.length;
        await audit(
          ctx,
          r,
          res.pending,
          'approved',
          `four eyes: approval ${n} of ${required}; awaiting a second admin`,
        );
        await showPending(ctx, res.pending);
        return { ok: true };
      }
      // Gone meanwhile (confirmed, cancelled, edited or expired): the claim below says which.
    }
  }
  return claimAndRun(ctx, r);
}

async function claimAndRun(ctx: BotContext, r: ConfirmRequest): Promise<ConfirmOutcome> {
  const jobId = runJobIdFor(r.confirmId);
  const claim = await ctx.confirmations.claim(r.confirmId, r.user, 'confirmed', jobId);
  if (claim.kind !== 'claimed') return { ok: false, notice: await unclaimed(ctx, claim, r) };
  const p = claim.pending;
  // Decided on the record as claimed: a plan read as gone (and put back since) cannot skip an approval.
  const required = approvalsRequired(ctx.config.inventory, p.command);
  const refusal = typedRefusal(p, r.typed) ?? (required > 1 ? approvalRefusal(ctx, p, r.user) : undefined);
  if (refusal || nextApproval(p, r.user, isAdmin(ctx.config, r.user), required) !== 'final') {
    await ctx.confirmations.restore(p);
    return { ok: false, notice: (refusal ?? md`Click Confirm again.`).mrkdwn };
  }
  const approvers = [...p.approvals.map((a) => a.user), r.user];
  await r.taken?.();
  try {
    // The "queued" state goes first and is awaited, so it can never land after the worker's own edits.
    await showPlanState(ctx, p, {
      state: 'queued',
      jobId,
      confirmedBy: r.user,
      ...approvalsField(required, approvers),
    });
    await enqueue(
      ctx.queue,
      p.command,
      runEnvelope(p, {
        isAdmin: isAdmin(ctx.config, p.requester),
        confirmId: r.confirmId,
        confirmedBy: r.user,
      }),
      jobId,
      ctx.queueSettings,
    );
  } catch (err) {
    ctx.log.error(
      { err: asAppError(err).message, confirmId: r.confirmId },
      'enqueue after confirmation failed; confirmation restored',
    );
    await ctx.confirmations.restore(p).catch(() => {});
    await showPending(
      ctx,
      p,
      md`The job queue was unavailable; nothing was started. Click Confirm again.`,
    ).catch(() => {});
    await r.say(
      'The job queue is unavailable right now (Redis?). Nothing was started; the plan is still valid, click Confirm again in a minute.',
    );
    return { ok: true };
  }
  const first = p.approvals[0];
  const fourEyes =
    required > 1 && first
      ? `four eyes: approval ${approvers.length} of ${required} (first: ${first.user})`
      : undefined;
  await ctx.audit.record({
    user: r.user,
    command: p.text,
    channel: p.channel,
    outcome: 'confirmed',
    jobId,
    ...detailOf(fourEyes, howOf(r)),
  });
  return { ok: true };
}

/**
 * What to tell someone whose Confirm or Cancel found the plan no longer pending; an expired plan's message
 * is shown as expired, and the click is audited.
 */
export async function unclaimed(
  ctx: BotContext,
  claim: Exclude<ClaimResult, { kind: 'claimed' }>,
  r: { confirmId: string; user: string; channel?: string | undefined; messageTs?: string | undefined },
): Promise<string> {
  if (claim.kind === 'used') return alreadyUsed(claim).mrkdwn;
  const why =
    claim.kind === 'expired'
      ? 'This plan has expired'
      : 'This plan is no longer valid (superseded, or from a stale message)';
  if (claim.kind === 'expired' && r.channel && r.messageTs) {
    const note = md`The plan expired before anyone confirmed it. Run the command again.`;
    await showPlanState(
      ctx,
      {
        recordId: claim.recordId ?? `expired-${r.messageTs}`,
        channel: r.channel,
        messageTs: r.messageTs,
        text: claim.text,
        requester: claim.requester,
      },
      { state: 'expired', note },
    );
  }
  await ctx.audit.record({
    user: r.user,
    command: claim.kind === 'expired' ? claim.text : `confirm ${r.confirmId}`,
    channel: r.channel ?? '',
    outcome: claim.kind === 'expired' ? 'expired' : 'refused',
    detail: claim.kind,
  });
  return `${why}; nothing was run. Type the command again for a fresh plan.`;
}

function audit(
  ctx: BotContext,
  r: ConfirmRequest,
  p: Pending,
  outcome: 'approved' | 'refused',
  fourEyes: string,
): Promise<void> {
  // The plan job's id names the plan the approval is for (`/flexvdi job` shows it).
  return ctx.audit.record({
    user: r.user,
    command: p.text,
    channel: p.channel,
    outcome,
    jobId: p.recordId,
    ...detailOf(fourEyes, howOf(r)),
  });
}

const howOf = (r: ConfirmRequest): string | undefined =>
  r.typed === undefined ? undefined : `type-to-confirm: typed "${r.typed}"`;

const detailOf = (...parts: (string | undefined)[]): { detail?: string } => {
  const d = parts.filter(Boolean).join('; ');
  return d ? { detail: d } : {};
};
