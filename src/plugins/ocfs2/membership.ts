/**
 * Where a Host stands against the cluster's configuration: listed or not (and why not), blocked by o2cb
 * running another configuration, already in sync, or ready to join (`ocfs2 join`, plan and run, and
 * `ocfs2 status`); and whether a Host is (or was) a node at all, read from another registered Host's
 * cluster.conf (the plugin's API and its `hostRoles`, which replace-host shows).
 */
import type { InventoryHost } from '../../config.js';
import type { PluginServices } from '../../core/plugin.js';
import { type Md, md } from '../../core/text.js';
import { targetOf } from '../../services.js';
import type { RegistrationApi } from '../registration/api.js';
import type { Ocfs2Membership } from './api.js';
import {
  CLUSTER_CONF,
  type ClusterModel,
  type ClusterNode,
  modelOf,
  nodeForHostname,
} from './cluster-conf.js';
import type { HostOcfs2 } from './host-ops.js';
import { type O2cbTimeouts, sameTimeouts, settingsStateOf, timeoutsOf } from './o2cb-settings.js';
import { offlineProcedure } from './summary.js';

export type Standing =
  | { kind: 'not-listed'; reason: Md }
  | { kind: 'blocked'; node: ClusterNode; reason: Md }
  | { kind: 'in-sync'; node: ClusterNode }
  | { kind: 'join'; node: ClusterNode; note: Md };

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
      ? md`node ${byIp.number} has ${host.name}'s IP ${host.ip} but is named \`${byIp.name}\`, and the hostname is \`${s.hostname}\``
      : md`no node of cluster \`${cluster.name}\` is named \`${s.hostname.split('.')[0] ?? ''}\` (${host.name}'s hostname is \`${s.hostname}\`) and none has its IP ${host.ip}`;
    return {
      kind: 'not-listed',
      reason: md`${host.name} is not a node: ${why}. ${offlineProcedure(firstNode)}`,
    };
  }
  if (node.ip !== host.ip || !s.addresses.includes(node.ip)) {
    const theirs = s.addresses.includes(node.ip)
      ? md``
      : md` (its addresses: ${s.addresses.join(', ') || 'none'})`;
    return {
      kind: 'not-listed',
      reason: md`node ${node.number} \`${node.name}\` is reserved for ${node.ip}, but ${host.name} is at ${host.ip}${theirs}. Give the Host the reserved IP (and the inventory), or change the cluster: ${offlineProcedure(firstNode)}`,
    };
  }
  const differs = s.conf !== null && s.conf !== conf;
  if (s.online && s.online !== cluster.name)
    return {
      kind: 'blocked',
      node,
      reason: md`o2cb is online for another cluster (\`${s.online}\`): unmount its OCFS2 volumes and run \`service o2cb offline\` on ${host.name} first`,
    };
  if (s.online && differs)
    return {
      kind: 'blocked',
      node,
      reason: md`o2cb is online with a different ${CLUSTER_CONF}: unmount its OCFS2 volumes and run \`service o2cb offline\` on ${host.name} first`,
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
  return { kind: 'join', node, note: md`${notes.join(', ')}` };
}

/** The command that (re)joins `host`: it fetches cluster.conf from a current member. */
export const rejoinCommandFor = (host: Pick<InventoryHost, 'name'>): string =>
  `/flexvdi ocfs2 join ${host.name}`;

/**
 * Whether `host` is a node of the cluster, read from the first other registered Host (in inventory order)
 * that has a cluster.conf: the file is byte-identical on every node, and `host` itself may be gone.
 * Unreachable Hosts are skipped; null when no other Host has a cluster or `host` is not in it.
 */
export async function membershipOf(
  services: PluginServices,
  registration: RegistrationApi,
  host: InventoryHost,
  signal: AbortSignal,
): Promise<Ocfs2Membership | null> {
  const { hosts } = await registration.registeredHosts({ fallback: 'inventory', signal });
  for (const o of hosts.filter((x) => x.name !== host.name)) {
    const conf = await services.ssh.readFile(targetOf(o), CLUSTER_CONF, { signal }).catch(() => null);
    const model = conf === null ? undefined : modelOf(conf).model;
    if (!model) continue;
    const node = nodeOfHost(model, host);
    return node ? { cluster: model.name, node, source: o.name, rejoin: rejoinCommandFor(host) } : null;
  }
  return null;
}

/**
 * The node that stands for an inventory Host, whichever way the node was named: the Host's FQDN or its first
 * label (the kernel's rule, the Host's hostname being either), or its inventory name, case-insensitively —
 * the Host itself may be gone, so its hostname cannot be asked.
 */
export function nodeOfHost(model: ClusterModel, host: InventoryHost): ClusterNode | undefined {
  return nodeForHostname(model, host.fqdn) ?? nodeForHostname(model, host.name);
}
