/**
 * The plan phase of a mutating command: the command plans (preflight on the Hosts, in the worker, never in
 * the bot), and the plan is shown with Confirm / Cancel (and Edit when offered). The pending confirmation
 * is stored in Redis for the bot to claim; its id is derived from the plan job's id, so a re-run of this
 * phase (stalled job) finds the same one.
 */

import type { BoundCommand } from '../core/plugin.js';
import { planButtons } from '../core/plugin.js';
import { approvalsField, approvalsRequired } from './approvals.js';
import { type Engine, type JobRun, planEnv } from './engine.js';
import { finishPlanned } from './finish.js';
import { deterministicId, enqueue, queueSettingsOf, runEnvelope, runJobIdFor } from './queue.js';

export async function planPhase(e: Engine, r: JobRun, cmd: BoundCommand) {
  const confirmId = deterministicId('j', r.jobId).replace(/^j-/, 'c');
  // A re-run of this plan job (stalled worker) after someone acted on the plan must not bring it back.
  if (await e.confirmations.isUsed(confirmId)) {
    if (r.data.autoConfirm) await resumeAutoConfirmed(e, r, cmd, confirmId);
    else r.log.info({ confirmId }, 'plan already acted on; nothing to do');
    return { planned: true, confirmId };
  }
  const plan = await cmd.plan(planEnv(r));
  if (plan.refused || plan.noop) {
    await finishPlanned(e, r, plan, {});
    return { planned: false, refused: plan.refused?.plain() ?? null };
  }
  const ttl = e.tuning.confirmTtlMs ?? e.config.inventory.jobs.confirmTtlSeconds * 1000;
  const created = await e.confirmations.create({
    confirmId,
    recordId: r.reporter.record.recordId,
    command: cmd.info.id,
    text: r.data.text,
    args: r.data.args,
    pinned: plan.pinned ?? null,
    plan,
    requester: r.data.requester,
    channel: r.data.channel,
    messageTs: await r.reporter.messageTs(),
    createdAt: Date.now(),
    expiresAt: Date.now() + ttl,
  });
  if (created.kind === 'used') {
    r.log.info({ confirmId }, 'plan acted on while planning again; nothing to do');
    return { planned: true, confirmId };
  }
  // A re-run shows the plan that Confirm will run: the first one stored, not this attempt's.
  const pending = created.pending;
  const required = approvalsRequired(e.config.inventory, cmd.info.id);
  await finishPlanned(
    e,
    r,
    pending.plan,
    {
      confirmId,
      expiresAt: pending.expiresAt,
      extraButtons: planButtons(pending.plan),
      ...approvalsField(
        required,
        pending.approvals.map((a) => a.user),
      ),
    },
    created.kind === 'created',
  );
  // 'existing': a re-run of this plan job after a crash between storing the plan and claiming it.
  if (r.data.autoConfirm) await autoConfirm(e, r, cmd, confirmId);
  else r.log.info({ confirmId }, 'plan posted, awaiting confirmation');
  return { planned: true, confirmId };
}

/**
 * A plan that confirms itself (the monitor's automatic failover, opted into by the inventory): claimed as a
 * Confirm click would claim it (so a person's click meanwhile gets "already confirmed"), its run job added
 * with the plan's pins, and audited as confirmed by `autoConfirm.by` with its reason. Four eyes do not apply:
 * the inventory's opt-in is the admins' decision made beforehand.
 */
async function autoConfirm(e: Engine, r: JobRun, cmd: BoundCommand, confirmId: string): Promise<void> {
  const auto = r.data.autoConfirm!;
  const jobId = runJobIdFor(confirmId);
  const claim = await e.confirmations.claim(confirmId, auto.by, 'confirmed', jobId);
  if (claim.kind !== 'claimed') {
    r.log.info({ confirmId, claim: claim.kind }, 'auto-confirm: the plan was acted on first');
    return;
  }
  await enqueueRun(e, r, cmd, confirmId, claim.pending, auto.by);
  await e.audit.record({
    user: auto.by,
    command: claim.pending.text,
    channel: claim.pending.channel,
    outcome: 'confirmed',
    jobId,
    detail: auto.why,
  });
  r.log.info({ confirmId, jobId }, 'plan confirmed automatically');
}

/**
 * A re-run of a self-confirming plan job whose plan was already claimed: when the claim was its own and the
 * run job is not in the queue (the plan job died between the two), the plan is made again and its run added.
 */
async function resumeAutoConfirmed(e: Engine, r: JobRun, cmd: BoundCommand, confirmId: string) {
  const jobId = runJobIdFor(confirmId);
  const used = await e.confirmations.claim(confirmId, r.data.autoConfirm!.by, 'confirmed', jobId);
  if (used.kind !== 'used' || used.by !== r.data.autoConfirm!.by || used.outcome !== 'confirmed') return;
  if (await e.queue.getJob(jobId)) return;
  const plan = await cmd.plan(planEnv(r));
  if (plan.refused || plan.noop) {
    r.log.warn({ confirmId }, 'auto-confirmed plan refused when made again; no run added');
    return;
  }
  await enqueueRun(
    e,
    r,
    cmd,
    confirmId,
    {
      text: r.data.text,
      args: r.data.args,
      requester: r.data.requester,
      channel: r.data.channel,
      recordId: r.reporter.record.recordId,
      pinned: plan.pinned ?? null,
    },
    r.data.autoConfirm!.by,
  );
  r.log.info({ confirmId, jobId }, 'auto-confirmed plan: its run job added again');
}

/** The run job of a self-confirmed plan (its id is the one a Confirm would give it). */
async function enqueueRun(
  e: Engine,
  r: JobRun,
  cmd: BoundCommand,
  confirmId: string,
  p: { text: string; args?: unknown; requester: string; channel: string; recordId: string; pinned?: unknown },
  by: string,
) {
  const jobId = runJobIdFor(confirmId);
  await enqueue(
    e.queue,
    cmd.info.id,
    runEnvelope(p, { isAdmin: r.data.isAdmin, confirmId, confirmedBy: by, threadTs: r.data.threadTs }),
    jobId,
    queueSettingsOf(e.config.inventory.jobs),
  );
}
