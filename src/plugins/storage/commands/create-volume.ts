/**
 * `/flexvdi storage create-volume <image-storage> <volume> --device <id> [--slots N] [--hosts …]`: a shared
 * device becomes an OCFS2 Image Storage that every Host mounts (the seed's last procedure before the
 * Manager moves onto it).
 *
 * Plan (create-volume-plan.ts) = gather → decide (decide-volume.ts, pure) → render. It refuses unless the
 * OCFS2 cluster is online and identical on every target Host, the device is visible from all of them and in
 * use (mounted, under device-mapper or md) on no inventory Host, the slots are at least the cluster's node
 * count and mkfs.ocfs2's own dry run (`-n`, on the formatting Host) fits them in the device, and the
 * Manager's names are free. A device that holds a file system needs the admin to type the volume's name
 * (`typeToConfirm`), not just a click.
 *
 * Steps, each idempotent and checkpointed: `format` (every inventory Host's devices read again first; a
 * device that already holds this volume for this cluster is adopted, never formatted again), `record` (the
 * Manager's Image Storage and Volume; the same records again change nothing), `mount` (per Host: the fstab
 * entry, then `mount DIR`; a Host that fails does not stop the others, and `/flexvdi retry` finishes only
 * it), `verify` (the superblock read from a Host other than the one that formatted, and the mounts
 * everywhere).
 */
import { z } from 'zod';
import type { Config, InventoryHost } from '../../../config.js';
import { settleHosts } from '../../../core/partial.js';
import { findHost, type StepContext } from '../../../core/plugin.js';
import { md } from '../../../core/text.js';
import { sizeText } from '../../../core/units.js';
import { AppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { type Args, args, plan, specOf } from '../create-volume-plan.js';
import { sizeGbOf, type VolumePin, volumePinSchema } from '../decide-volume.js';
import { command, type StorageDeps, step } from '../define.js';
import { mergeDevices, sameContent, uuidKey } from '../device-merge.js';
import { contentText } from '../devices-view.js';
import { StorageErrorCode } from '../errors.js';
import { scanHosts } from '../scan.js';
import { format, fstabWith, mountedHere, mountFromFstab, mountState, readSuperblock } from '../volume-ops.js';

type Ctx = StepContext<Args, VolumePin, StorageDeps>;

function hostsOf(config: Config, names: readonly string[]): InventoryHost[] {
  return names.map((n) => {
    const h = findHost(config, n);
    if (!h)
      throw new AppError(StorageErrorCode.changedSincePlan, `${n} left the inventory after the plan`, {
        userMessage: `${n} left the inventory after the plan was made: run the command again for a fresh plan.`,
      });
    return h;
  });
}

const changed = (what: string) =>
  new AppError(StorageErrorCode.changedSincePlan, what, {
    userMessage: `${what} This run did not format it. If an earlier attempt of this job was cut off while formatting, the device may hold a partly written volume: check it with \`/flexvdi storage devices\`, then run the command again for a fresh plan.`,
  });

// ---------------------------------------------------------------------------------------------- steps

const formatOutput = z.object({
  host: z.string(),
  /** false: the device already held this volume (adopted). */
  formatted: z.boolean(),
  uuid: z.string().nullable(),
});

const formatStep = step({
  id: 'format',
  title: 'Format the device with mkfs.ocfs2 (once)',
  output: formatOutput,
  run: async (ctx: Ctx) => {
    const pin = ctx.pinned;
    const { config, ssh } = ctx.services;
    const hosts = hostsOf(config, pin.targets);
    const formatter = hosts.find((h) => h.name === pin.formatter) ?? hosts[0];
    if (!formatter) throw changed('No Host to format from.');
    // Read every Host again (the other inventory Hosts too): the device as planned, in use nowhere.
    const watched = hostsOf(config, pin.watch);
    const reads = await scanHosts(ctx.services, [...hosts, ...watched], ctx.signal, (h, s, d) =>
      ctx.progress.host(h, s, d),
    );
    const unread = reads.flatMap((r) => (r.ok ? [] : [`${r.host} (${r.error})`]));
    if (unread.length)
      throw new AppError(StorageErrorCode.devicesUnreadable, `unread: ${unread.join('; ')}`, {
        userMessage: `Before formatting, every Host's devices are read again; these did not answer: ${unread.join('; ')}. Nothing was formatted; \`/flexvdi retry ${ctx.jobId}\` tries again.`,
      });
    const now = mergeDevices(reads).find((d) => d.ids.includes(pin.deviceId));
    if (!now || pin.targets.some((t) => !now.seenBy.includes(t)))
      throw changed(`\`${pin.deviceId}\` is no longer visible from every Host.`);
    const c = now.content;
    if (c.kind === 'ocfs2' && c.label === pin.volume && c.cluster === pin.cluster) {
      ctx.progress.host(formatter.name, 'ok', 'already formatted as this volume');
      return { host: formatter.name, formatted: false, uuid: c.uuid };
    }
    if (pin.mode === 'adopt' || !sameContent(c, pin.before))
      throw changed(
        `\`${pin.deviceId}\` held ${contentText(pin.before).plain()} at the plan and now holds ${contentText(c).plain()}.`,
      );
    if (now.mounts.length || now.holders.length)
      throw changed(
        `\`${pin.deviceId}\` is in use now (${[
          ...now.mounts.map((m) => `mounted on ${m.host} at ${m.target}`),
          ...now.holders.map((h) => `under ${h.holders.join(', ')} on ${h.host}`),
        ].join('; ')}).`,
      );
    ctx.progress.host(formatter.name, 'running', 'mkfs.ocfs2');
    await format(ssh, targetOf(formatter), specOf(pin), pin.before.kind !== 'empty', ctx.signal);
    const sb = await readSuperblock(ssh, targetOf(formatter), pin.devicePath, ctx.signal);
    if (!sb || sb.label !== pin.volume || sb.cluster !== pin.cluster || sb.slots !== pin.slots)
      throw new AppError(StorageErrorCode.verifyFailed, `superblock after mkfs on ${formatter.name}`, {
        userMessage: `mkfs.ocfs2 ran on ${formatter.name} but debugfs.ocfs2 does not read back label \`${pin.volume}\`, ${pin.slots} slots, cluster \`${pin.cluster}\` on \`${pin.deviceId}\`.`,
      });
    ctx.progress.host(formatter.name, 'ok', `formatted, UUID ${sb.uuid ?? '?'}`);
    return { host: formatter.name, formatted: true, uuid: sb.uuid };
  },
});

const recordStep = step({
  id: 'record',
  title: 'Record the Image Storage and the Volume in the Manager',
  output: z.object({ storageCreated: z.boolean(), volumeCreated: z.boolean(), sizeGb: z.number() }),
  run: async (ctx: Ctx) => {
    const pin = ctx.pinned;
    const { manager } = ctx.services;
    const s = await manager.createImageStorage({
      name: pin.imageStorage,
      device: pin.devicePath,
      cluster: pin.cluster,
    });
    const sizeGb = sizeGbOf(pin.sizeBytes);
    const v = await manager.createVolume({ name: pin.volume, imageStorage: pin.imageStorage, sizeGb });
    return { storageCreated: s.created, volumeCreated: v.created, sizeGb };
  },
});

const hostMountedSchema = z.object({ fstabAdded: z.boolean(), backup: z.string().nullable() });
const mountedKey = (h: InventoryHost) => `mounted:${h.name}`;

/** One Host: its fstab entry (never another entry overwritten), then `mount DIR`, then read back. */
async function mountOne(ctx: Ctx, h: InventoryHost): Promise<z.output<typeof hostMountedSchema>> {
  const pin = ctx.pinned;
  const { ssh } = ctx.services;
  const t = targetOf(h);
  const before = await mountState(ssh, t, pin.mountPoint, pin.devicePath, ctx.signal);
  if (before.mounted && !mountedHere(before))
    throw new AppError(StorageErrorCode.mountFailed, `${h.name}: ${pin.mountPoint} busy`, {
      userMessage: `${h.name} already has ${before.mounted.source} (${before.mounted.fstype}) mounted on ${pin.mountPoint}: unmount it there, then retry.`,
    });
  ctx.progress.host(h.name, 'running', 'fstab');
  const current = (await ssh.readFile(t, '/etc/fstab', { signal: ctx.signal })) ?? '';
  const edit = fstabWith(current, pin.fstabLine);
  if (edit.kind === 'conflict')
    throw new AppError(StorageErrorCode.fstabConflict, `${h.name}: fstab conflict`, {
      userMessage: `${h.name}'s /etc/fstab has \`${edit.line}\`: ${edit.why}. It is not overwritten: remove or fix that entry, then retry.`,
    });
  const written =
    edit.kind === 'add'
      ? await ssh.writeFileAtomic(t, '/etc/fstab', edit.text, { backup: true, signal: ctx.signal })
      : null;
  if (!mountedHere(before)) {
    ctx.progress.host(h.name, 'running', 'mount');
    await mountFromFstab(ssh, t, pin.mountPoint, ctx.signal);
    const after = await mountState(ssh, t, pin.mountPoint, pin.devicePath, ctx.signal);
    if (!mountedHere(after))
      throw new AppError(StorageErrorCode.mountFailed, `${h.name}: not mounted after mount`, {
        userMessage: `mount ran on ${h.name} but ${pin.mountPoint} is ${after.mounted ? `${after.mounted.source} (${after.mounted.fstype})` : 'not mounted'}, not \`${pin.deviceId}\` as ocfs2.`,
      });
  }
  return { fstabAdded: written?.changed ?? false, backup: written?.backupPath ?? null };
}

const mountStep = step({
  id: 'mount',
  title: 'Write the fstab entry and mount the volume (per Host)',
  output: z.object({ hosts: z.record(hostMountedSchema.extend({ earlier: z.boolean().optional() })) }),
  run: async (ctx: Ctx) => {
    const { config } = ctx.services;
    const hosts = hostsOf(config, ctx.pinned.targets);
    for (const h of hosts) ctx.progress.host(h.name, 'pending');
    const results = await fanout(
      hosts,
      async (h): Promise<z.output<typeof hostMountedSchema> & { earlier?: boolean }> => {
        const saved = await ctx.checkpoint.get(mountedKey(h), hostMountedSchema);
        if (saved) {
          ctx.progress.host(h.name, 'ok', 'mounted (earlier run)');
          return { ...saved, earlier: true };
        }
        const done = await mountOne(ctx, h);
        await ctx.checkpoint.set(mountedKey(h), hostMountedSchema, done);
        ctx.progress.host(h.name, 'ok', 'mounted');
        return done;
      },
      { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const mounted = settleHosts(results, ctx, 'Mounting', 'mounted it');
    return { hosts: mounted };
  },
});

const verifyStep = step({
  id: 'verify',
  title: 'Verify: the superblock from another Host, the mounts everywhere',
  output: z.object({
    verifier: z.string(),
    label: z.string(),
    slots: z.number(),
    cluster: z.string(),
    uuid: z.string().nullable(),
    free: z.array(
      z.object({ host: z.string(), sizeBytes: z.number().nullable(), freeBytes: z.number().nullable() }),
    ),
  }),
  run: async (ctx: Ctx) => {
    const pin = ctx.pinned;
    const { config, ssh } = ctx.services;
    const formatted = ctx.result(formatStep);
    const hosts = hostsOf(config, pin.targets);
    const verifier = hosts.find((h) => h.name !== formatted.host) ?? hosts[0];
    if (!verifier) throw new Error('verify: no Host');
    const sb = await readSuperblock(ssh, targetOf(verifier), pin.devicePath, ctx.signal);
    const wrong: string[] = [];
    if (!sb) wrong.push(`no OCFS2 superblock readable on \`${pin.deviceId}\``);
    else {
      if (sb.label !== pin.volume) wrong.push(`label ${sb.label ?? '(none)'}`);
      if (sb.slots !== pin.slots) wrong.push(`${sb.slots ?? '?'} slots`);
      if (sb.cluster !== pin.cluster) wrong.push(`cluster ${sb.cluster ?? '?'}`);
      if (formatted.uuid && sb.uuid && uuidKey(sb.uuid) !== uuidKey(formatted.uuid))
        wrong.push(`UUID ${sb.uuid}, not ${formatted.uuid}`);
    }
    const states = await fanout(
      hosts,
      (h) => mountState(ssh, targetOf(h), pin.mountPoint, pin.devicePath, ctx.signal),
      { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const free = states.map((s) => ({
      host: s.target.name,
      sizeBytes: s.ok ? s.value.sizeBytes : null,
      freeBytes: s.ok ? s.value.freeBytes : null,
    }));
    const notMounted = states.filter((s) => !s.ok || !mountedHere(s.value)).map((s) => s.target.name);
    if (notMounted.length) wrong.push(`not mounted on ${notMounted.join(', ')}`);
    if (wrong.length || !sb)
      throw new AppError(StorageErrorCode.verifyFailed, `verify: ${wrong.join('; ')}`, {
        userMessage: `Read from ${verifier.name}, the volume is not as planned: ${wrong.join('; ')}.`,
      });
    return {
      verifier: verifier.name,
      label: sb.label ?? '',
      slots: sb.slots ?? 0,
      cluster: sb.cluster ?? '',
      uuid: sb.uuid,
      free,
    };
  },
});

export const createVolumeCommand = command({
  id: 'storage create-volume',
  summary: 'Format a shared device as an OCFS2 Image Storage volume and mount it on every Host',
  examples: [
    '/flexvdi storage create-volume images vol1 --device scsi-36001405a1b2c3d4e5f60718293a4b5c6',
    '/flexvdi storage create-volume images vol1 --device wwn-0x6001405a1b2c3d4e --slots 8 --hosts host1,host2',
  ],
  args,
  positionals: ['imageStorage', 'volume'],
  mutates: true,
  access: 'admin',
  pinned: volumePinSchema,
  locks: () => ['storage'],
  plan,
  steps: [formatStep, recordStep, mountStep, verifyStep],
  result: (ctx) => {
    const p = ctx.pinned;
    const f = ctx.result(formatStep);
    const v = ctx.result(verifyStep);
    const m = ctx.result(mountStep);
    const free = v.free.find((x) => x.freeBytes !== null);
    return {
      summary: md`Volume *${p.volume}* (Image Storage *${p.imageStorage}*) on \`${p.deviceId}\`: OCFS2, ${v.slots} slots, cluster \`${v.cluster}\`, mounted at \`${p.mountPoint}\` on ${p.targets.join(', ')}; recorded in the Manager.`,
      sections: [
        {
          title: md`Done`,
          lines: [
            f.formatted
              ? md`• Formatted on ${f.host}, UUID \`${f.uuid ?? '?'}\``
              : md`• Already held this volume (UUID \`${f.uuid ?? '?'}\`): not formatted again`,
            md`• Read back from ${v.verifier}: label \`${v.label}\`, ${v.slots} slots, cluster \`${v.cluster}\``,
            ...(free?.freeBytes != null && free.sizeBytes != null
              ? [md`• Free: ${sizeText(free.freeBytes)} of ${sizeText(free.sizeBytes)}`]
              : []),
          ],
        },
        {
          title: md`Per Host`,
          lines: p.targets.map((n) => {
            const o = m.hosts[n];
            const how = !o
              ? md`?`
              : o.earlier
                ? md`mounted in an earlier run`
                : md`mounted${o.fstabAdded ? md`, fstab entry added${o.backup ? md` (previous fstab kept as \`${o.backup}\`)` : md``}` : md`, fstab entry was there`}`;
            return md`• *${n}*: ${how}`;
          }),
        },
      ],
    };
  },
});
