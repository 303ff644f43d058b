/**
 * The devices of several Hosts as one list. Two devices of two Hosts are the same device only when they share
 * a world-unique id — one the device itself carries and no other device in the world has: the SCSI NAA WWID
 * (`scsi-3…`, `wwn-0x…`), the NVMe EUI-64/NGUID or UUID (`nvme-eui.…`, `nvme-uuid.…`, unless all zeros, as
 * controllers without one report) or a multipath map's WWID (`dm-uuid-mpath-…`) — and have the same size.
 * Every other id may repeat across machines: a hypervisor's default serial (two VMs each with their own disk
 * named `ata-…QM00001`), LVM and md UUIDs on cloned Hosts, names chosen on the Host (`dm-name-`,
 * `md-name-`). Devices that share only such a name stay separate, each marked "same name, not proven
 * shared", and count as not seen by every Host. A group that holds two devices of one Host (one id names one
 * device there and another id the other) is ambiguous: it is shown as such and not as shared. So a LUN that
 * one Host shows as `scsi-3…` and `wwn-0x…` and another only as `wwn-0x…` is one device, shown under the
 * best id every Host that sees it knows (see `idRank`). Pure: every rule is a unit test.
 */
import { z } from 'zod';
import { byRank, type Content, contentSchema, type HostDevices, isLocalName } from './devices.js';

/**
 * Whether an id names one device in the world (see the top of this file): only these match devices across
 * Hosts.
 */
export function isWorldUnique(id: string): boolean {
  const m = /^(?:scsi-3|wwn-0x|nvme-eui\.|nvme-uuid\.|dm-uuid-mpath-)(.*)$/.exec(id);
  if (!m) return false;
  const rest = m[1] ?? '';
  // All zeros (with dashes, as a UUID): a device that has no such id.
  return /[0-9a-zA-Z]/.test(rest) && !/^[0-]+$/.test(rest);
}

/** One Host's answer: its devices, or why it could not be read (the error's user message). */
export type HostRead =
  | { host: string; ok: true; value: HostDevices }
  | { host: string; ok: false; error: string };

export const mergedDeviceSchema = z.object({
  /**
   * The id shown: the best-ranked world-unique id that every Host seeing the device knows, else the best-ranked
   * one they all know, else the best of any (Host-chosen names last).
   */
  id: z.string(),
  /** Every id it has on any Host, best first. */
  ids: z.array(z.string()),
  /** The Hosts that see it, in target order. */
  seenBy: z.array(z.string()),
  /** The Hosts that answered and do not see it: a shared volume cannot be made on it for this set. */
  missingFrom: z.array(z.string()),
  /** Two devices of one Host are in the group (its ids name different devices there): not proven shared. */
  ambiguous: z.boolean(),
  /**
   * Devices of other groups that share one of its names without a world-unique id and size in common: the
   * name and the Hosts with such a device ("same name, not proven shared").
   */
  sameName: z.array(z.object({ id: z.string(), hosts: z.array(z.string()) })),
  paths: z.array(z.object({ host: z.string(), path: z.string() })),
  sizes: z.array(z.object({ host: z.string(), bytes: z.number().nullable() })),
  /** What the first Host that sees it found on it. */
  content: contentSchema,
  /** Hosts that found something else on it (another signature, label, UUID…), with what they found. */
  disagree: z.array(z.object({ host: z.string(), content: contentSchema })),
  mounts: z.array(
    z.object({ host: z.string(), target: z.string(), fstype: z.string(), partition: z.string().nullable() }),
  ),
  holders: z.array(z.object({ host: z.string(), holders: z.array(z.string()) })),
});
export type MergedDevice = z.output<typeof mergedDeviceSchema>;

const notLocal = (id: string): boolean => !isLocalName(id);
/** A UUID as blkid (dashed, lower case) or debugfs.ocfs2 (hex, upper case) prints it. */
export const uuidKey = (u: string | null): string | null =>
  u === null ? null : u.replace(/-/g, '').toUpperCase();
/** Equal, or not known on one side (a Host without debugfs.ocfs2 reads less of an OCFS2 superblock). */
const agree = <T>(a: T | null, b: T | null): boolean => a === null || b === null || a === b;

/** Whether two Hosts found the same thing on a device. */
export function sameContent(a: Content, b: Content): boolean {
  switch (a.kind) {
    case 'ocfs2':
      return (
        b.kind === 'ocfs2' &&
        agree(uuidKey(a.uuid), uuidKey(b.uuid)) &&
        agree(a.slots, b.slots) &&
        agree(a.cluster, b.cluster)
      );
    case 'other':
      return b.kind === 'other' && a.type === b.type && agree(uuidKey(a.uuid), uuidKey(b.uuid));
    case 'partitioned':
      return b.kind === 'partitioned' && a.table === b.table;
    default:
      return a.kind === b.kind;
  }
}

/**
 * Whether a shared volume could be made on the device for this set of Hosts: every Host that answered sees
 * it, proven to be one device (not ambiguous, no other device that only shares a name with it).
 */
export const visibleEverywhere = (d: MergedDevice): boolean =>
  !d.missingFrom.length && !d.ambiguous && !d.sameName.length;

/** Devices of the Hosts that answered, merged across Hosts; visible from every one first, then by id. */
export function mergeDevices(reads: readonly HostRead[]): MergedDevice[] {
  const answered = reads.flatMap((r) => (r.ok ? [r] : []));
  const nodes = answered.flatMap((r) => r.value.devices.map((d) => ({ host: r.host, d })));
  // Union-find over (Host, device) by shared ids.
  const parent = nodes.map((_, i) => i);
  const find = (i: number): number => {
    let root = i;
    while (parent[root] !== root) root = parent[root] ?? root;
    let cur = i;
    while (parent[cur] !== root) {
      const next = parent[cur] ?? root;
      parent[cur] = root;
      cur = next;
    }
    return root;
  };
  // Joined only on a world-unique id and an equal, known size.
  const firstWithKey = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.d.sizeBytes === null) return;
    for (const id of n.d.ids) {
      if (!isWorldUnique(id)) continue;
      const key = `${id}\u0000${n.d.sizeBytes}`;
      const j = firstWithKey.get(key);
      if (j === undefined) firstWithKey.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, typeof nodes>();
  nodes.forEach((n, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), n]);
  });
  const order = answered.map((r) => r.host);
  const groupList = [...groups.values()];
  // Which groups carry each name a Host did not choose (dm-name-/md-name- never say two devices are alike).
  const groupsByName = new Map<string, Set<number>>();
  groupList.forEach((members, g) => {
    for (const m of members)
      for (const id of m.d.ids) {
        if (isLocalName(id)) continue;
        groupsByName.set(id, (groupsByName.get(id) ?? new Set()).add(g));
      }
  });
  const merged = groupList.map((members, g): MergedDevice => {
    const sorted = [...members].sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
    const seenBy = [...new Set(sorted.map((m) => m.host))];
    const all = byRank(new Set(sorted.flatMap((m) => m.d.ids)));
    const everywhere = all.filter((id) => sorted.every((m) => m.d.ids.includes(id)));
    const shown = [
      everywhere.filter(isWorldUnique),
      everywhere.filter(notLocal),
      all.filter(notLocal),
      all,
    ].find((l) => l.length)?.[0];
    const first = sorted[0];
    if (!first) throw new Error('mergeDevices: an empty group');
    const sameName = all.flatMap((id) => {
      const others = [...(groupsByName.get(id) ?? [])].filter((o) => o !== g);
      if (!others.length) return [];
      const hosts = new Set(others.flatMap((o) => (groupList[o] ?? []).map((m) => m.host)));
      return [{ id, hosts: order.filter((h) => hosts.has(h)) }];
    });
    return {
      id: shown ?? first.d.path,
      ids: all,
      seenBy,
      missingFrom: order.filter((h) => !seenBy.includes(h)),
      ambiguous: seenBy.length < sorted.length,
      sameName,
      paths: sorted.map((m) => ({ host: m.host, path: m.d.path })),
      sizes: sorted.map((m) => ({ host: m.host, bytes: m.d.sizeBytes })),
      content: first.d.content,
      disagree: sorted
        .filter((m) => !sameContent(m.d.content, first.d.content))
        .map((m) => ({ host: m.host, content: m.d.content })),
      mounts: sorted.flatMap((m) => m.d.mounts.map((x) => ({ host: m.host, ...x }))),
      holders: sorted.filter((m) => m.d.holders.length).map((m) => ({ host: m.host, holders: m.d.holders })),
    };
  });
  return merged.sort(
    (a, b) =>
      Number(!visibleEverywhere(a)) - Number(!visibleEverywhere(b)) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
