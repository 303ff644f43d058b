/**
 * `/flexvdi manager move-to <volume>`: the Manager's disk image onto a shared Volume, so that any Host can
 * start it (the seed: "move the Manager instance to a shared Volume to provide high availability").
 *
 * Preflight (the plan refuses otherwise): the Manager answers and runs on exactly one registered Host (each
 * Host's `flexvdi-manager status`), the Volume is the Manager's record and its Image Storage is mounted on
 * every registered Host, and it has room for the image (plus 10 %). Already there: nothing to do.
 *
 * Steps: `move` — on the Host that runs it: stop the Manager, copy its image with a sha256 check of both
 * sides (a copy already there with the same checksum counts), point that Host's manager.conf at the copy,
 * start it, and verify its API answers from the new image and lists every Host it listed before. Any
 * failure after the stop rolls back — the conf points at the original image again and the Manager is
 * started from it and checked — and the job fails saying what happened and that the Manager runs again.
 * Sub-checkpoints make a resumed run (a worker killed half way) go on from where it was. Then `repoint` —
 * every other registered Host's manager.conf points at the copy (per Host; a Host down does not undo the
 * move: the job ends partly done and `/flexvdi retry` finishes only it). The original image is kept.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Config, InventoryHost } from '../../../config.js';
import { settleHosts } from '../../../core/partial.js';
import { findHost, type Plan, type PlanContext, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { sizeText } from '../../../core/units.js';
import { AppError, asAppError } from '../../../errors.js';
import type { ManagerClient } from '../../../manager/index.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { volumeArg } from '../args.js';
import { command, type StorageDeps, step } from '../define.js';
import {
  copyImage,
  MANAGER_IMAGE,
  ManagerErrorCode,
  managerStatus,
  pointAt,
  sizes,
  startManager,
  stopManager,
  whenAnswering,
} from '../manager-host.js';
import { mountedHere, mountPointOf, mountState } from '../volume-ops.js';

const args = z.object({ volume: volumeArg }).strict();
type Args = z.output<typeof args>;

const pinSchema = z.object({
  source: z.string(),
  from: z.string(),
  to: z.string(),
  volume: z.string(),
  imageStorage: z.string(),
  imageBytes: z.number(),
  /** Every registered Host (inventory names): their conf is pointed at the copy. */
  hosts: z.array(z.string()).min(1),
  /** The Hosts the Manager listed before the move (ids): it must list them after. */
  managerHosts: z.array(z.string()),
});
type Pin = z.output<typeof pinSchema>;
type Ctx = StepContext<Args, Pin, StorageDeps>;

const hostOf = (config: Config, name: string): InventoryHost => {
  const h = findHost(config, name);
  if (!h)
    throw new AppError(ManagerErrorCode.notMovable, `${name} left the inventory`, {
      userMessage: `${name} left the inventory after the plan: run the command again.`,
    });
  return h;
};

/** The Manager answers from `image` and lists at least the Hosts it listed before; else why not. */
async function check(
  manager: ManagerClient,
  image: string,
  before: readonly string[],
): Promise<string | null> {
  try {
    const disk = await manager.getManagerDisk();
    if (disk.path !== image) return `it answers, but from ${disk.path}, not ${image}`;
    const ids = new Set((await manager.listHosts()).map((h) => h.hostId));
    const lost = before.filter((id) => !ids.has(id));
    return lost.length ? `it no longer lists ${lost.join(', ')}` : null;
  } catch (err) {
    return `its API does not answer (${asAppError(err).userMessage})`;
  }
}

/** Waits for the Manager's API to answer as `check` wants, up to ANSWER_WITHIN_MS; why not, or null. */
async function verify(manager: ManagerClient, image: string, before: readonly string[], signal: AbortSignal) {
  let why: string | null = null;
  const ok = await whenAnswering(async () => {
    why = await check(manager, image, before);
    return why === null ? true : null;
  }, signal);
  return ok ? null : why;
}

const copiedSchema = z.object({ sha256: z.string(), copied: z.boolean() });

const move = step({
  id: 'move',
  title: 'Stop the Manager, copy its image (sha256 checked), point it at the copy, start it, verify',
  output: copiedSchema,
  run: async (ctx: Ctx) => {
    const p = ctx.pinned;
    const { ssh, manager, config } = ctx.services;
    const t = targetOf(hostOf(config, p.source));
    const signal = ctx.signal;
    // A run that got as far as starting the copy (then the worker died) only verifies.
    const now = await managerStatus(ssh, t, signal);
    const done = await ctx.checkpoint.get('copied', copiedSchema);
    if (done && now.running && now.disk === p.to && !(await verify(manager, p.to, p.managerHosts, signal)))
      return done;
    ctx.progress.host(p.source, 'running', 'stopping the Manager');
    await stopManager(ssh, t, signal);
    try {
      ctx.progress.host(p.source, 'running', 'copying the image');
      // Copied again each run (a copy already there with the same sha256 is kept): after a rollback the
      // original may have changed, and a checkpointed copy would start the Manager from a stale image.
      const copy = await copyImage(ssh, t, p.from, p.to, signal);
      await ctx.checkpoint.set('copied', copiedSchema, copy);
      await pointAt(ssh, t, p.to, signal);
      ctx.progress.host(p.source, 'running', 'starting from the copy');
      await startManager(ssh, t, signal);
      const why = await verify(manager, p.to, p.managerHosts, signal);
      if (why)
        throw new AppError(ManagerErrorCode.verifyFailed, `after the move: ${why}`, {
          userMessage: `After the move the Manager is not right: ${why}.`,
        });
      ctx.progress.host(p.source, 'ok', 'runs from the Volume');
      return copy;
    } catch (err) {
      if (signal.aborted) throw err;
      throw await rollback(ctx, t, asAppError(err));
    }
  },
});

/** Back to the original image: stop, conf back, start, check. The error says what happened either way. */
async function rollback(ctx: Ctx, t: ReturnType<typeof targetOf>, cause: AppError): Promise<AppError> {
  const p = ctx.pinned;
  const { ssh, manager } = ctx.services;
  const signal = ctx.signal;
  ctx.progress.host(p.source, 'running', 'rolling back');
  try {
    await stopManager(ssh, t, signal);
    await pointAt(ssh, t, p.from, signal);
    await startManager(ssh, t, signal);
    const why = await verify(manager, p.from, p.managerHosts, signal);
    if (why) throw new Error(why);
    ctx.progress.host(p.source, 'failed', 'rolled back: runs from the original image');
    return new AppError(ManagerErrorCode.rolledBack, `move failed, rolled back: ${cause.message}`, {
      userMessage: `${cause.userMessage} Rolled back: ${p.source}'s manager.conf points at ${p.from} again and the Manager runs from it (its API answers and lists every Host). The copy on the Volume is left for a look.`,
    });
  } catch (err) {
    ctx.progress.host(p.source, 'failed', 'rollback failed');
    return new AppError(
      ManagerErrorCode.rollbackFailed,
      `move failed and so did the rollback: ${cause.message}`,
      {
        userMessage: `${cause.userMessage} The rollback failed too (${asAppError(err).userMessage}): the Manager may be down. On ${p.source}: check /etc/flexvdi/manager.conf (DISK=${p.from}) and run \`flexvdi-manager start\`.`,
      },
    );
  }
}

const repointedKey = (h: string) => `repointed:${h}`;

const repoint = step({
  id: 'repoint',
  title: "Point every other Host's manager.conf at the copy (so any Host can start it)",
  output: z.object({ hosts: z.array(z.string()) }),
  run: async (ctx: Ctx) => {
    const p = ctx.pinned;
    const { ssh, config } = ctx.services;
    const others = p.hosts.filter((h) => h !== p.source).map((h) => hostOf(config, h));
    const results = await fanout(
      others,
      async (h) => {
        if (await ctx.checkpoint.get(repointedKey(h.name), z.boolean())) return true;
        ctx.progress.host(h.name, 'running', 'manager.conf');
        await pointAt(ssh, targetOf(h), p.to, ctx.signal);
        await ctx.checkpoint.set(repointedKey(h.name), z.boolean(), true);
        ctx.progress.host(h.name, 'ok', 'points at the Volume');
        return true;
      },
      { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const done = settleHosts(results, ctx, 'Pointing manager.conf at the Volume', 'point at it');
    return { hosts: Object.keys(done) };
  },
});

async function plan(ctx: PlanContext<Args, StorageDeps>): Promise<Plan<Pin>> {
  const { manager, ssh, config } = ctx.services;
  const what = md`Move the Manager's disk image onto Volume *${ctx.args.volume}*`;
  const refused = (why: Md): Plan<Pin> => ({ summary: what, sections: [], warnings: [], refused: why });
  let reg: Awaited<ReturnType<StorageDeps['registration']['registeredHosts']>>;
  let volumes: Awaited<ReturnType<ManagerClient['listVolumes']>>;
  let managerHosts: string[];
  try {
    reg = await ctx.deps.registration.registeredHosts({ fallback: 'throw', signal: ctx.signal });
    volumes = await manager.listVolumes();
    managerHosts = (await manager.listHosts()).map((h) => h.hostId);
  } catch (err) {
    return refused(
      md`The Manager must be healthy to be moved, and it does not answer: ${prose(asAppError(err).userMessage)}`,
    );
  }
  const vol = volumes.find((v) => v.name === ctx.args.volume);
  if (!vol)
    return refused(
      md`The Manager has no Volume \`${ctx.args.volume}\`${volumes.length ? md` (it has ${joinMd(volumes.map((v) => md`\`${v.name}\``))})` : md``}: make one with \`/flexvdi storage create-volume\`.`,
    );
  const dir = mountPointOf(vol.imageStorage);
  const to = path.posix.join(dir, MANAGER_IMAGE);
  let device = '';
  try {
    device = (await manager.listImageStorages()).find((s) => s.name === vol.imageStorage)?.device ?? '';
  } catch (err) {
    return refused(md`The Manager's Image Storages could not be read: ${prose(asAppError(err).userMessage)}`);
  }
  const seen = await fanout(
    reg.hosts,
    async (h) => ({
      status: await managerStatus(ssh, targetOf(h), ctx.signal),
      mount: await mountState(ssh, targetOf(h), dir, device, ctx.signal),
    }),
    { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
  );
  const unread = seen.filter((r) => !r.ok);
  if (unread.length)
    return refused(
      md`Every registered Host must answer (each gets the new location): ${joinMd(unread.map((r) => (r.ok ? md`` : md`${r.target.name} (${prose(r.error.userMessage)})`)))}.`,
    );
  const ok = seen.flatMap((r) => (r.ok ? [{ host: r.target, ...r.value }] : []));
  const running = ok.filter((r) => r.status.running);
  if (running.length !== 1)
    return refused(
      running.length
        ? md`The Manager runs on ${running.map((r) => r.host.name).join(' and ')} at once: fix that first (\`flexvdi-manager stop\` on all but one).`
        : md`No registered Host runs the Manager (\`flexvdi-manager status\` says stopped everywhere), though its API answers: it runs outside the cluster's Hosts, which this command does not manage.`,
    );
  const src = running[0]!;
  if (src.status.disk === to)
    return {
      summary: md`The Manager already runs from Volume *${vol.name}* (\`${to}\`) on ${src.host.name}: nothing to move.`,
      sections: [],
      warnings: [],
      noop: true,
    };
  const notMounted = ok.filter((r) => !mountedHere(r.mount)).map((r) => r.host.name);
  if (notMounted.length)
    return refused(
      md`Image Storage \`${vol.imageStorage}\` is not mounted on ${notMounted.join(', ')}: every Host must see the image to start it. See \`/flexvdi storage volumes\` for the fix.`,
    );
  let room: Awaited<ReturnType<typeof sizes>>;
  try {
    room = await sizes(ssh, targetOf(src.host), src.status.disk, dir, ctx.signal);
  } catch (err) {
    return refused(prose(asAppError(err).userMessage));
  }
  if (room.freeBytes < room.imageBytes * 1.1)
    return refused(
      md`Volume *${vol.name}* has ${sizeText(room.freeBytes)} free; the image is ${sizeText(room.imageBytes)} (10 % more is asked for).`,
    );
  const pin: Pin = {
    source: src.host.name,
    from: src.status.disk,
    to,
    volume: vol.name,
    imageStorage: vol.imageStorage,
    imageBytes: room.imageBytes,
    hosts: ok.map((r) => r.host.name),
    managerHosts,
  };
  return {
    summary: md`Move the Manager's disk image from ${src.host.name}'s \`${pin.from}\` onto Volume *${vol.name}* (\`${to}\`) and restart it from there`,
    sections: [
      {
        title: md`Steps`,
        lines: [
          md`• On ${src.host.name}: stop the Manager (its API is down until the start, typically seconds)`,
          md`• Copy ${sizeText(room.imageBytes)} to \`${to}\` (${sizeText(room.freeBytes)} free), sha256 of both compared`,
          md`• Point ${src.host.name}'s /etc/flexvdi/manager.conf at the copy, start the Manager, check its API answers from the copy and lists the ${managerHosts.length} Hosts it lists now`,
          md`• Then point the conf of ${pin.hosts.filter((h) => h !== pin.source).join(', ') || 'no other Host'} at the copy: any of them can start it (\`/flexvdi manager start-on ${'<host>'}\`)`,
        ],
      },
      {
        title: md`If anything fails after the stop`,
        lines: [
          md`• Rolled back: the conf points at \`${pin.from}\` again and the Manager is started from it and checked`,
        ],
      },
    ],
    warnings: [md`The Manager's API is unavailable while it restarts.`],
    pinned: pin,
  };
}

export const moveToCommand = command({
  id: 'manager move-to',
  summary:
    "Move the Manager's disk image onto a shared Volume (stop, copy with checksum, start, verify; rollback)",
  examples: ['/flexvdi manager move-to vol1'],
  args,
  positionals: ['volume'],
  mutates: true,
  access: 'admin',
  pinned: pinSchema,
  locks: () => ['manager'],
  plan,
  steps: [move, repoint],
  result: (ctx) => {
    const p = ctx.pinned;
    const m = ctx.result(move);
    return {
      summary: md`The Manager runs on ${p.source} from Volume *${p.volume}* (\`${p.to}\`); every registered Host's manager.conf points there, so \`/flexvdi manager start-on ${'<host>'}\` can start it elsewhere.`,
      sections: [
        {
          lines: [
            md`• Image ${m.copied ? md`copied` : md`already there`}, sha256 \`${m.sha256.slice(0, 16)}\` on both sides`,
            md`• The original stays at \`${p.from}\` on ${p.source}`,
          ],
        },
      ],
    };
  },
});
