/**
 * What one Host says about its block devices, read with one shell script per Host (`DEVICES_SCRIPT`) and
 * parsed by a pure function (`parseHostDevices`), so every rule here is a unit test.
 *
 * Devices are named by their stable ids, the links udev makes in /dev/disk/by-id, whatever `sdX` name a device
 * got at boot. A device has one link per naming scheme udev knows (`scsi-3…`, `wwn-0x…`, `nvme-eui.…`,
 * `dm-uuid-…`, `lvm-pv-uuid-…`), so links are grouped by the device they resolve to (`readlink -f`) and each
 * group is one device: its ids are all of its link names, the first being the one shown (see `idRank`).
 * Which ids prove that devices of two Hosts are one is device-merge.ts's business. Links to partitions
 * (`…-partN`, or a device sysfs calls a partition) and to multipath partitions are left out: a volume is made
 * on a whole device; a mounted partition is reported on its disk.
 *
 * Per device the script (devices-script.ts) reads, finding the device's sysfs folder by its major:minor
 * (/sys/dev/block/MAJ:MIN): the size (`blockdev --getsize64`), what is on it (`blkid -p -o export`: a
 * low-level probe of the device itself, not blkid's cache; its stderr too, since it exits 2 both for
 * "nothing found" and for "cannot open"), for OCFS2 the superblock (`debugfs.ocfs2 -R stats`: label, slots,
 * cluster stack and name — what mkfs.ocfs2 stamped), the devices stacked on it (sysfs `holders`:
 * device-mapper, md), and where it is mounted (`findmnt`, the kernel's mount table; a mount of one of its
 * partitions counts for the disk) or used as swap (/proc/swaps). Read-only and removable devices (a DVD
 * drive, a write-protected LUN) are left out with a note; whole disks without a stable id are named. Each
 * probe is killed after `PROBE_TIMEOUT_S` (a hung device reads "timed out"); the output ends with a trailer
 * line, so output cut short is not read as a shorter list. Text that comes from the device (blkid's and
 * debugfs's output and messages) travels base64-encoded, so no label can break the line format; everything
 * is escaped again where it is shown.
 */
import { z } from 'zod';
import { DEVICES_HEADER, DEVICES_TRAILER } from './devices-script.js';

// ---------------------------------------------------------------------------------------------- stable ids

/**
 * Which id of a device is shown, best first: the one most likely to be the same string on every Host and to
 * say which disk it is.
 *  0 `scsi-3…`: the SCSI WWID (NAA), the LUN's own world-wide name — what multipath and the SAN show.
 *  1 other `scsi-…` (vendor/serial ids).
 *  2 model + serial ids: `nvme-<model>_<serial>`, `ata-`, `virtio-`, `usb-`, `mmc-`, `ieee1394-`.
 *  3 content or stack ids: `dm-uuid-`, `md-uuid-`, `lvm-pv-uuid-`.
 *  4 the same number in another spelling: `wwn-0x…`, `nvme-eui.…`, `nvme-nvme.…`, `nvme-uuid.…`.
 *  5 anything else.
 *  6 names chosen on the Host (`dm-name-`, `md-name-`): they may name different devices on two Hosts, so
 *    they never match devices across Hosts (`isLocalName`).
 */
export function idRank(name: string): number {
  if (/^(dm|md)-name-/.test(name)) return 6;
  if (/^(wwn-|nvme-(eui|nvme|uuid)\.)/.test(name)) return 4;
  if (name.startsWith('scsi-3')) return 0;
  if (name.startsWith('scsi-')) return 1;
  if (/^(nvme|ata|virtio|usb|mmc|ieee1394)-/.test(name)) return 2;
  if (/^(dm-uuid|md-uuid|lvm-pv-uuid)-/.test(name)) return 3;
  return 5;
}

export const isLocalName = (name: string): boolean => idRank(name) === 6;

/** Ids sorted best first (rank, then name). */
export const byRank = (ids: Iterable<string>): string[] =>
  [...ids].sort((a, b) => idRank(a) - idRank(b) || (a < b ? -1 : a > b ? 1 : 0));

// ---------------------------------------------------------------------------------------------- parsing

export const contentSchema = z.discriminatedUnion('kind', [
  /** blkid found no signature (no file system, no partition table, no RAID or LVM member…). */
  z.object({ kind: z.literal('empty') }),
  z.object({
    kind: z.literal('ocfs2'),
    label: z.string().nullable(),
    uuid: z.string().nullable(),
    slots: z.number().int().nullable(),
    stack: z.string().nullable(),
    cluster: z.string().nullable(),
  }),
  /** A partition table. */
  z.object({ kind: z.literal('partitioned'), table: z.string() }),
  /** Another file system or signature (ext4, xfs, swap, LVM2_member, crypto_LUKS…). */
  z.object({
    kind: z.literal('other'),
    type: z.string(),
    label: z.string().nullable(),
    uuid: z.string().nullable(),
  }),
  /** blkid could not tell (several signatures, an I/O error…). */
  z.object({ kind: z.literal('unknown'), reason: z.string() }),
]);
export type Content = z.output<typeof contentSchema>;

export const mountSchema = z.object({
  target: z.string(),
  fstype: z.string(),
  /** The partition that is mounted, when it is one of the device's partitions. */
  partition: z.string().nullable(),
});
export type Mount = z.output<typeof mountSchema>;

export const deviceSeenSchema = z.object({
  /** Its /dev/disk/by-id names, best first (`byRank`). */
  ids: z.array(z.string()).min(1),
  /** What they resolve to on this Host (`/dev/sdb`). */
  path: z.string(),
  sizeBytes: z.number().nullable(),
  content: contentSchema,
  mounts: z.array(mountSchema),
  /** Devices stacked on it (`dm-3`, `md0`): it is in use even when nothing mounts it. */
  holders: z.array(z.string()),
});
export type DeviceSeen = z.output<typeof deviceSeenSchema>;

export const hostDevicesSchema = z.object({
  devices: z.array(deviceSeenSchema),
  /** What the Host could not tell, one sentence each. */
  notes: z.array(z.string()),
  /**
   * Whole disks the kernel has and no /dev/disk/by-id link names (a local disk without a serial, a loop
   * device): not listed, since a shared volume is only made on a device named by a stable id. Information,
   * not a problem.
   */
  unnamed: z.array(z.string()).default([]),
});
export type HostDevices = z.output<typeof hostDevicesSchema>;

const fromBase64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/**
 * blkid's export format: `KEY=value` lines, values with `\` before shell-special characters and control
 * characters as `^X` (`safe_print`). The backslashes are undone; `^J` stays as blkid wrote it.
 */
export function parseBlkidExport(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.set(line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, '$1'));
  }
  return out;
}

/**
 * `debugfs.ocfs2 -R stats`: label, UUID, slots, cluster stack and name. The label is printed raw and may hold
 * anything, new lines included, so each field is read where a label cannot reach it: fields printed before
 * the label line (Max Node Slots) at their first occurrence, those printed after it (UUID, cluster stack and
 * name) at their last, and the label is what lies between `Label: ` and the last `UUID: ` line.
 */
export function parseOcfs2Stats(text: string): Extract<Content, { kind: 'ocfs2' }> {
  const labelAt = text.indexOf('\tLabel: ');
  const before = labelAt === -1 ? text : text.slice(0, labelAt);
  const uuidAt = text.lastIndexOf('\n\tUUID: ');
  const after = uuidAt === -1 ? '' : text.slice(uuidAt + 1);
  const last = (s: string, re: RegExp): string | null => {
    const all = [...s.matchAll(re)];
    const v = all[all.length - 1]?.[1]?.trim();
    return v ? v : null;
  };
  const slots = /Max Node Slots: (\d+)/.exec(before)?.[1];
  return {
    kind: 'ocfs2',
    label:
      labelAt !== -1 && uuidAt > labelAt ? text.slice(labelAt + '\tLabel: '.length, uuidAt) || null : null,
    uuid: /^\tUUID: ([0-9A-Fa-f]+)/.exec(after)?.[1] ?? null,
    slots: slots === undefined ? null : Number(slots),
    stack: last(after, /^\tCluster stack: (.*)$/gm),
    cluster: last(after, /^\tCluster name: (.*)$/gm),
  };
}

/** A probe's exit status when `timeout` killed it (TERM: 124; KILL after the grace period: 137). */
export const timedOut = (exit: number): boolean => exit === 124 || exit === 137;

/**
 * What blkid's exit status and messages say beyond its export: blkid exits 2 both when it finds nothing and
 * when it cannot open the device (no permission, the device gone, no medium), so 2 is "empty" only when blkid
 * said nothing on stderr and the device was still there and readable after the probe.
 */
export interface BlkidRun {
  exit: number;
  stdout: string;
  stderr?: string;
  /** The device was still a readable device after the probe (default true). */
  readable?: boolean;
}

/** What is on a device, from blkid's run, and for OCFS2 debugfs's stats (and its exit status). */
export function contentOf(run: BlkidRun, ocfs2Stats?: { text: string; exit: number } | undefined): Content {
  const { exit } = run;
  const kv = parseBlkidExport(run.stdout);
  const type = kv.get('TYPE');
  const message = (run.stderr ?? '').trim().split('\n').slice(-2).join(' / ').slice(0, 300);
  if (timedOut(exit)) return { kind: 'unknown', reason: 'timed out' };
  if (exit === 2 && !type && !kv.get('PTTYPE')) {
    if (!message && run.readable !== false) return { kind: 'empty' };
    return {
      kind: 'unknown',
      reason: message ? `blkid: ${message}` : 'the device could not be read (gone, or no permission)',
    };
  }
  if (exit !== 0) {
    return {
      kind: 'unknown',
      reason:
        exit === 8
          ? 'blkid found several signatures'
          : `blkid failed (exit ${exit})${message ? `: ${message}` : ''}`,
    };
  }
  if (type === 'ocfs2' && ocfs2Stats && timedOut(ocfs2Stats.exit))
    return { kind: 'unknown', reason: 'OCFS2; debugfs.ocfs2 timed out' };
  if (type === 'ocfs2') {
    const sb = ocfs2Stats?.text ? parseOcfs2Stats(ocfs2Stats.text) : undefined;
    return {
      kind: 'ocfs2',
      label: sb?.label ?? kv.get('LABEL') ?? null,
      uuid: sb?.uuid ?? kv.get('UUID') ?? null,
      slots: sb?.slots ?? null,
      stack: sb?.stack ?? null,
      cluster: sb?.cluster ?? null,
    };
  }
  if (type) return { kind: 'other', type, label: kv.get('LABEL') ?? null, uuid: kv.get('UUID') ?? null };
  const table = kv.get('PTTYPE');
  if (table) return { kind: 'partitioned', table };
  return { kind: 'unknown', reason: 'blkid named no type' };
}

/** findmnt -r's escapes (`\x20`) undone. */
export const unescapeFindmnt = (s: string): string =>
  s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));

/**
 * The script's output as devices, or why it cannot be read: no header (the Host ran something else, or the
 * shell failed before it printed anything), or no trailer (the output was cut short: the script was killed or
 * the connection lost — a shorter list would be wrong, not partial). Lines before the header and lines it does
 * not know are skipped.
 */
export function parseHostDevices(
  stdout: string,
): { ok: true; value: HostDevices } | { ok: false; error: string } {
  const all = stdout.split('\n');
  // What a login script printed first (root's .bashrc runs for SSH commands) is not the script's.
  const start = all.findIndex((l) => l.trim() === DEVICES_HEADER);
  if (start === -1) {
    const first = stdout.trim().split('\n')[0]?.slice(0, 120) ?? '';
    return { ok: false, error: first ? `unexpected output: ${first}` : 'no output' };
  }
  const lines = all.slice(start);
  if (!lines.some((l, i) => i > 0 && l.trim() === DEVICES_TRAILER))
    return { ok: false, error: 'the output ends early (no end line): the scan was cut short' };
  const ids = new Map<string, Set<string>>();
  const order: string[] = [];
  const dev = new Map<string, { size: number | null; holders: string[] }>();
  const blkid = new Map<string, BlkidRun>();
  const ocfs2 = new Map<string, { text: string; exit: number }>();
  const exitOf = (x: string): number => (/^\d+$/.test(x) ? Number(x) : -1);
  const mounts = new Map<string, Mount[]>();
  const notes: string[] = [];
  const unnamed: string[] = [];
  for (const line of lines.slice(1)) {
    const [kind, ...f] = line.split('\t');
    const [a = '', b = '', c = '', d = '', e = ''] = f;
    if (kind === DEVICES_TRAILER) break;
    switch (kind) {
      case 'id':
        if (!a || !b) break;
        if (!ids.has(b)) {
          ids.set(b, new Set());
          order.push(b);
        }
        ids.get(b)?.add(a);
        break;
      case 'dev': {
        const size = /^\d+$/.test(b) ? Number(b) : null;
        if (b === 'timeout') notes.push(`the size of ${a} is not known: blockdev timed out`);
        dev.set(a, { size, holders: c.split(' ').filter(Boolean) });
        break;
      }
      case 'blkid':
        blkid.set(a, { exit: exitOf(b), stdout: fromBase64(c), stderr: fromBase64(d), readable: e !== '0' });
        break;
      case 'ocfs2':
        ocfs2.set(a, { text: fromBase64(b), exit: c === '' ? 0 : exitOf(c) });
        break;
      case 'mount':
        if (!a || !c) break;
        mounts.set(a, [
          ...(mounts.get(a) ?? []),
          { target: unescapeFindmnt(c), fstype: d || '?', partition: b && b !== '-' ? b : null },
        ]);
        break;
      case 'note':
        if (a) notes.push(a);
        break;
      case 'unnamed':
        unnamed.push(...a.split(' ').filter(Boolean));
        break;
    }
  }
  const devices = order.flatMap((path): DeviceSeen[] => {
    const names = ids.get(path);
    const d = dev.get(path);
    if (!names?.size || !d) return [];
    const probe = blkid.get(path);
    return [
      {
        ids: byRank(names),
        path,
        sizeBytes: d.size,
        content: probe ? contentOf(probe, ocfs2.get(path)) : { kind: 'unknown', reason: 'not probed' },
        mounts: mounts.get(path) ?? [],
        holders: d.holders,
      },
    ];
  });
  return { ok: true, value: { devices, notes, unnamed } };
}
