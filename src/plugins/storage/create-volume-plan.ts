/**
 * The plan of `storage create-volume` (commands/create-volume.ts holds the command and its steps): its
 * arguments, the target Hosts, gather (the Manager's records, the OCFS2 overview, every inventory Host's
 * devices, mkfs.ocfs2's dry run) → decide (decide-volume.ts, pure) → render, and the format it pins.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import type { Plan, PlanContext } from '../../core/plugin.js';
import { type Md, md, prose } from '../../core/text.js';
import { sizeText } from '../../core/units.js';
import { asAppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import { deviceIdArg, hostsArg, imageStorageArg, resolveHostList, slotsArg, volumeArg } from './args.js';
import { type DeviceChoice, decideDevice, decideSize, sizeGbOf, type VolumePin } from './decide-volume.js';
import type { StorageDeps } from './define.js';
import { contentText } from './devices-view.js';
import { scanHosts } from './scan.js';
import { dryRun, type FormatSpec, MOUNT_OPTIONS, mkfsArgs } from './volume-ops.js';

export const args = z
  .object({
    imageStorage: imageStorageArg,
    volume: volumeArg,
    device: deviceIdArg,
    slots: slotsArg.optional(),
    hosts: hostsArg.optional(),
  })
  .strict();
export type Args = z.output<typeof args>;
/** What mkfs.ocfs2 is given for the pinned volume. */
export const specOf = (p: VolumePin): FormatSpec => ({
  devicePath: p.devicePath,
  label: p.volume,
  slots: p.slots,
  cluster: p.cluster,
  vmstore: p.vmstore,
});

// ---------------------------------------------------------------------------------------------- plan

/** The target Hosts: `--hosts`, else every Host the Manager lists as registered. */
async function targetsOf(ctx: PlanContext<Args, StorageDeps>): Promise<InventoryHost[] | Md> {
  const { registration } = ctx.deps;
  if (ctx.args.hosts !== undefined) {
    const r = resolveHostList(registration, ctx.services.config.inventory.hosts, ctx.args.hosts);
    return r.ok ? r.value : prose(r.error.userMessage);
  }
  try {
    const reg = await registration.registeredHosts({ fallback: 'throw', signal: ctx.signal });
    return reg.hosts.length
      ? reg.hosts
      : md`The Manager lists no registered Host: register them first (\`/flexvdi register-host ${'<host>'}\`).`;
  } catch (err) {
    return md`The Manager could not be read (${prose(asAppError(err).userMessage)}): the volume is recorded there, so it must answer.`;
  }
}

export async function plan(ctx: PlanContext<Args, StorageDeps>): Promise<Plan<VolumePin>> {
  const a = ctx.args;
  const what = md`Create volume *${a.volume}* in Image Storage *${a.imageStorage}* on \`${a.device}\``;
  const refused = (why: Md): Plan<VolumePin> => ({ summary: what, sections: [], warnings: [], refused: why });
  const targets = await targetsOf(ctx);
  if (!Array.isArray(targets)) return refused(targets);
  const { manager } = ctx.services;
  let storages: Awaited<ReturnType<typeof manager.listImageStorages>>;
  let volumes: Awaited<ReturnType<typeof manager.listVolumes>>;
  try {
    [storages, volumes] = await Promise.all([manager.listImageStorages(), manager.listVolumes()]);
  } catch (err) {
    return refused(md`The Manager's Image Storages could not be read: ${prose(asAppError(err).userMessage)}`);
  }
  const names = new Set(targets.map((h) => h.name));
  const rest = ctx.services.config.inventory.hosts.filter((h) => !names.has(h.name));
  const [ocfs2, reads, others] = await Promise.all([
    ctx.deps.ocfs2.overview(ctx.signal),
    scanHosts(ctx.services, targets, ctx.signal),
    scanHosts(ctx.services, rest, ctx.signal),
  ]);
  const request = { imageStorage: a.imageStorage, volume: a.volume, deviceId: a.device, slots: a.slots };
  const d = decideDevice({
    request,
    targets: targets.map((h) => h.name),
    others,
    ocfs2,
    reads,
    storages,
    volumes,
  });
  if (d.kind === 'refuse') return refused(d.reason);
  if (d.pin.mode === 'format') {
    const formatter = targets.find((h) => h.name === d.pin.formatter) as InventoryHost;
    const run = await dryRun(ctx.services.ssh, targetOf(formatter), specOf(d.pin), ctx.signal);
    const tooSmall = decideSize(d, run);
    if (tooSmall) return refused(tooSmall.reason);
    return renderVolumePlan(d, run.ok ? run.value.journalBytes : null);
  }
  return renderVolumePlan(d, null);
}

/** The plan as shown: the device, the format (or why none), the mounts and options, the Manager's records. */
export function renderVolumePlan(d: DeviceChoice, journalBytes: number | null): Plan<VolumePin> {
  const p = d.pin;
  const format = p.mode === 'format';
  const toMount = p.targets.filter((t) => !d.mountedOn.includes(t));
  const holds = contentText(p.before);
  const sections = [
    {
      title: md`Device \`${p.deviceId}\``,
      lines: [
        md`• ${sizeText(p.sizeBytes)}; on it now: ${holds}`,
        md`• Seen by ${p.targets.length} Host(s): ${d.device.paths.map((x) => `${x.host} (${x.path})`).join(', ')}`,
      ],
    },
    {
      title: format ? md`Format (once, on ${p.formatter})` : md`Format`,
      lines: format
        ? [
            md`• \`${mkfsArgs(specOf(p)).join(' ')}\``,
            md`• ${p.slots} node slots (cluster \`${p.cluster}\` declares ${d.nodeCount} nodes)${journalBytes ? md`: ${p.slots} journals × ${sizeText(journalBytes)} = ${sizeText(journalBytes * p.slots)}` : md``}`,
            p.vmstore
              ? md`• \`-T vmstore\`: tuned for virtual machine images (large clusters, sparse files)`
              : md`• No \`-T vmstore\`: it needs a device of at least 2 GiB`,
            md`• Label \`${p.volume}\`, cluster stack o2cb, cluster \`${p.cluster}\``,
          ]
        : [
            md`• Already OCFS2 volume \`${p.volume}\` for cluster \`${p.cluster}\` with ${p.slots} slots: it is used as it is, never formatted again`,
          ],
    },
    {
      title: md`Mount on ${p.targets.length} Host(s) at \`${p.mountPoint}\``,
      lines: [
        md`• ${toMount.length ? md`Mount on ${toMount.join(', ')}` : md`Mounted everywhere already`}${d.mountedOn.length && toMount.length ? md` (already mounted on ${d.mountedOn.join(', ')})` : md``}`,
        md`• fstab: \`${p.fstabLine.replace(/\t/g, ' ')}\``,
        ...MOUNT_OPTIONS.map((o) => md`• \`${o.option}\`: ${o.why}`),
      ],
    },
    {
      title: md`Manager`,
      lines: [
        md`• Image Storage \`${p.imageStorage}\` on \`${p.devicePath}\`${d.recorded.storage ? md` (recorded already)` : md``}`,
        md`• Volume \`${p.volume}\`, ${sizeGbOf(p.sizeBytes)} GB${d.recorded.volume ? md` (recorded already)` : md``}`,
      ],
    },
  ];
  const destroys = format && p.before.kind !== 'empty';
  return {
    summary: format
      ? md`Format \`${p.deviceId}\` (${sizeText(p.sizeBytes)}) as OCFS2 volume *${p.volume}* for Image Storage *${p.imageStorage}* and mount it on ${p.targets.join(', ')}`
      : md`Use the existing OCFS2 volume *${p.volume}* on \`${p.deviceId}\` for Image Storage *${p.imageStorage}* and mount it on ${p.targets.join(', ')}`,
    sections,
    warnings: destroys
      ? [
          md`:warning: \`${p.deviceId}\` holds ${holds}: formatting destroys it, for every Host. Confirming asks for the volume's name.`,
        ]
      : [],
    pinned: p,
    ...(destroys
      ? {
          typeToConfirm: {
            text: p.volume,
            why: md`\`${p.deviceId}\` holds ${holds}. Formatting it destroys what is there, for every Host that sees it. Type the volume's name to confirm.`,
          },
        }
      : {}),
  };
}
