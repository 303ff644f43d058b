/**
 * The cluster summary — the plan an admin confirms before first-node writes anything: cluster name,
 * heartbeat mode, max nodes, every node (number, name, IP, port, role) and the o2cb timeouts. Lines are
 * `Md`, one per node, so a 64-node (or 255-node) cluster splits into sections that fit Block Kit; with it,
 * the diff against a Host's current cluster.conf and the Edit modal.
 */
import type { InventoryHost } from '../../config.js';
import type { PlanEdit, Section } from '../../core/plugin.js';
import { type Md, md, text } from '../../core/text.js';
import type { Reservation } from './args.js';
import { CLUSTER_CONF, type ClusterModel, diffLines, MAX_NODES } from './cluster-conf.js';
import type { PlannedNode } from './nodes.js';
import { describeTimeouts, type O2cbTimeouts } from './o2cb-settings.js';

const ROLE: Record<PlannedNode['role'], Md> = {
  first: md` — first node`,
  member: md``,
  reserved: md` — _reserved_`,
};

export function nodeLines(nodes: readonly PlannedNode[]): Md[] {
  return nodes.map(
    (n) =>
      md`• \`${String(n.number).padStart(3)}\` *${n.name}* ${n.ip}:${n.port}${ROLE[n.role]}${n.host && n.host !== n.name ? md` (inventory ${n.host})` : md``}`,
  );
}

export interface SummaryInput {
  cluster: ClusterModel;
  nodes: readonly PlannedNode[];
  maxNodes: number;
  timeouts: O2cbTimeouts;
  settingsPath: string;
  /** Where the node list came from (the registration plugin's note). */
  source: Md;
  confSha: string;
}

export function summarySections(s: SummaryInput): Section[] {
  const reserved = s.nodes.filter((n) => n.role === 'reserved').length;
  const free = s.maxNodes - s.nodes.length;
  return [
    {
      title: md`Cluster`,
      lines: [
        md`• Name: \`${s.cluster.name}\` · heartbeat mode: ${s.cluster.heartbeatMode}`,
        md`• Max nodes: ${s.maxNodes} — ${s.nodes.length - reserved} listed, ${reserved} reserved, ${free} more without a name yet`,
        md`• Nodes from ${s.source}`,
        md`• \`${CLUSTER_CONF}\`: ${s.nodes.length} node stanzas, sha256 \`${s.confSha.slice(0, 12)}\``,
      ],
    },
    { title: md`Nodes (${s.nodes.length})`, lines: nodeLines(s.nodes) },
    {
      title: md`O2CB timeouts (identical on every node)`,
      lines: [
        md`• ${describeTimeouts(s.timeouts)}`,
        md`• Written to \`${s.settingsPath}\`, o2cb enabled at boot`,
      ],
    },
  ];
}

/** Advice when the cluster has no room to grow without the offline procedure. */
export function headroomAdvice(count: number, maxNodes: number): Md | undefined {
  if (maxNodes > count) return undefined;
  const more = Math.min(MAX_NODES, Math.max(count + 2, Math.ceil(count * 1.5)));
  return md`No headroom: max nodes (${maxNodes}) equals the nodes listed. A Host added later needs the offline procedure (every node offline, cluster.conf rewritten), and a volume needs a node slot per Host. Consider \`--max-nodes ${more}\` and \`--reserve name=ip\` for the Hosts you plan (Edit).`;
}

/** Why adding a node that is not in cluster.conf cannot be done from here, and what to do instead. */
export function offlineProcedure(firstNode: string | undefined): Md {
  return md`OCFS2 in local heartbeat mode only takes new nodes offline: unmount the OCFS2 volumes and \`service o2cb offline\` on every node; run \`/flexvdi ocfs2 first-node ${firstNode ?? '<first-node>'} --force --reserve ${'<name>=<ip>'}\` with the new node (keep the existing ones); \`/flexvdi ocfs2 join --all\`; then mount the volumes again (each volume needs a free node slot: \`tunefs.ocfs2 -N\`). Declaring the maximum and reserving IPs when the cluster is created avoids this.`;
}

/** The Host's current cluster.conf against the planned one, as a code block. */
export function diffSection(h: Pick<InventoryHost, 'name'>, current: string, planned: string): Section {
  return {
    title: md`Changes to ${h.name}'s current ${CLUSTER_CONF}`,
    lines: [md`\`\`\``, ...diffLines(current, planned).map(text), md`\`\`\``],
  };
}

export function editOf(name: string, maxNodes: number, reserved: readonly Reservation[]): PlanEdit {
  return {
    title: 'Edit the OCFS2 cluster',
    fields: [
      {
        name: 'maxNodes',
        label: 'Max nodes',
        value: String(maxNodes),
        kind: 'number',
        hint: 'Nodes the cluster may ever have (1–255). Leave room: adding an unplanned node needs the cluster offline.',
      },
      {
        name: 'clusterName',
        label: 'Cluster name',
        value: name,
        hint: '1–16 letters or digits.',
      },
      {
        name: 'reserve',
        label: 'Reserved nodes',
        value: reserved.map((r) => `${r.name}=${r.ip}`).join('\n'),
        kind: 'list',
        optional: true,
        hint: 'One name=ip per line: Hosts you plan to add. Each joins later without touching the other nodes.',
      },
    ],
  };
}
