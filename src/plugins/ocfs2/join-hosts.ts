/**
 * The run of `ocfs2 join`: each target Host, in parallel, is checked again (listed by its hostname, IP, o2cb
 * not online with another configuration), gets the pinned cluster.conf byte for byte and the o2cb settings,
 * comes online and is read back. A Host that finished has a per-Host checkpoint, so a resumed job (crash,
 * automatic retry, `/flexvdi retry`) skips it; a Host interrupted half way runs its idempotent operations
 * again (an identical write changes nothing and makes no backup). When some Hosts fail, the others still
 * finish, then the step fails naming them — retryable by the engine only if every failure is transient.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import { settleHosts } from '../../core/partial.js';
import { findHost, type StepContext } from '../../core/plugin.js';
import { AppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import { pinnedCluster } from './cluster-conf.js';
import type { Ocfs2Deps } from './define.js';
import { Ocfs2ErrorCode, userMessageOf } from './errors.js';
import {
  bringOnline,
  expectedSchema,
  inspectNode,
  installConf,
  installSettings,
  pinnedConfIsValid,
  verifyHost,
} from './host-ops.js';
import { standingOf } from './membership.js';

/** What `ocfs2 join` pins: the source's cluster.conf and timeouts, and the Hosts to join (inventory names). */
export const joinPinSchema = expectedSchema
  .extend({
    /** The Host the file was read from (the first node, or the one file the registered Hosts agree on). */
    source: z.string(),
    targets: z.array(z.string()).min(1),
  })
  .superRefine(pinnedConfIsValid);
export type JoinPin = z.output<typeof joinPinSchema>;

const hostJoinedSchema = z.object({ node: z.number().int(), backup: z.string().nullable() });
export type HostJoined = z.output<typeof hostJoinedSchema>;

export const joinResultSchema = z.object({
  hosts: z.record(
    hostJoinedSchema.extend({
      /** Finished by an earlier run of this job. */
      earlier: z.boolean().optional(),
    }),
  ),
});
export type JoinResult = z.output<typeof joinResultSchema>;

/** Sub-checkpoints, per Host: joined (the Host is done), and a backup made by an interrupted run. */
const joinedKey = (h: InventoryHost) => `joined:${h.name}`;
const backupKey = (h: InventoryHost) => `backup:${h.name}`;
const backupSchema = z.string();

export async function joinHosts<A>(ctx: StepContext<A, JoinPin, Ocfs2Deps>): Promise<JoinResult> {
  const pin = ctx.pinned;
  const { config, ssh } = ctx.services;
  const cluster = pinnedCluster(pin.conf, pin.cluster);
  const hosts = pin.targets.map((n) => {
    const h = findHost(config, n);
    if (!h) throw new AppError(Ocfs2ErrorCode.changedSincePlan, `${n} left the inventory after the plan`);
    return h;
  });
  for (const h of hosts) ctx.progress.host(h.name, 'pending');
  const results = await fanout(
    hosts,
    async (h): Promise<JoinResult['hosts'][string]> => {
      const saved = await ctx.checkpoint.get(joinedKey(h), hostJoinedSchema);
      if (saved) {
        ctx.progress.host(h.name, 'ok', `node ${saved.node} (earlier run)`);
        return { ...saved, earlier: true };
      }
      const signal = ctx.signal;
      const t = targetOf(h);
      ctx.progress.host(h.name, 'running', 'checking');
      const s = await inspectNode(ctx.deps.registration, ssh, h, signal);
      const st = standingOf(cluster, pin.conf, pin.timeouts, h, s, pin.source);
      if (st.kind === 'not-listed' || st.kind === 'blocked') {
        throw new AppError(
          st.kind === 'blocked' ? Ocfs2ErrorCode.clusterOnline : Ocfs2ErrorCode.nodeNotListed,
          `${h.name}: ${st.kind}`,
          { userMessage: userMessageOf(st.reason) },
        );
      }
      ctx.progress.host(h.name, 'running', 'writing cluster.conf');
      const conf = await installConf(ssh, t, pin.conf, signal);
      // A backup written by an interrupted earlier run is remembered so the result can name it.
      if (conf.backup) await ctx.checkpoint.set(backupKey(h), backupSchema, conf.backup);
      await installSettings(ssh, t, s.settingsPath, pin.cluster, pin.timeouts, signal);
      ctx.progress.host(h.name, 'running', 'bringing o2cb online');
      await bringOnline(ssh, t, pin.cluster, signal);
      await verifyHost(ssh, t, pin, signal);
      const done: HostJoined = {
        node: st.node.number,
        backup: conf.backup ?? (await ctx.checkpoint.get(backupKey(h), backupSchema)) ?? null,
      };
      await ctx.checkpoint.set(joinedKey(h), hostJoinedSchema, done);
      ctx.progress.host(h.name, 'ok', `node ${done.node}, online`);
      return done;
    },
    { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
  );
  const hostsDone = settleHosts(results, ctx, 'Joining', 'joined');
  return { hosts: hostsDone };
}
