/**
 * `/flexvdi storage devices [--hosts h1,h2]`: the block devices of a set of Hosts by stable id — size, what is
 * on it (empty, OCFS2 with its label, cluster and slots, another file system), where it is mounted and on
 * which Hosts — and which of them every Host of the set sees: a shared volume (`storage create-volume`, to
 * come) can only be made on those. The set is the registered Hosts (the registration plugin's list, the
 * inventory when the Manager does not answer), or the inventory Hosts named with `--hosts`.
 *
 * Read-only, for anyone. One script per Host over SSH, in parallel (devices.ts); a Host that does not answer
 * is reported and the rest shown, and the command then ends "with findings", as it does when the Manager
 * could not say which Hosts are registered or the Hosts disagree about a device.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { NO_PINS, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md, mdSchema } from '../../../core/text.js';
import { hostsArg, resolveHostList } from '../args.js';
import { command, type StorageDeps, step } from '../define.js';
import { mergeDevices } from '../device-merge.js';
import { devicesResult, planSummary } from '../devices-view.js';
import { hostReadSchema, scanHosts } from '../scan.js';

const args = z.object({ hosts: hostsArg.optional() }).strict();
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, null, StorageDeps>;

/** The Hosts to read and where that list came from. */
async function targetsOf(
  ctx: Ctx,
): Promise<{ hosts: InventoryHost[]; note: Md; managerError: string | null }> {
  const { registration } = ctx.deps;
  const inventory = ctx.services.config.inventory.hosts;
  if (ctx.args.hosts !== undefined) {
    const r = resolveHostList(registration, inventory, ctx.args.hosts);
    if (!r.ok) throw r.error;
    return {
      hosts: r.value,
      note: md`named with --hosts (${joinMd(r.value.map((h) => md`${h.name}`))})`,
      managerError: null,
    };
  }
  const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
  if (reg.from !== 'manager')
    ctx.finding(
      `the Manager could not be read: ${reg.managerError ?? 'no answer'}; read the inventory's Hosts`,
    );
  return {
    hosts: reg.hosts,
    note: reg.note,
    managerError: reg.from === 'manager' ? null : (reg.managerError ?? 'no answer'),
  };
}

const read = step({
  id: 'read',
  title: 'Read the block devices of the Hosts',
  output: z.object({
    targets: z.array(z.string()),
    note: mdSchema,
    managerError: z.string().nullable(),
    reads: z.array(hostReadSchema),
  }),
  run: async (ctx: Ctx) => {
    const { hosts, note, managerError } = await targetsOf(ctx);
    const reads = await scanHosts(ctx.services, hosts, ctx.signal, (h, state, detail) =>
      ctx.progress.host(h, state, detail),
    );
    const unread = reads.filter((r) => !r.ok).map((r) => r.host);
    if (unread.length) ctx.finding(`could not read ${unread.join(', ')}`);
    return { targets: hosts.map((h) => h.name), note, managerError, reads };
  },
});

export const storageDevicesCommand = command({
  id: 'storage devices',
  summary:
    'Block devices by stable id on every Host: size, what is on them, where mounted, and which every Host sees',
  examples: ['/flexvdi storage devices', '/flexvdi storage devices --hosts host1,host2'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: (ctx) => ({
    summary: planSummary(ctx.deps.registration, ctx.services.config.inventory.hosts, ctx.args.hosts),
    sections: [],
    warnings: [],
  }),
  steps: [read],
  result: (ctx) => {
    const r = ctx.result(read);
    const result = devicesResult({
      targets: r.targets,
      note: r.note,
      reads: r.reads,
      devices: mergeDevices(r.reads),
    });
    return r.managerError && result.outcome === 'completed' ? { ...result, outcome: 'findings' } : result;
  },
});
