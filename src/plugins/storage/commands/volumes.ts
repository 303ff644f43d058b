/**
 * `/flexvdi storage volumes`: every Image Storage the Manager has, with its Volumes, and per registered Host
 * whether it mounts it where it belongs (the kernel's mount table, through findmnt) and has it in fstab;
 * the slots in use (one per Host that mounts it) of those the superblock has, and the free space df reports.
 * Drift — a Host that should mount it and does not, or mounts it without an fstab entry (it would not come
 * back after a reboot) — is called out with the fix: the same `create-volume` for that Host, which adopts
 * the volume (never formats it) and only mounts it there. Read-only, for anyone; a Host that does not
 * answer is named and the command ends "with findings", as it does on drift.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { NO_PINS, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md } from '../../../core/text.js';
import { sizeText } from '../../../core/units.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { BY_ID } from '../args.js';
import { command, type StorageDeps, step } from '../define.js';
import { mountedHere, mountPointOf, mountState, mountStateSchema, readSuperblock } from '../volume-ops.js';

const args = z.object({}).strict();
type Ctx = StepContext<z.output<typeof args>, null, StorageDeps>;

export const storageSchema = z.object({
  name: z.string(),
  device: z.string(),
  cluster: z.string(),
  volumes: z.array(z.object({ name: z.string(), sizeGb: z.number() })),
  /** From the superblock, read on the first Host that answered (null: not read). */
  label: z.string().nullable(),
  slots: z.number().nullable(),
  hosts: z.array(
    z.discriminatedUnion('ok', [
      z.object({ host: z.string(), ok: z.literal(true), state: mountStateSchema }),
      z.object({ host: z.string(), ok: z.literal(false), error: z.string() }),
    ]),
  ),
});
export type StorageSeen = z.output<typeof storageSchema>;

const read = step({
  id: 'read',
  title: 'Ask the Manager, then read each Host’s mounts',
  output: z.object({ storages: z.array(storageSchema), note: z.string() }),
  run: async (ctx: Ctx) => {
    const { manager, ssh, config } = ctx.services;
    const [storages, volumes] = await Promise.all([manager.listImageStorages(), manager.listVolumes()]);
    const reg = await ctx.deps.registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    if (reg.from !== 'manager') ctx.finding('the Manager did not list the Hosts: read the inventory’s');
    const out: StorageSeen[] = [];
    for (const s of storages) {
      const dir = mountPointOf(s.name);
      const states = await fanout(
        reg.hosts,
        (h: InventoryHost) => mountState(ssh, targetOf(h), dir, s.device, ctx.signal),
        { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
      );
      const first = states.find((r) => r.ok && r.value.device !== null);
      const sb = first ? await readSuperblock(ssh, targetOf(first.target), s.device, ctx.signal) : null;
      out.push({
        name: s.name,
        device: s.device,
        cluster: s.cluster,
        volumes: volumes
          .filter((v) => v.imageStorage === s.name)
          .map((v) => ({ name: v.name, sizeGb: v.sizeGb })),
        label: sb?.label ?? null,
        slots: sb?.slots ?? null,
        hosts: states.map((r) =>
          r.ok
            ? { host: r.target.name, ok: true as const, state: r.value }
            : { host: r.target.name, ok: false as const, error: r.error.userMessage },
        ),
      });
    }
    const down = new Set(out.flatMap((s) => s.hosts.filter((h) => !h.ok).map((h) => h.host)));
    if (down.size) ctx.finding(`could not read ${[...down].join(', ')}`);
    return { storages: out, note: reg.note.plain() };
  },
});

/** The fix for a Host that should mount the Image Storage: create-volume again, for it alone (adopts). */
function fixFor(s: StorageSeen, host: string): Md {
  // The superblock's label first: the fix must adopt the volume that is there, never format it.
  const volume = s.label ?? s.volumes[0]?.name ?? '<volume>';
  const id = s.device.startsWith(`${BY_ID}/`) ? s.device.slice(BY_ID.length + 1) : s.device;
  return md`\`/flexvdi storage create-volume ${s.name} ${volume} --device ${id} --hosts ${host}\``;
}

/** One line per Host, and the drift among them. */
export function hostLines(s: StorageSeen): { lines: Md[]; drift: Md[] } {
  const lines: Md[] = [];
  const drift: Md[] = [];
  for (const h of s.hosts) {
    if (!h.ok) {
      lines.push(md`• :warning: *${h.host}*: not read — ${h.error}`);
      continue;
    }
    const st = h.state;
    if (mountedHere(st) && st.inFstab) lines.push(md`• *${h.host}*: mounted`);
    else if (mountedHere(st)) {
      lines.push(
        md`• :warning: *${h.host}*: mounted, but not in /etc/fstab (not mounted again after a reboot)`,
      );
      drift.push(md`${h.host}: no fstab entry — ${fixFor(s, h.host)}`);
    } else {
      const why =
        st.device === null
          ? md`does not see the device`
          : st.mounted
            ? md`has ${st.mounted.source} (${st.mounted.fstype}) mounted there instead`
            : md`not mounted${st.inFstab ? md` (the fstab entry is there)` : md``}`;
      lines.push(md`• :warning: *${h.host}*: ${why}`);
      drift.push(
        st.device === null
          ? md`${h.host}: ${why} — check the SAN zoning or multipath there (\`/flexvdi storage devices --hosts ${h.host}\`)`
          : md`${h.host}: ${why} — ${fixFor(s, h.host)}`,
      );
    }
  }
  return { lines, drift };
}

export const storageVolumesCommand = command({
  id: 'storage volumes',
  summary:
    'Image Storages and Volumes: which Hosts mount them, slots in use, free space, and drift with the fix',
  examples: ['/flexvdi storage volumes'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({
    summary: md`Read the Image Storages and where they are mounted`,
    sections: [],
    warnings: [],
  }),
  steps: [read],
  result: (ctx) => {
    const r = ctx.result(read);
    if (!r.storages.length)
      return {
        summary: md`No Image Storage yet: make one with \`/flexvdi storage create-volume\` (see \`/flexvdi storage devices\`).`,
        sections: [],
      };
    let drifted = 0;
    let unread = 0;
    const sections = r.storages.map((s) => {
      const { lines, drift } = hostLines(s);
      drifted += drift.length;
      unread += s.hosts.filter((h) => !h.ok).length;
      const mounted = s.hosts.filter((h) => h.ok && mountedHere(h.state));
      const df = mounted.find((h) => h.ok && h.state.freeBytes !== null);
      const space =
        df?.ok && df.state.freeBytes !== null && df.state.sizeBytes !== null
          ? md`${sizeText(df.state.freeBytes)} free of ${sizeText(df.state.sizeBytes)}`
          : md`free space not known (mounted nowhere that answered)`;
      const vols = s.volumes.length
        ? joinMd(s.volumes.map((v) => md`\`${v.name}\` (${v.sizeGb} GB)`))
        : md`no Volume recorded`;
      return {
        title: md`Image Storage ${s.name} — \`${s.device}\`, cluster \`${s.cluster}\``,
        lines: [
          md`• Volumes: ${vols}; at \`${mountPointOf(s.name)}\``,
          md`• Slots: ${mounted.length} in use of ${s.slots ?? '?'}; ${space}`,
          ...lines,
          ...drift.map((d) => md`• Fix ${d}`),
        ],
      };
    });
    return {
      summary: md`${r.storages.length} Image Storage(s) on ${r.storages[0]?.hosts.length ?? 0} registered Host(s)${drifted ? md` — :warning: drift on ${drifted} mount(s)` : md``}${unread ? md` — :warning: ${unread} not read` : md``}`,
      sections: [...sections, { lines: [md`Hosts: ${r.note}`] }],
      outcome: drifted || unread ? 'findings' : 'completed',
    };
  },
});
