/**
 * Which Hosts are nodes. The registration plugin decides what "registered" means (`deps.registration
 * .registeredHosts`): the inventory Hosts the Manager lists, or the inventory when the Manager does not
 * answer (the plan says so). A node is named after the first label of the Host's FQDN — flexVDI Hosts carry
 * their domain name, and the kernel matches a node name against the hostname or its part before the first '.'.
 */
import type { InventoryHost } from '../../config.js';
import { type Md, md } from '../../core/text.js';
import type { Reservation } from './args.js';
import { type ClusterModel, type ClusterNode, DEFAULT_PORT } from './cluster-conf.js';

export const nodeNameOf = (h: InventoryHost): string => h.fqdn.split('.')[0]!;

export interface PlannedNode extends ClusterNode {
  role: 'first' | 'member' | 'reserved';
  /** The inventory Host, when the node is one. */
  host?: string;
}

/** First node 0, the other Hosts 1… in inventory order, reserved slots after them. */
export function planNodes(
  first: InventoryHost,
  others: readonly InventoryHost[],
  reserved: readonly Reservation[],
): PlannedNode[] {
  const hosts = [first, ...others.filter((h) => h.name !== first.name)];
  return [
    ...hosts.map((h, i) => ({
      number: i,
      name: nodeNameOf(h),
      ip: h.ip,
      port: DEFAULT_PORT,
      role: i === 0 ? ('first' as const) : ('member' as const),
      host: h.name,
    })),
    ...reserved.map((r, i) => ({
      number: hosts.length + i,
      name: r.name,
      ip: r.ip,
      port: DEFAULT_PORT,
      role: 'reserved' as const,
    })),
  ];
}

/**
 * Reserved slots that could never be taken: the name is an inventory Host's with another IP, or the IP is
 * another inventory Host's.
 */
export function reservationProblems(
  inventory: readonly InventoryHost[],
  reserved: readonly Reservation[],
): Md[] {
  const out: Md[] = [];
  for (const r of reserved) {
    const short = r.name.toLowerCase().split('.')[0]!;
    const byName = inventory.find((h) => nodeNameOf(h).toLowerCase() === short);
    const byIp = inventory.find((h) => h.ip === r.ip);
    if (byName && byName.ip !== r.ip)
      out.push(
        md`reserved \`${r.name}\` has IP ${r.ip}, but the inventory has ${byName.name} at ${byName.ip}`,
      );
    else if (byIp && nodeNameOf(byIp).toLowerCase() !== short)
      out.push(md`reserved \`${r.name}\`: ${r.ip} is ${byIp.name}'s address in the inventory`);
  }
  return out;
}

/** The cluster of planned nodes (local heartbeat: global mode needs disk regions, the storage step's job). */
export const clusterOf = (name: string, nodes: readonly ClusterNode[]): ClusterModel => ({
  name,
  heartbeatMode: 'local',
  nodes: nodes.map(({ number, name: n, ip, port }) => ({ number, name: n, ip, port })),
  regions: [],
});

/** A valid OCFS2 cluster name from the inventory's cluster name (letters and digits, at most 16). */
export function defaultClusterName(inventoryName: string): string {
  return inventoryName.replace(/[^0-9A-Za-z]/g, '').slice(0, 16) || 'flexvdi';
}
