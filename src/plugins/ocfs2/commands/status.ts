/**
 * `/flexvdi ocfs2 status`: per Host — listed in the cluster (node name matches its hostname, IP matches),
 * cluster.conf checksum equal to the first node's, o2cb state, timeouts equal to the first node's, o2cb
 * enabled at boot — and everything that drifted called out with what to do. Read-only; unreachable Hosts are
 * reported, not fatal, but the command then ends "with findings", as it does when anything drifted: only a
 * cluster seen whole and in sync ends completed. The reference is the first node: node 0 of the
 * cluster.conf most Hosts have (or the lowest-numbered node that answers), as `ocfs2 first-node` makes its
 * Host node 0.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { NO_PINS, type PluginServices, type Section, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { fanout } from '../../../ssh/index.js';
import type { Ocfs2Overview } from '../api.js';
import { type ClusterModel, modelOf, nodeForHostname, sha256 } from '../cluster-conf.js';
import { command, type Ocfs2Deps, step } from '../define.js';
import { type HostOcfs2, hostOcfs2Schema, inspectNode } from '../host-ops.js';
import { nodeOfHost, rejoinCommandFor } from '../membership.js';
import {
  describeTimeouts,
  type O2cbTimeouts,
  sameTimeouts,
  settingsStateOf,
  timeoutsOf,
} from '../o2cb-settings.js';

const hostStatusSchema = z.discriminatedUnion('reachable', [
  z.object({ host: z.string(), reachable: z.literal(true), state: hostOcfs2Schema }),
  z.object({ host: z.string(), reachable: z.literal(false), error: z.string() }),
]);
export type HostStatus = z.output<typeof hostStatusSchema>;
type Seen = { host: string; state: HostOcfs2 };

interface Reference {
  host: string;
  conf: string;
  sha: string;
  cluster: ClusterModel;
  /** What is wrong with the reference file itself (empty: a valid cluster). */
  problems: Md[];
  timeouts: O2cbTimeouts;
}

const seenOf = (seen: readonly HostStatus[]): Seen[] =>
  seen.flatMap((s) => (s.reachable ? [{ host: s.host, state: s.state }] : []));

/** The first node's view, or undefined when no Host has a cluster.conf that names a cluster. */
export function referenceOf(seen: readonly HostStatus[]): Reference | undefined {
  const groups = new Map<string, Seen[]>();
  for (const s of seenOf(seen)) {
    if (s.state.conf === null) continue;
    const k = sha256(s.state.conf);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const [sha, members] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  const conf = members?.[0]?.state.conf;
  if (!sha || !members || !conf) return undefined;
  const { model: cluster, problems } = modelOf(conf);
  if (!cluster) return undefined;
  const numbered = members
    .flatMap((m) => {
      const node = nodeForHostname(cluster, m.state.hostname);
      return node ? [{ m, number: node.number }] : [];
    })
    .sort((a, b) => a.number - b.number);
  const first = numbered[0]?.m ?? members[0];
  if (!first) return undefined;
  return { host: first.host, conf, sha, cluster, problems, timeouts: timeoutsOf(first.state.settings) };
}

export interface Drift {
  host: string;
  problem: Md;
}

/** One line per Host and the drift found on it. */
export function statusLines(
  hosts: readonly InventoryHost[],
  seen: readonly HostStatus[],
  ref: Reference | undefined,
): { lines: Md[]; drift: Drift[] } {
  const lines: Md[] = [];
  const drift: Drift[] = [];
  for (const s of seen) {
    if (!s.reachable) {
      lines.push(md`• *${s.host}*: unreachable — ${prose(s.error)}`);
      continue;
    }
    const h = hosts.find((x) => x.name === s.host);
    const st = s.state;
    const problems: Md[] = [];
    const node = ref ? nodeForHostname(ref.cluster, st.hostname) : undefined;
    const listed = node && node.ip === h?.ip ? node : undefined;
    const sha = st.conf === null ? null : sha256(st.conf);
    const settings = settingsStateOf(st.settings);
    const timeouts = timeoutsOf(st.settings);
    if (ref) {
      if (!node && st.conf !== null) problems.push(md`has a cluster.conf but is not a node of the cluster`);
      if (node && node.ip !== h?.ip)
        problems.push(md`node \`${node.name}\` is at ${node.ip}, the Host at ${h?.ip ?? '?'}`);
      if (listed && sha === null)
        problems.push(md`no cluster.conf — rejoin: \`${rejoinCommandFor({ name: s.host })}\``);
      if (sha !== null && sha !== ref.sha) problems.push(md`cluster.conf differs from ${ref.host}'s`);
      if (listed && st.online !== ref.cluster.name)
        problems.push(st.online ? md`o2cb online for another cluster \`${st.online}\`` : md`o2cb offline`);
      if (listed && !sameTimeouts(timeouts, ref.timeouts))
        problems.push(md`o2cb timeouts differ from ${ref.host}'s (${describeTimeouts(timeouts)})`);
      if (listed && (!settings.enabled || settings.bootCluster !== ref.cluster.name))
        problems.push(md`o2cb not enabled at boot for \`${ref.cluster.name}\``);
    }
    const facts = [
      listed ? md`node ${listed.number}${s.host === ref?.host ? ' (first node)' : ''}` : md`not listed`,
      sha ? md`conf \`${sha.slice(0, 12)}\`` : md`no cluster.conf`,
      st.online ? md`online (${st.online})` : md`offline`,
    ];
    lines.push(
      problems.length
        ? md`• :warning: *${s.host}*: ${joinMd(facts, ' · ')} — ${joinMd(problems, '; ')}`
        : md`• *${s.host}*: ${joinMd(facts, ' · ')}`,
    );
    for (const p of problems) drift.push({ host: s.host, problem: p });
  }
  return { lines, drift };
}

/**
 * Every inventory Host's OCFS2 state, read in parallel (an unreachable Host is reported, not thrown). `onHost`
 * hears each Host start, finish or fail (the status step shows it as progress).
 */
export async function readStatuses(
  services: Pick<PluginServices, 'config' | 'ssh'>,
  registration: Ocfs2Deps['registration'],
  signal: AbortSignal,
  onHost: (host: string, state: 'running' | 'ok' | 'failed', detail?: string) => void = () => {},
): Promise<HostStatus[]> {
  const { config, ssh } = services;
  const results = await fanout(
    config.inventory.hosts,
    async (h) => {
      onHost(h.name, 'running');
      const s = await inspectNode(registration, ssh, h, signal);
      onHost(h.name, 'ok');
      return s;
    },
    { concurrency: config.inventory.ssh.concurrency, signal },
  );
  return results.map((r) => {
    if (r.ok) return { host: r.target.name, reachable: true, state: r.value };
    onHost(r.target.name, 'failed', r.error.code);
    return { host: r.target.name, reachable: false, error: r.error.userMessage };
  });
}

/**
 * The cluster as `ocfs2 status` judges it, per inventory Host: the node it is in the first node's
 * cluster.conf (matched as replace-host matches it: FQDN, first label or inventory name), o2cb's state and the
 * drift `ocfs2 status` calls out. For dependants (the monitor's `status`), through the plugin's API.
 */
export function overviewOf(hosts: readonly InventoryHost[], seen: readonly HostStatus[]): Ocfs2Overview {
  const ref = referenceOf(seen);
  const { drift } = statusLines(hosts, seen, ref);
  return {
    cluster: ref?.cluster.name ?? null,
    firstNode: ref?.host ?? null,
    nodeCount: ref?.cluster.nodes.length ?? null,
    hosts: hosts.map((h) => {
      const s = seen.find((x) => x.host === h.name);
      const node = ref ? (nodeOfHost(ref.cluster, h) ?? null) : null;
      return {
        host: h.name,
        reachable: s?.reachable ?? false,
        error: s && !s.reachable ? s.error : s ? null : 'not read',
        node: node && { number: node.number, name: node.name },
        online: s?.reachable ? s.state.online : null,
        drift: drift.filter((d) => d.host === h.name).map((d) => d.problem),
      };
    }),
  };
}

const args = z.object({}).strict();
type Ctx = StepContext<z.output<typeof args>, null, Ocfs2Deps>;

const read = step({
  id: 'read',
  title: 'Read cluster.conf, o2cb settings and o2cb state on every Host',
  output: z.array(hostStatusSchema),
  run: async (ctx: Ctx): Promise<HostStatus[]> => {
    const seen = await readStatuses(ctx.services, ctx.deps.registration, ctx.signal, (h, state, detail) =>
      ctx.progress.host(h, state, detail),
    );
    const unreachable = seen.filter((r) => !r.reachable).map((r) => r.host);
    if (unreachable.length) ctx.finding(`could not read ${unreachable.join(', ')}`);
    return seen;
  },
});

export const ocfs2StatusCommand = command({
  id: 'ocfs2 status',
  summary:
    'OCFS2 on every Host: listed, cluster.conf identical to the first node, o2cb online, timeouts equal',
  examples: ['/flexvdi ocfs2 status'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({ summary: md`Read the OCFS2 configuration of every Host`, sections: [], warnings: [] }),
  steps: [read],
  result: (ctx) => {
    const hosts = ctx.services.config.inventory.hosts;
    const seen = ctx.result(read);
    const ref = referenceOf(seen);
    const { lines, drift } = statusLines(hosts, seen, ref);
    const unreachable = seen.filter((s) => !s.reachable).map((s) => s.host);
    const down = unreachable.length ? md` (unreachable: ${unreachable.join(', ')})` : md``;
    if (!ref) {
      // A file that names no cluster is a finding too, not "no cluster yet".
      const unreadable = seenOf(seen).filter((s) => s.state.conf !== null);
      return {
        summary: unreadable.length
          ? md`${unreadable.map((s) => s.host).join(', ')} ${unreadable.length === 1 ? 'has' : 'have'} a cluster.conf that names no OCFS2 cluster${down}`
          : md`No Host has an OCFS2 cluster.conf yet${down}`,
        sections: [{ lines }],
        outcome: unreadable.length || unreachable.length ? 'findings' : 'completed',
      };
    }
    const members = seenOf(seen).filter((s) => nodeForHostname(ref.cluster, s.state.hostname));
    const unclaimed = ref.cluster.nodes.filter(
      (n) => !hosts.some((h) => nodeForHostname({ ...ref.cluster, nodes: [n] }, h.fqdn) && h.ip === n.ip),
    );
    const drifted = new Set(drift.map((d) => d.host)).size;
    const sections: Section[] = [
      { lines },
      {
        title: md`Reference`,
        lines: [
          md`• First node ${ref.host}: cluster.conf \`${ref.sha.slice(0, 12)}\`, ${ref.cluster.nodes.length} nodes, heartbeat ${ref.cluster.heartbeatMode}`,
          md`• O2CB timeouts: ${describeTimeouts(ref.timeouts)}`,
          ...(unclaimed.length
            ? [
                md`• Reserved for Hosts not in the inventory yet: ${unclaimed.map((n) => `${n.name} (${n.ip})`).join(', ')}`,
              ]
            : []),
        ],
      },
      ...(ref.problems.length
        ? [{ title: md`Problems in ${ref.host}'s cluster.conf`, lines: ref.problems.map((p) => md`• ${p}`) }]
        : []),
      ...(drift.length ? [{ title: md`Drift`, lines: drift.map((d) => md`• ${d.host}: ${d.problem}`) }] : []),
    ];
    const findings = drift.length > 0 || unreachable.length > 0 || ref.problems.length > 0;
    return {
      summary: drift.length
        ? md`:warning: OCFS2 cluster \`${ref.cluster.name}\`: drift on ${drifted} Host(s)${down}`
        : ref.problems.length
          ? md`:warning: OCFS2 cluster \`${ref.cluster.name}\`: ${ref.host}'s cluster.conf is not valid (${ref.problems.length} problem(s))${down}`
          : md`OCFS2 cluster \`${ref.cluster.name}\`: ${members.length} node(s) in sync with ${ref.host}, online, same timeouts${down}`,
      sections,
      outcome: findings ? 'findings' : 'completed',
    };
  },
});
