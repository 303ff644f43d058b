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
import { AppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostsArg, resolveHostList } from '../args.js';
import { command, type StorageDeps, step } from '../define.js';
import { type HostRead, mergeDevices } from '../device-merge.js';
import { hostDevicesSchema, parseHostDevices } from '../devices.js';
import { DEVICES_SCRIPT } from '../devices-script.js';
import { devicesResult, planSummary, unreadableMessage } from '../devices-view.js';
import { StorageErrorCode } from '../errors.js';

const args = z.object({ hosts: hostsArg.optional() }).strict();
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, null, StorageDeps>;

const hostReadSchema = z.discriminatedUnion('ok', [
  z.object({ host: z.string(), ok: z.literal(true), value: hostDevicesSchema }),
  z.object({ host: z.string(), ok: z.literal(false), error: z.string() }),
]);

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

/**
 * How long one Host's scan may take: every probe is bounded by `timeout` on the Host, so this only ends a
 * scan that hangs elsewhere (many devices each near their limit, a stuck findmnt).
 */
export const SCAN_TIMEOUT_MS = 120_000;

/**
 * One Host's devices (one SSH command), or `storage.devices_unreadable` when its answer is not the complete
 * format or the script did not exit 0.
 */
async function readHost(ctx: Ctx, h: InventoryHost) {
  const r = await ctx.services.ssh.exec(targetOf(h), ['sh', '-c', DEVICES_SCRIPT], {
    signal: ctx.signal,
    allowNonZero: true,
    timeoutMs: SCAN_TIMEOUT_MS,
  });
  const parsed = parseHostDevices(r.stdout);
  if (parsed.ok && r.code === 0) return parsed.value;
  const error = parsed.ok ? 'the scan did not finish cleanly' : parsed.error;
  throw new AppError(StorageErrorCode.devicesUnreadable, `device scan on ${h.name}: ${error} ${r.stderr}`, {
    userMessage: unreadableMessage(h.name, r.code ?? r.signal, error, r.stderr),
  });
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
    const results = await fanout(
      hosts,
      async (h) => {
        ctx.progress.host(h.name, 'running');
        const devices = await readHost(ctx, h);
        ctx.progress.host(h.name, 'ok');
        return devices;
      },
      { concurrency: ctx.services.config.inventory.ssh.concurrency, signal: ctx.signal },
    );
    const reads = results.map((r): HostRead => {
      if (r.ok) return { host: r.target.name, ok: true, value: r.value };
      ctx.progress.host(r.target.name, 'failed', r.error.code);
      return { host: r.target.name, ok: false, error: r.error.userMessage };
    });
    ctx.signal.throwIfAborted();
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
