/**
 * `/flexvdi ocfs2 status`: per Host — listed in the cluster (node name matches its hostname, IP matches),
 * cluster.conf checksum equal to the first node's, o2cb state, timeouts equal to the first node's, o2cb
 * enabled at boot — and everything that drifted called out with what to do. Read-only; unreachable Hosts are
 * reported, not fatal. The reference is the first node: node 0 of the cluster.conf most Hosts have (or the
 * lowest-numbered node that answers), as `ocfs2 first-node` makes its Host node 0.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { defineCommand } from '../../../core/plugin.js';
import { servicesOf, targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { type ClusterModel, modelOf, nodeForHostname, sha256 } from '../cluster-conf.js';
import { type HostOcfs2, inspectHost } from '../host-ops.js';
import { rejoinCommandFor } from '../membership.js';
import {
  describeTimeouts,
  type O2cbTimeouts,
  sameTimeouts,
  settingsStateOf,
  timeoutsOf,
} from '../o2cb-settings.js';

export interface HostStatus {
  host: string;
  reachable: boolean;
  error?: string;
  state?: HostOcfs2;
}

interface Reference {
  host: string;
  conf: string;
  sha: string;
  cluster: ClusterModel;
  timeouts: O2cbTimeouts;
}

/** The first node's view, or undefined when no Host has a cluster.conf. */
export function referenceOf(seen: readonly HostStatus[]): Reference | undefined {
  const groups = new Map<string, HostStatus[]>();
  for (const s of seen) {
    if (s.state?.conf == null) continue;
    const k = sha256(s.state.conf);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const [sha, members] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (!sha || !members) return undefined;
  const conf = members[0]!.state!.conf!;
  const cluster = modelOf(conf).model;
  if (!cluster) return undefined;
  const numbered = members
    .map((m) => ({ m, node: nodeForHostname(cluster, m.state!.hostname) }))
    .filter((x) => x.node)
    .sort((a, b) => a.node!.number - b.node!.number);
  const first = numbered[0]?.m ?? members[0]!;
  return { host: first.host, conf, sha, cluster, timeouts: timeoutsOf(first.state!.settings) };
}

/** One line per Host and the drift found on it. */
export function statusLines(
  hosts: readonly InventoryHost[],
  seen: readonly HostStatus[],
  ref: Reference | undefined,
): { lines: string[]; drift: string[] } {
  const lines: string[] = [];
  const drift: string[] = [];
  for (const s of seen) {
    const h = hosts.find((x) => x.name === s.host)!;
    if (!s.reachable || !s.state) {
      lines.push(`• *${s.host}*: unreachable — ${s.error}`);
      continue;
    }
    const st = s.state;
    const problems: string[] = [];
    const node = ref ? nodeForHostname(ref.cluster, st.hostname) : undefined;
    const listed = node && node.ip === h.ip ? node : undefined;
    const sha = st.conf === null ? null : sha256(st.conf);
    const settings = settingsStateOf(st.settings);
    const timeouts = timeoutsOf(st.settings);
    if (ref) {
      if (!node && st.conf !== null) problems.push('has a cluster.conf but is not a node of the cluster');
      if (node && node.ip !== h.ip)
        problems.push(`node \`${node.name}\` is at ${node.ip}, the Host at ${h.ip}`);
      if (listed && sha === null) problems.push(`no cluster.conf — rejoin: \`${rejoinCommandFor(h)}\``);
      if (sha !== null && sha !== ref.sha) problems.push(`cluster.conf differs from ${ref.host}'s`);
      if (listed && st.online !== ref.cluster.name)
        problems.push(st.online ? `o2cb online for another cluster \`${st.online}\`` : 'o2cb offline');
      if (listed && !sameTimeouts(timeouts, ref.timeouts))
        problems.push(`o2cb timeouts differ from ${ref.host}'s (${describeTimeouts(timeouts)})`);
      if (listed && (!settings.enabled || settings.bootCluster !== ref.cluster.name))
        problems.push(`o2cb not enabled at boot for \`${ref.cluster.name}\``);
    }
    const facts = [
      listed ? `node ${listed.number}${s.host === ref?.host ? ' (first node)' : ''}` : 'not listed',
      sha ? `conf \`${sha.slice(0, 12)}\`` : 'no cluster.conf',
      st.online ? `online (${st.online})` : 'offline',
    ];
    lines.push(
      `• ${problems.length ? ':warning: ' : ''}*${s.host}*: ${facts.join(' · ')}${problems.length ? ` — ${problems.join('; ')}` : ''}`,
    );
    for (const p of problems) drift.push(`${s.host}: ${p}`);
  }
  return { lines, drift };
}

export const ocfs2StatusCommand = defineCommand({
  id: 'ocfs2 status',
  summary:
    'OCFS2 on every Host: listed, cluster.conf identical to the first node, o2cb online, timeouts equal',
  examples: ['/flexvdi ocfs2 status'],
  args: z.object({}).strict(),
  positionals: [],
  mutates: false,
  access: 'anyone',
  plan: () => ({ summary: 'Read the OCFS2 configuration of every Host', sections: [], warnings: [] }),
  steps: [
    {
      id: 'read',
      title: 'Read cluster.conf, o2cb settings and o2cb state on every Host',
      run: async (ctx): Promise<HostStatus[]> => {
        const { ssh } = servicesOf(ctx.services.extra);
        const inv = ctx.services.config.inventory;
        const results = await fanout(
          inv.hosts.map(targetOf),
          async (t, signal) => {
            ctx.progress.host(t.name, 'running');
            const s = await inspectHost(ssh, t, signal);
            ctx.progress.host(t.name, 'ok');
            return s;
          },
          { concurrency: inv.ssh.concurrency, signal: ctx.signal },
        );
        return results.map((r) => {
          if (r.ok) return { host: r.target.name, reachable: true, state: r.value };
          ctx.progress.host(r.target.name, 'failed', r.error.code);
          return { host: r.target.name, reachable: false, error: r.error.userMessage };
        });
      },
    },
  ],
  result: (ctx) => {
    const hosts = ctx.services.config.inventory.hosts;
    const seen = (ctx.results['read'] ?? []) as HostStatus[];
    const ref = referenceOf(seen);
    const { lines, drift } = statusLines(hosts, seen, ref);
    if (!ref) return { summary: 'No Host has an OCFS2 cluster.conf yet', sections: [{ lines }] };
    const members = seen.filter((s) => s.state && nodeForHostname(ref.cluster, s.state.hostname));
    const unreachable = seen.filter((s) => !s.reachable).map((s) => s.host);
    const unclaimed = ref.cluster.nodes.filter(
      (n) => !hosts.some((h) => nodeForHostname({ ...ref.cluster, nodes: [n] }, h.fqdn) && h.ip === n.ip),
    );
    return {
      summary: drift.length
        ? `:warning: OCFS2 cluster \`${ref.cluster.name}\`: drift on ${new Set(drift.map((d) => d.split(':')[0])).size} Host(s)`
        : `OCFS2 cluster \`${ref.cluster.name}\`: ${members.length} node(s) in sync with ${ref.host}, online, same timeouts${unreachable.length ? ` (unreachable: ${unreachable.join(', ')})` : ''}`,
      sections: [
        { lines },
        {
          title: 'Reference',
          lines: [
            `• First node ${ref.host}: cluster.conf \`${ref.sha.slice(0, 12)}\`, ${ref.cluster.nodes.length} nodes, heartbeat ${ref.cluster.heartbeatMode}`,
            `• O2CB timeouts: ${describeTimeouts(ref.timeouts)}`,
            ...(unclaimed.length
              ? [
                  `• Reserved for Hosts not in the inventory yet: ${unclaimed.map((n) => `${n.name} (${n.ip})`).join(', ')}`,
                ]
              : []),
          ],
        },
        ...(drift.length ? [{ title: 'Drift', lines: drift.map((d) => `• ${d}`) }] : []),
      ],
    };
  },
});
