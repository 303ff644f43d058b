/**
 * The decision of `storage create-volume`, pure: from what the Hosts, the OCFS2 cluster and the Manager say,
 * refuse (with the code and the sentence that says what to do), or pin what the steps will do — format the
 * device, or adopt it when it already holds this very volume (a resumed or repeated run never formats twice),
 * with how many slots, whether `-T vmstore`, on which Host, and the Hosts that mount it.
 *
 * Two stages, because the size check needs mkfs.ocfs2's own figures: `decideDevice` picks the device and the
 * format, the command asks `mkfs.ocfs2 -n` on the formatting Host, and `decideSize` judges its answer.
 */
import { z } from 'zod';
import { joinMd, type Md, md, prose } from '../../core/text.js';
import { sizeText } from '../../core/units.js';
import type { ImageStorage, Volume } from '../../manager/index.js';
import type { Ocfs2Overview } from '../ocfs2/api.js';
import { type HostRead, type MergedDevice, mergeDevices, visibleEverywhere } from './device-merge.js';
import { type Content, contentSchema } from './devices.js';
import { contentText } from './devices-view.js';
import { StorageErrorCode } from './errors.js';
import { type DryRun, devicePathOf, fstabLineOf, mountPointOf, VMSTORE_MIN_BYTES } from './volume-ops.js';

export const volumePinSchema = z.object({
  imageStorage: z.string(),
  volume: z.string(),
  deviceId: z.string(),
  devicePath: z.string(),
  cluster: z.string(),
  slots: z.number().int().min(1).max(255),
  vmstore: z.boolean(),
  sizeBytes: z.number(),
  /** format: mkfs.ocfs2 runs; adopt: the device already holds this volume for this cluster. */
  mode: z.enum(['format', 'adopt']),
  /** What was on the device at the plan: the format step refuses if it finds anything else. */
  before: contentSchema,
  /** The Host that formats (the first target). */
  formatter: z.string(),
  /** The other inventory Hosts, read again before formatting (the device in use there stops it). */
  watch: z.array(z.string()).default([]),
  targets: z.array(z.string()).min(1),
  mountPoint: z.string(),
  fstabLine: z.string(),
});
export type VolumePin = z.output<typeof volumePinSchema>;

export interface VolumeRequest {
  imageStorage: string;
  volume: string;
  deviceId: string;
  slots?: number | undefined;
}

export interface VolumeFacts {
  request: VolumeRequest;
  /** The Hosts that will mount it (inventory names, inventory order). */
  targets: readonly string[];
  /**
   * The other inventory Hosts' devices: they do not mount the volume, but one of them may have the device
   * mounted or in use, and then it is not formatted.
   */
  others: readonly HostRead[];
  ocfs2: Ocfs2Overview;
  reads: readonly HostRead[];
  storages: readonly ImageStorage[];
  volumes: readonly Volume[];
}

export interface Refusal {
  kind: 'refuse';
  code: string;
  reason: Md;
}

export interface DeviceChoice {
  kind: 'go';
  device: MergedDevice;
  pin: VolumePin;
  /** The cluster's declared node count (the slots' floor). */
  nodeCount: number;
  /** Targets that already mount it where it belongs (adopt). */
  mountedOn: string[];
  /** The Manager already has the Image Storage / the Volume (a repeated run). */
  recorded: { storage: boolean; volume: boolean };
}

const refuse = (code: string, reason: Md): Refusal => ({ kind: 'refuse', code, reason });
const list = (names: readonly string[]): Md => joinMd(names.map((n) => md`${n}`));

/** Every target a node of the cluster, online, in sync — or the refusal naming each Host and its fix. */
function clusterProblem(f: VolumeFacts): Refusal | null {
  const { ocfs2 } = f;
  if (!ocfs2.cluster || ocfs2.nodeCount === null)
    return refuse(
      StorageErrorCode.clusterNotReady,
      md`No OCFS2 cluster yet: create it with \`/flexvdi ocfs2 first-node ${'<host>'}\` and join the other Hosts with \`/flexvdi ocfs2 join --all\`.`,
    );
  const problems: Md[] = [];
  for (const name of f.targets) {
    const h = ocfs2.hosts.find((x) => x.host === name);
    if (!h?.reachable) problems.push(md`${name} could not be read (${prose(h?.error ?? 'not read')})`);
    else if (!h.node)
      problems.push(md`${name} is not a node of \`${ocfs2.cluster}\`: \`/flexvdi ocfs2 join ${name}\``);
    else if (h.online !== ocfs2.cluster)
      problems.push(
        md`o2cb is ${h.online ? md`online for \`${h.online}\`` : md`offline`} on ${name}: \`/flexvdi ocfs2 join ${name}\` brings it online`,
      );
    else if (h.drift.length) problems.push(md`${name}: ${joinMd(h.drift, '; ')}`);
  }
  if (!problems.length) return null;
  return refuse(
    StorageErrorCode.clusterNotReady,
    md`OCFS2 cluster \`${ocfs2.cluster}\` must be online and identical on every Host that mounts the volume: ${joinMd(problems, '; ')}. See \`/flexvdi ocfs2 status\`.`,
  );
}

/** The Manager's records: the names free, or already this volume on this device (a repeated run). */
function managerProblem(
  f: VolumeFacts,
  devicePath: string,
  cluster: string,
): Refusal | { storage: boolean; volume: boolean } {
  const { imageStorage, volume } = f.request;
  const storage = f.storages.find((s) => s.name === imageStorage);
  if (storage && (storage.device !== devicePath || storage.cluster !== cluster))
    return refuse(
      StorageErrorCode.nameTaken,
      md`The Manager already has an Image Storage \`${imageStorage}\` on \`${storage.device}\` (cluster \`${storage.cluster}\`): choose another name.`,
    );
  const other = f.storages.find((s) => s.device === devicePath && s.name !== imageStorage);
  if (other)
    return refuse(
      StorageErrorCode.nameTaken,
      md`\`${devicePath}\` already holds the Manager's Image Storage \`${other.name}\`: a device holds one.`,
    );
  const vol = f.volumes.find((v) => v.name === volume);
  if (vol && vol.imageStorage !== imageStorage)
    return refuse(
      StorageErrorCode.nameTaken,
      md`The Manager already has a Volume \`${volume}\` in Image Storage \`${vol.imageStorage}\`: choose another name.`,
    );
  return { storage: Boolean(storage), volume: Boolean(vol) };
}

/** Picks the device and how it is formatted, or refuses. */
export function decideDevice(f: VolumeFacts): Refusal | DeviceChoice {
  const cp = clusterProblem(f);
  if (cp) return cp;
  const cluster = f.ocfs2.cluster as string;
  const nodeCount = f.ocfs2.nodeCount as number;
  const { deviceId, imageStorage, volume } = f.request;
  const unread = f.reads.filter((r) => !r.ok);
  if (unread.length)
    return refuse(
      StorageErrorCode.devicesUnreadable,
      md`Could not read the devices of ${joinMd(unread.map((r) => (r.ok ? md`` : md`${r.host} (${prose(r.error)})`)))}: every Host that mounts the volume must be read before a device is formatted.`,
    );
  const devices = mergeDevices(f.reads);
  const matches = devices.filter((d) => d.ids.includes(deviceId));
  const device = matches[0];
  if (!device) {
    const shared = devices.filter(visibleEverywhere).map((d) => d.id);
    return refuse(
      StorageErrorCode.unknownDevice,
      md`No Host of ${list(f.targets)} has a device \`${deviceId}\` in /dev/disk/by-id. ${shared.length ? md`Devices every one of them sees: ${joinMd(shared.map((s) => md`\`${s}\``))}.` : md`They share no device.`} See \`/flexvdi storage devices\`.`,
    );
  }
  if (matches.length > 1 || device.ambiguous || device.sameName.length)
    return refuse(
      StorageErrorCode.deviceNotShared,
      md`\`${deviceId}\` is not proven to be one device seen by every Host (the Hosts' devices share the name without a world-wide id and size in common). Use a \`scsi-3…\` or \`wwn-0x…\` id from \`/flexvdi storage devices\`.`,
    );
  if (device.missingFrom.length)
    return refuse(
      StorageErrorCode.deviceNotShared,
      md`\`${deviceId}\` is not visible from ${list(device.missingFrom)} (seen by ${list(device.seenBy)}): a volume every Host mounts must be on a device they all see. Check the SAN zoning or multipath there, or leave them out with \`--hosts\`.`,
    );
  const size = device.sizes[0]?.bytes ?? null;
  if (size === null)
    return refuse(
      StorageErrorCode.deviceUnreadable,
      md`The size of \`${deviceId}\` could not be read: see \`/flexvdi storage devices\`.`,
    );
  const content = device.content;
  if (content.kind === 'unknown' || device.disagree.length)
    return refuse(
      StorageErrorCode.deviceUnreadable,
      content.kind === 'unknown'
        ? md`Cannot tell what is on \`${deviceId}\` (${prose(content.reason)}): nothing is formatted blindly.`
        : md`The Hosts see different content on \`${deviceId}\` (${joinMd(device.disagree.map((d) => md`${d.host}: ${contentText(d.content)}`))}): nothing is formatted until they agree.`,
    );
  const mountPoint = mountPointOf(imageStorage);
  const adopt =
    content.kind === 'ocfs2' &&
    content.label === volume &&
    content.cluster === cluster &&
    content.slots !== null;
  // Every Host that sees the device, targets or not: one that has it mounted or in use stops a format.
  const seenAnywhere =
    mergeDevices([...f.reads, ...f.others]).find((d) => d.ids.includes(deviceId)) ?? device;
  const unreadOthers = f.others.flatMap((r) => (r.ok ? [] : [r]));
  if (!adopt && unreadOthers.length)
    return refuse(
      StorageErrorCode.devicesUnreadable,
      md`Could not read the devices of ${joinMd(unreadOthers.map((r) => (r.ok ? md`` : md`${r.host} (${prose(r.error)})`)))}: a Host that may have \`${deviceId}\` mounted must be read before it is formatted. Bring it back (a Host gone for good: take it out of the inventory).`,
    );
  const foreignMounts = seenAnywhere.mounts.filter(
    (m) => !(adopt && m.target === mountPoint && m.fstype === 'ocfs2' && m.partition === null),
  );
  if (foreignMounts.length)
    return refuse(
      StorageErrorCode.deviceInUse,
      md`\`${deviceId}\` is mounted: ${joinMd(foreignMounts.map((m) => md`on ${m.host} at \`${m.target}\` (${m.fstype})`))}. A mounted device is never formatted: unmount it everywhere first, or choose another device.`,
    );
  if (seenAnywhere.holders.length)
    return refuse(
      StorageErrorCode.deviceInUse,
      md`\`${deviceId}\` is in use by ${joinMd(seenAnywhere.holders.map((h) => md`${h.holders.join(', ')} on ${h.host}`))} (device-mapper or RAID on top of it): choose another device.`,
    );
  let slots = f.request.slots ?? nodeCount;
  if (adopt) {
    const have = (content as Extract<Content, { kind: 'ocfs2' }>).slots as number;
    if (f.request.slots !== undefined && f.request.slots !== have)
      return refuse(
        StorageErrorCode.slotsInvalid,
        md`\`${deviceId}\` already holds volume \`${volume}\` with ${have} slots, not ${f.request.slots}: leave \`--slots\` out to use it as it is (\`tunefs.ocfs2 -N\` changes the slots, with the volume unmounted everywhere).`,
      );
    slots = have;
  } else if (slots < nodeCount)
    return refuse(
      StorageErrorCode.slotsInvalid,
      md`${slots} slots is fewer than the ${nodeCount} nodes cluster \`${cluster}\` declares: every node that mounts the volume takes a slot. Use \`--slots ${nodeCount}\` or more (at most 255).`,
    );
  if (!adopt && content.kind === 'ocfs2' && content.cluster === cluster)
    return refuse(
      StorageErrorCode.deviceInUse,
      md`\`${deviceId}\` holds OCFS2 volume \`${content.label ?? '(no label)'}\` of this cluster (\`${cluster}\`): Hosts may be using it, so create-volume never formats it. To use it as it is, give its own name: \`/flexvdi storage create-volume ${imageStorage} ${content.label ?? '<label>'} --device ${deviceId}\`.`,
    );
  const devicePath = devicePathOf(device.id);
  const recorded = managerProblem(f, devicePath, cluster);
  if ('kind' in recorded) return recorded;
  if (!adopt && recorded.storage)
    return refuse(
      StorageErrorCode.deviceInUse,
      md`\`${deviceId}\` is already the Manager's Image Storage \`${imageStorage}\` but does not hold volume \`${volume}\` for cluster \`${cluster}\` (it holds ${contentText(content)}): it is not formatted again. See \`/flexvdi storage volumes\`.`,
    );
  const formatter = f.targets[0] as string;
  return {
    kind: 'go',
    device,
    nodeCount,
    recorded,
    mountedOn: device.mounts.filter((m) => m.target === mountPoint).map((m) => m.host),
    pin: {
      imageStorage,
      volume,
      deviceId: device.id,
      devicePath,
      cluster,
      slots,
      vmstore: size >= VMSTORE_MIN_BYTES,
      sizeBytes: size,
      mode: adopt ? 'adopt' : 'format',
      before: content,
      formatter,
      watch: f.others.map((r) => r.host),
      targets: [...f.targets],
      mountPoint,
      fstabLine: fstabLineOf(device.id, imageStorage),
    },
  };
}

/** The journals take at most this share of the device, or the volume is refused as too small. */
export const MAX_JOURNAL_SHARE = 0.5;

/** Judges mkfs.ocfs2's dry run: its own refusal, or journals that would take more than half the device. */
export function decideSize(
  choice: DeviceChoice,
  run: { ok: true; value: DryRun } | { ok: false; error: string },
): Refusal | null {
  const { pin } = choice;
  if (!run.ok)
    return refuse(
      StorageErrorCode.deviceTooSmall,
      md`mkfs.ocfs2 would not make this volume (dry run on ${pin.formatter}: ${prose(run.error)}).`,
    );
  const journals = run.value.journalBytes * pin.slots;
  if (journals > pin.sizeBytes * MAX_JOURNAL_SHARE)
    return refuse(
      StorageErrorCode.deviceTooSmall,
      md`\`${pin.deviceId}\` is too small for ${pin.slots} slots: their journals would take ${sizeText(journals)} of ${sizeText(pin.sizeBytes)}. Use fewer slots (the cluster needs ${choice.nodeCount}) or a larger device.`,
    );
  return null;
}

/** The Volume's size for the Manager's record, in GB as it counts them (whole GiB, at least 1). */
export const sizeGbOf = (sizeBytes: number): number => Math.max(1, Math.floor(sizeBytes / 1024 ** 3));
