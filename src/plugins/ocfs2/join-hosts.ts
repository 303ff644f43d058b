/**
 * The run of `ocfs2 join`: each target Host, in parallel, is checked again (listed by its hostname, IP, o2cb
 * not online with another configuration), gets the pinned cluster.conf byte for byte and the o2cb settings,
 * comes online and is read back. A Host that finished has a per-Host checkpoint, so a resumed job (crash,
 * automatic retry, `/flexvdi retry`) skips it; a Host interrupted half way runs its idempotent operations
 * again (an identical write changes nothing and makes no backup). When some Hosts fail, the others still
 * finish, then the step fails naming them — retryable by the engine only if every failure is transient.
 */
import type { StepContext } from '../../core/plugin.js';
import { AppError, isRetryableCode } from '../../errors.js';
import { servicesOf, targetOf } from '../../services.js';
import { fanout } from '../../ssh/index.js';
import { modelOf } from './cluster-conf.js';
import { Ocfs2ErrorCode } from './errors.js';
import { bringOnline, inspectHost, installConf, installSettings, verifyHost } from './host-ops.js';
import { standingOf } from './membership.js';
import type { O2cbTimeouts } from './o2cb-settings.js';

export interface JoinPin {
  source: string;
  conf: string;
  cluster: string;
  timeouts: O2cbTimeouts;
  targets: string[];
}

export interface HostJoined {
  node: number;
  backup: string | null;
  /** Finished by an earlier run of this job. */
  earlier?: boolean;
}

export interface JoinResult {
  hosts: Record<string, HostJoined>;
}

export async function joinHosts(ctx: StepContext<unknown>, pin: JoinPin): Promise<JoinResult> {
  const { ssh } = servicesOf(ctx.services.extra);
  const config = ctx.services.config;
  const cluster = modelOf(pin.conf, pin.cluster).model!;
  const hosts = pin.targets.map((n) => {
    const h = config.inventory.hosts.find((x) => x.name === n);
    if (!h) throw new AppError(Ocfs2ErrorCode.changedSincePlan, `${n} left the inventory after the plan`);
    return h;
  });
  for (const h of hosts) ctx.progress.host(h.name, 'pending');
  const results = await fanout(
    hosts.map(targetOf),
    async (t, signal): Promise<HostJoined> => {
      const saved = await ctx.checkpoint.get<HostJoined>(`joined:${t.name}`);
      if (saved) {
        ctx.progress.host(t.name, 'ok', `node ${saved.node} (earlier run)`);
        return { ...saved, earlier: true };
      }
      const h = hosts.find((x) => x.name === t.name)!;
      ctx.progress.host(t.name, 'running', 'checking');
      const s = await inspectHost(ssh, t, signal);
      const st = standingOf(cluster, pin.conf, pin.timeouts, h, s, pin.source);
      if (st.kind === 'not-listed' || st.kind === 'blocked') {
        throw new AppError(
          st.kind === 'blocked' ? Ocfs2ErrorCode.clusterOnline : Ocfs2ErrorCode.nodeNotListed,
          `${t.name}: ${st.kind}`,
          { userMessage: st.reason },
        );
      }
      ctx.progress.host(t.name, 'running', 'writing cluster.conf');
      const conf = await installConf(ssh, t, pin.conf, signal);
      // A backup written by an interrupted earlier run is remembered so the result can name it.
      if (conf.backup) await ctx.checkpoint.set(`backup:${t.name}`, conf.backup);
      await installSettings(ssh, t, s.settingsPath, pin.cluster, pin.timeouts, signal);
      ctx.progress.host(t.name, 'running', 'bringing o2cb online');
      await bringOnline(ssh, t, pin.cluster, signal);
      await verifyHost(ssh, t, pin, signal);
      const done: HostJoined = {
        node: st.node.number,
        backup: conf.backup ?? (await ctx.checkpoint.get<string>(`backup:${t.name}`)) ?? null,
      };
      await ctx.checkpoint.set(`joined:${t.name}`, done);
      ctx.progress.host(t.name, 'ok', `node ${done.node}, online`);
      return done;
    },
    { concurrency: config.inventory.ssh.concurrency, signal: ctx.signal },
  );
  const out: JoinResult = { hosts: {} };
  const failed = new Map<string, AppError>();
  for (const r of results) {
    if (r.ok) out.hosts[r.target.name] = r.value;
    else {
      failed.set(r.target.name, r.error);
      ctx.progress.host(r.target.name, 'failed', r.error.userMessage.slice(0, 200));
    }
  }
  if (failed.size) {
    const all = [...failed.values()];
    const code = all.every((e) => isRetryableCode(e.code)) ? all[0]!.code : Ocfs2ErrorCode.incomplete;
    const done = Object.keys(out.hosts);
    throw new AppError(code, `join failed on ${[...failed.keys()].join(', ')}`, {
      userMessage:
        `Joining failed on ${[...failed.entries()].map(([n, e]) => `${n} (${e.userMessage})`).join('; ')}. ` +
        `${done.length ? `${done.join(', ')} joined. ` : ''}Fix the Host${failed.size === 1 ? '' : 's'} named, then \`/flexvdi retry ${ctx.jobId}\` finishes only what is missing.`,
    });
  }
  return out;
}
