/**
 * Where a Host stands against the cluster's configuration: listed or not (and why not), blocked by o2cb
 * running another configuration, already in sync, or ready to join. Used by `ocfs2 join` (plan and run),
 * `ocfs2 status`, and offered to replace-host for the rejoin of a replacement.
 */
import type { Config, InventoryHost } from '../../config.js';
import { targetOf } from '../../services.js';
import type { SshPool } from '../../ssh/index.js';
import {
  CLUSTER_CONF,
  type ClusterModel,
  type ClusterNode,
  modelOf,
  nodeForHostname,
} from './cluster-conf.js';
import type { HostOcfs2 } from './host-ops.js';
import { nodeNameOf } from './nodes.js';
import { type O2cbTimeouts, sameTimeouts, settingsStateOf, timeoutsOf } from './o2cb-settings.js';
import { offlineProcedure } from './summary.js';

export type Standing =
  | { kind: 'not-listed'; reason: string }
  | { kind: 'blocked'; node: ClusterNode; reason: string }
  | { kind: 'in-sync'; node: ClusterNode }
  | { kind: 'join'; node: ClusterNode; note: string };

/** The node whose name is `hostname`'s (kernel rule), checked against the Host's addresses. */
export function standingOf(
  cluster: ClusterModel,
  conf: string,
  timeouts: O2cbTimeouts,
  host: InventoryHost,
  s: HostOcfs2,
  firstNode?: string,
): Standing {
  const node = nodeForHostname(cluster, s.hostname);
  if (!node) {
    const byIp = cluster.nodes.find((n) => n.ip === host.ip);
    const why = byIp
      ? `node ${byIp.number} has ${host.name}'s IP ${host.ip} but is named \`${byIp.name}\`, and the hostname is \`${s.hostname}\``
      : `no node of cluster \`${cluster.name}\` is named \`${s.hostname.split('.')[0]}\` (${host.name}'s hostname is \`${s.hostname}\`) and none has its IP ${host.ip}`;
    return {
      kind: 'not-listed',
      reason: `${host.name} is not a node: ${why}. ${offlineProcedure(firstNode)}`,
    };
  }
  if (node.ip !== host.ip || !s.addresses.includes(node.ip)) {
    return {
      kind: 'not-listed',
      reason:
        `node ${node.number} \`${node.name}\` is reserved for ${node.ip}, but ${host.name} is at ${host.ip}` +
        `${s.addresses.includes(node.ip) ? '' : ` (its addresses: ${s.addresses.join(', ') || 'none'})`}. ` +
        `Give the Host the reserved IP (and the inventory), or change the cluster: ${offlineProcedure(firstNode)}`,
    };
  }
  const differs = s.conf !== null && s.conf !== conf;
  if (s.online && s.online !== cluster.name)
    return {
      kind: 'blocked',
      node,
      reason: `o2cb is online for another cluster (\`${s.online}\`): unmount its OCFS2 volumes and run \`service o2cb offline\` on ${host.name} first`,
    };
  if (s.online && differs)
    return {
      kind: 'blocked',
      node,
      reason: `o2cb is online with a different ${CLUSTER_CONF}: unmount its OCFS2 volumes and run \`service o2cb offline\` on ${host.name} first`,
    };
  const st = settingsStateOf(s.settings);
  const settingsOk =
    st.enabled && st.bootCluster === cluster.name && sameTimeouts(timeoutsOf(s.settings), timeouts);
  if (!differs && s.conf !== null && s.online === cluster.name && settingsOk)
    return { kind: 'in-sync', node };
  const notes = [
    s.conf === null
      ? 'no cluster.conf yet'
      : differs
        ? 'replaces a different cluster.conf (backup kept)'
        : 'cluster.conf in place',
    settingsOk ? '' : 'o2cb settings to update',
    s.online ? '' : 'o2cb to bring online',
  ].filter(Boolean);
  return { kind: 'join', node, note: notes.join(', ') };
}

export interface Ocfs2Membership {
  cluster: string;
  node: ClusterNode;
  /** The Host whose cluster.conf was read. */
  source: string;
  /** What to run to bring the Host (back) into the cluster. */
  rejoin: string;
}

/** The command that (re)joins `host`: it fetches cluster.conf from a current member. */
export const rejoinCommandFor = (host: Pick<InventoryHost, 'name'>): string =>
  `/flexvdi ocfs2 join ${host.name}`;

/**
 * Whether `host` is a node of the cluster, read from the first other inventory Host that has a
 * cluster.conf (byte-identical on every node). For replace-host: a replacement that was a node can rejoin
 * with `rejoin`. Unreachable Hosts are skipped; null when no Host has a cluster or `host` is not in it.
 */
export async function ocfs2Membership(
  ssh: SshPool,
  config: Config,
  host: InventoryHost,
  signal?: AbortSignal,
): Promise<Ocfs2Membership | null> {
  for (const o of config.inventory.hosts.filter((x) => x.name !== host.name)) {
    const conf = await ssh
      .readFile(targetOf(o), CLUSTER_CONF, signal ? { signal } : {})
      .catch(() => undefined);
    if (conf === undefined || conf === null) continue;
    const model = modelOf(conf).model;
    if (!model) continue;
    const node = nodeForHostname(model, nodeNameOf(host));
    return node ? { cluster: model.name, node, source: o.name, rejoin: rejoinCommandFor(host) } : null;
  }
  return null;
}
