/**
 * What the OCFS2 plugin offers its dependants (storage, the monitor): whether a Host is a node of the
 * cluster, and the command that brings it (back) in. Dependants get it as `deps.ocfs2` (`dependsOn`), and
 * replace-host learns the same through the plugin's `hostRoles`; none of them reads cluster.conf itself.
 */
import type { InventoryHost } from '../../config.js';
import type { ClusterNode } from './cluster-conf.js';

export interface Ocfs2Membership {
  /** The OCFS2 cluster's name. */
  cluster: string;
  /** The node the Host is (matched by its name, the first label of its FQDN, as the kernel does). */
  node: ClusterNode;
  /** The registered Host whose cluster.conf was read. */
  source: string;
  /** The command that (re)joins the Host: `/flexvdi ocfs2 join <host>`. */
  rejoin: string;
}

export interface Ocfs2Api {
  /**
   * Whether `host` is (or was: it may be gone) a node, read from the cluster.conf of the first other
   * registered Host that has one (the file is byte-identical on every node). Null when it is not listed or
   * when no other registered Host has a readable cluster.conf; unreachable Hosts are skipped, never thrown.
   */
  membership(host: InventoryHost, signal: AbortSignal): Promise<Ocfs2Membership | null>;
  /** The command that (re)joins `host`: it fetches cluster.conf from a current member. */
  rejoinCommandFor(host: Pick<InventoryHost, 'name'>): string;
}
