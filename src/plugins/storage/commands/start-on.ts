/**
 * `/flexvdi manager start-on <host>`: failover — start the Manager on another Host from its image on a shared
 * Volume, at the same address, when the Host that ran it is gone.
 *
 * Refused (plan, and again in the step) unless the Manager's disk is on a shared Volume mounted on the Host,
 * and while the Manager answers or the lease next to its image is live: a lease not renewed means the old
 * instance stopped writing it (its Host frozen, cut off or dead), and the lease's expiry is the moment a
 * second instance can no longer meet the first — the rule oVirt's sanlock and Proxmox's watchdog enforce.
 * The Host-side start claims the lease under a cluster-wide lock, so two start-on at once (two Hosts, two
 * products) start one Manager: the other is told the lease is held. Then the API is checked: it answers,
 * from the shared image, and says it runs on this Host.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { findHost, type Plan, type PlanContext, type StepContext } from '../../../core/plugin.js';
import { type Md, md, prose } from '../../../core/text.js';
import { AppError, asAppError } from '../../../errors.js';
import type { ManagerClient } from '../../../manager/index.js';
import { targetOf } from '../../../services.js';
import { hostArg } from '../../registration/args.js';
import { command, type StorageDeps, step } from '../define.js';
import {
  ANSWER_WITHIN_MS,
  imageStorageOf,
  leaseLive,
  ManagerErrorCode,
  type ManagerStatus,
  managerStatus,
  onSharedStorage,
  startManager,
  whenAnswering,
} from '../manager-host.js';
import { mountPointOf, mountState } from '../volume-ops.js';

const args = z.object({ host: hostArg }).strict();
type Args = z.output<typeof args>;
const pinSchema = z.object({ host: z.string(), fqdn: z.string(), disk: z.string() });
type Pin = z.output<typeof pinSchema>;

/** How long the plan and the step give the Manager's API to say it is alive before calling it down. */
const ANSWER_TIMEOUT_MS = 3000;

/** Whether the Manager answers (quickly): its disk record, or null. */
async function answering(manager: ManagerClient): Promise<{ runningOn: string | null; path: string } | null> {
  const d = await Promise.race([
    manager.getManagerDisk().catch(() => null),
    new Promise<null>((r) => setTimeout(() => r(null), ANSWER_TIMEOUT_MS).unref()),
  ]);
  return d ? { runningOn: d.runningOn ?? null, path: d.path } : null;
}

/** Why the Manager cannot be started on the Host now, or null. Shared by the plan and the step. */
async function blocker(
  services: StepContext<Args, Pin, StorageDeps>['services'],
  h: InventoryHost,
  signal: AbortSignal,
): Promise<{ why: Md; code: string } | { status: ManagerStatus }> {
  const status = await managerStatus(services.ssh, targetOf(h), signal);
  const no = (why: Md, code: string = ManagerErrorCode.notMovable) => ({ why, code });
  if (status.running) return no(md`The Manager already runs on ${h.name}.`);
  if (!onSharedStorage(status.disk))
    return no(
      md`The Manager's disk is \`${status.disk}\`, local to the Host that runs it: only an image on a shared Volume can be started elsewhere. Move it first with \`/flexvdi manager move-to ${'<volume>'}\`.`,
    );
  const dir = mountPointOf(imageStorageOf(status.disk) ?? '');
  const mount = await mountState(services.ssh, targetOf(h), dir, '', signal);
  if (mount.mounted?.fstype !== 'ocfs2')
    return no(md`${h.name} does not have \`${dir}\` mounted: see \`/flexvdi storage volumes\` for the fix.`);
  // The image the Manager last ran from has its lease next to it (kept when its Host died, removed by a
  // graceful stop): without one, this Host's conf points elsewhere than where the Manager ran.
  if (status.leaseOwner === null)
    return no(
      md`There is no lease next to \`${status.disk}\` on ${h.name}: it is not the image the Manager last ran from (this Host's /etc/flexvdi/manager.conf may be stale: a \`manager move-to\` not finished here — \`/flexvdi retry\` it), or the Manager was stopped on purpose (a graceful stop gives the lease up; start it again where it ran).`,
    );
  const alive = await answering(services.manager);
  if (alive)
    return no(
      md`The Manager answers${alive.runningOn ? md` (running on ${alive.runningOn})` : md``}: there is nothing to fail over.`,
    );
  const now = Date.now();
  if (leaseLive(status, now))
    return no(
      md`The Manager's lease is held by ${status.leaseOwner ?? '?'} until ${new Date(status.leaseExpiresMs ?? 0).toISOString()} (${Math.ceil(((status.leaseExpiresMs ?? now) - now) / 1000)} s): the old instance may still be running (its Host frozen or cut off). Starting a second one now could run two Managers on one image. Try again once the lease has expired.`,
      ManagerErrorCode.leaseHeld,
    );
  return { status };
}

const start = step({
  id: 'start',
  title: 'Check the lease and start the Manager on the Host from the shared image; verify its API',
  output: z.object({ disk: z.string(), runningOn: z.string().nullable() }),
  run: async (ctx: StepContext<Args, Pin, StorageDeps>) => {
    const p = ctx.pinned;
    const h = findHost(ctx.services.config, p.host);
    if (!h)
      throw new AppError(ManagerErrorCode.notMovable, `${p.host} left the inventory`, {
        userMessage: `${p.host} left the inventory after the plan: nothing was started.`,
      });
    // Already done (a resumed run): this Host runs it from the pinned image and the API answers from it.
    const st = await managerStatus(ctx.services.ssh, targetOf(h), ctx.signal);
    const alive = st.running && st.disk === p.disk ? await answering(ctx.services.manager) : null;
    if (alive?.path === p.disk) return { disk: alive.path, runningOn: alive.runningOn };
    const b = await blocker(ctx.services, h, ctx.signal);
    if ('why' in b) throw new AppError(b.code, b.why.plain(), { userMessage: b.why.plain() });
    if (b.status.disk !== p.disk)
      throw new AppError(ManagerErrorCode.notMovable, `${h.name} now points at ${b.status.disk}`, {
        userMessage: `${h.name}'s manager.conf points at \`${b.status.disk}\` now, not \`${p.disk}\` as at the plan: nothing was started. Run the command again for a fresh plan.`,
      });
    ctx.progress.host(h.name, 'running', 'starting the Manager');
    await startManager(ctx.services.ssh, targetOf(h), ctx.signal);
    const now = await whenAnswering(async () => {
      const a = await answering(ctx.services.manager);
      return a?.path === p.disk ? a : null;
    }, ctx.signal);
    if (!now)
      throw new AppError(ManagerErrorCode.verifyFailed, 'started but the API does not answer', {
        userMessage: `The Manager started on ${h.name} but its API does not answer from \`${p.disk}\` within ${ANSWER_WITHIN_MS / 1000} s.`,
      });
    ctx.progress.host(h.name, 'ok', 'the Manager answers');
    return { disk: now.path, runningOn: now.runningOn };
  },
});

async function plan(ctx: PlanContext<Args, StorageDeps>): Promise<Plan<Pin>> {
  const found = ctx.deps.registration.resolveHost(ctx.args.host);
  const what = md`Start the Manager on ${ctx.args.host}`;
  if (!found.ok) return { summary: what, sections: [], warnings: [], refused: prose(found.reason) };
  const h = found.host;
  let b: Awaited<ReturnType<typeof blocker>>;
  try {
    b = await blocker(ctx.services, h, ctx.signal);
  } catch (err) {
    return { summary: what, sections: [], warnings: [], refused: prose(asAppError(err).userMessage) };
  }
  if ('why' in b) return { summary: what, sections: [], warnings: [], refused: b.why };
  const s = b.status;
  return {
    summary: md`Start the Manager on ${h.name} from the shared image \`${s.disk}\` at ${s.address}`,
    sections: [
      {
        lines: [
          md`• The Manager does not answer, and its lease ${s.leaseOwner ? md`(last held by ${s.leaseOwner}) expired ${new Date(s.leaseExpiresMs ?? 0).toISOString()}` : md`is free`}`,
          md`• ${h.name} claims the lease under the cluster-wide lock (two starts at once: one wins), starts the Manager at ${s.address} and the API is checked`,
        ],
      },
    ],
    warnings: [],
    pinned: { host: h.name, fqdn: h.fqdn, disk: s.disk },
  };
}

export const startOnCommand = command({
  id: 'manager start-on',
  summary:
    'Failover: start the Manager on this Host from its shared image, once it is down and its lease expired',
  examples: ['/flexvdi manager start-on host2'],
  args,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  pinned: pinSchema,
  locks: () => ['manager'],
  plan,
  steps: [start],
  result: (ctx) => {
    const r = ctx.result(start);
    return {
      summary: md`The Manager runs on ${ctx.pinned.host} from \`${r.disk}\` and its API answers.`,
      sections: [],
    };
  },
});
