/**
 * The plan phase of a mutating command: the command plans (preflight on the Hosts, in the worker, never in
 * the bot), and the plan is shown with Confirm / Cancel (and Edit when offered). The pending confirmation
 * is stored in Redis for the bot to claim; its id is derived from the plan job's id, so a re-run of this
 * phase (stalled job) finds the same one.
 */

import type { BoundCommand } from '../core/plugin.js';
import { planButtons } from '../core/plugin.js';
import { type Engine, type JobRun, planEnv } from './engine.js';
import { finishPlanned } from './finish.js';
import { deterministicId } from './queue.js';

export async function planPhase(e: Engine, r: JobRun, cmd: BoundCommand) {
  const confirmId = deterministicId('j', r.jobId).replace(/^j-/, 'c');
  // A re-run of this plan job (stalled worker) after someone acted on the plan must not bring it back.
  if (await e.confirmations.isUsed(confirmId)) {
    r.log.info({ confirmId }, 'plan already acted on; nothing to do');
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
  await finishPlanned(
    e,
    r,
    pending.plan,
    { confirmId, expiresAt: pending.expiresAt, extraButtons: planButtons(pending.plan) },
    created.kind === 'created',
  );
  r.log.info({ confirmId }, 'plan posted, awaiting confirmation');
  return { planned: true, confirmId };
}
