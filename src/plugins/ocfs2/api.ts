/**
 * What the OCFS2 plugin offers its dependants (storage, the monitor): whether a Host is a node of the
 * cluster, and the command that brings it (back) in. Dependants get it as `deps.ocfs2` (`dependsOn`), and
 * replace-host learns the same through the plugin's `hostRoles`; none of them reads cluster.conf itself.
 */
import type { InventoryHost } from '../../config.js';
import type { Md } from '../../core/text.js';
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

/** One inventory Host in the cluster, as `ocfs2 status` judges it. */
export interface Ocfs2HostOverview {
  host: string;
  /** Whether its OCFS2 state could be read (`error` says why not). */
  reachable: boolean;
  error: string | null;
  /** The node it is in the first node's cluster.conf, or null (not a node, or no cluster). */
  node: { number: number; name: string } | null;
  /** The cluster o2cb has online on it (null: offline, or not read). */
  online: string | null;
  /** What `ocfs2 status` calls drift on this Host, one sentence each (empty: in sync). */
  drift: Md[];
}

export interface Ocfs2Overview {
  /** The cluster's name (the first node's cluster.conf), or null when no Host has one. */
  cluster: string | null;
  /** The Host whose cluster.conf is the reference. */
  firstNode: string | null;
  /**
   * How many nodes the cluster declares (`node_count`: the Hosts it has plus the slots reserved for Hosts to
   * come, the seed's "maximum node count"); null when there is no cluster.
   */
  nodeCount: number | null;
  /** Every inventory Host, in inventory order. */
  hosts: Ocfs2HostOverview[];
}

export interface Ocfs2Api {
  /**
   * Every inventory Host's OCFS2 membership, o2cb state and drift, read over SSH in parallel with the same
   * rules as `/flexvdi ocfs2 status`; a Host that does not answer is in the list with `reachable: false`.
   */
  overview(signal: AbortSignal): Promise<Ocfs2Overview>;
  /**
   * Whether `host` is (or was: it may be gone) a node, read from the cluster.conf of the first other
   * registered Host that has one (the file is byte-identical on every node). Null when it is not listed or
   * when no other registered Host has a readable cluster.conf; unreachable Hosts are skipped, never thrown.
   */
  membership(host: InventoryHost, signal: AbortSignal): Promise<Ocfs2Membership | null>;
  /** The command that (re)joins `host`: it fetches cluster.conf from a current member. */
  rejoinCommandFor(host: Pick<InventoryHost, 'name'>): string;
}
