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
  const plan = await cmd.plan(planEnv(e, r));
  if (plan.refused || plan.noop) {
    await finishPlanned(e, r, plan, {});
    return { planned: false, refused: plan.refused?.mrkdwn ?? null };
  }
  const ttl = e.tuning.confirmTtlMs ?? e.config.inventory.jobs.confirmTtlSeconds * 1000;
  const pending = await e.confirmations.create({
    confirmId: deterministicId('j', r.jobId).replace(/^j-/, 'c'),
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
  await finishPlanned(e, r, plan, {
    confirmId: pending.confirmId,
    expiresAt: pending.expiresAt,
    extraButtons: planButtons(plan),
  });
  r.log.info({ confirmId: pending.confirmId }, 'plan posted, awaiting confirmation');
  return { planned: true, confirmId: pending.confirmId };
}
