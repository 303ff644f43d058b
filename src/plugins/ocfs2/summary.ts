/**
 * The cluster summary — the plan an admin confirms before first-node writes anything: cluster name,
 * heartbeat mode, max nodes, every node (number, name, IP, port, role) and the o2cb timeouts. Lines are
 * Slack mrkdwn, one per node, so a 64-node (or 255-node) cluster splits into sections that fit Block Kit.
 */
import type { PlanSection } from '../../core/plugin.js';
import { escapeMrkdwn } from '../../slack/blocks.js';
import { CLUSTER_CONF, type ClusterModel, MAX_NODES } from './cluster-conf.js';
import type { PlannedNode } from './nodes.js';
import { describeTimeouts, type O2cbTimeouts } from './o2cb-settings.js';

const ROLE: Record<PlannedNode['role'], string> = {
  first: ' — first node',
  member: '',
  reserved: ' — _reserved_',
};

export function nodeLines(nodes: readonly PlannedNode[]): string[] {
  return nodes.map(
    (n) =>
      `• \`${String(n.number).padStart(3)}\` *${escapeMrkdwn(n.name)}* ${n.ip}:${n.port}${ROLE[n.role]}${n.host && n.host !== n.name ? ` (inventory ${n.host})` : ''}`,
  );
}

export interface SummaryInput {
  cluster: ClusterModel;
  nodes: readonly PlannedNode[];
  maxNodes: number;
  timeouts: O2cbTimeouts;
  settingsPath: string;
  source: string;
  confSha: string;
}

export function summarySections(s: SummaryInput): PlanSection[] {
  const reserved = s.nodes.filter((n) => n.role === 'reserved').length;
  const free = s.maxNodes - s.nodes.length;
  return [
    {
      title: 'Cluster',
      lines: [
        `• Name: \`${s.cluster.name}\` · heartbeat mode: ${s.cluster.heartbeatMode}`,
        `• Max nodes: ${s.maxNodes} — ${s.nodes.length - reserved} listed, ${reserved} reserved, ${free} more without a name yet`,
        `• Nodes from ${s.source}`,
        `• \`${CLUSTER_CONF}\`: ${s.nodes.length} node stanzas, sha256 \`${s.confSha.slice(0, 12)}\``,
      ],
    },
    { title: `Nodes (${s.nodes.length})`, lines: nodeLines(s.nodes) },
    {
      title: 'O2CB timeouts (identical on every node)',
      lines: [
        `• ${describeTimeouts(s.timeouts)}`,
        `• Written to \`${s.settingsPath}\`, o2cb enabled at boot`,
      ],
    },
  ];
}

/** Advice when the cluster has no room to grow without the offline procedure. */
export function headroomAdvice(count: number, maxNodes: number): string | undefined {
  if (maxNodes > count) return undefined;
  const more = Math.min(MAX_NODES, Math.max(count + 2, Math.ceil(count * 1.5)));
  return (
    `No headroom: max nodes (${maxNodes}) equals the nodes listed. A Host added later needs the offline ` +
    `procedure (every node offline, cluster.conf rewritten), and a volume needs a node slot per Host. ` +
    `Consider \`--max-nodes ${more}\` and \`--reserve name=ip\` for the Hosts you plan (Edit).`
  );
}

/** Why adding a node that is not in cluster.conf cannot be done from here, and what to do instead. */
export function offlineProcedure(firstNode: string | undefined): string {
  return (
    'OCFS2 in local heartbeat mode only takes new nodes offline: unmount the OCFS2 volumes and ' +
    '`service o2cb offline` on every node; run `/flexvdi ocfs2 first-node ' +
    `${firstNode ?? '<first-node>'} --force --reserve <name>=<ip>\` with the new node (keep the existing ones); ` +
    '`/flexvdi ocfs2 join --all`; then mount the volumes again (each volume needs a free node slot: ' +
    '`tunefs.ocfs2 -N`). Declaring the maximum and reserving IPs when the cluster is created avoids this.'
  );
}
