import type { Md } from '../../core/text.js';

/** Error codes of the OCFS2 plugin (namespaced; none is retryable: each needs a person to act). */
export const Ocfs2ErrorCode = {
  /** The Host is not a node of the cluster (no node named after its hostname, or another IP). */
  nodeNotListed: 'ocfs2.node_not_listed',
  /** A file on the Host changed between the plan and the run: nothing is overwritten blindly. */
  changedSincePlan: 'ocfs2.changed_since_plan',
  /** o2cb is online with another configuration: that change needs the cluster offline. */
  clusterOnline: 'ocfs2.cluster_online',
  /** `service o2cb online` ran but `o2cb cluster-status` does not say online. */
  onlineFailed: 'ocfs2.online_failed',
  /** Reading back (`o2cb list-cluster`, checksum, timeouts) did not give what was planned. */
  verifyFailed: 'ocfs2.verify_failed',
  /** A Host lacks ocfs2-tools (no `o2cb`). */
  toolsMissing: 'ocfs2.tools_missing',

  // Plan refusals (decide-first-node.ts, decide-join.ts): why a plan offers no Confirm.
  /** first-node: the Manager does not list the Host. */
  notRegistered: 'ocfs2.not_registered',
  /** first-node: the planned cluster would not be valid (nodes, max nodes, reserved slots). */
  invalidCluster: 'ocfs2.invalid_cluster',
  /** A Host to plan for could not be read. */
  unreadable: 'ocfs2.unreadable',
  /** first-node: the Host's hostname does not match node 0's name. */
  hostnameMismatch: 'ocfs2.hostname_mismatch',
  /** first-node: the Host does not carry its inventory IP. */
  ipNotCarried: 'ocfs2.ip_not_carried',
  /** first-node: the Host has another cluster.conf and `--force` was not given. */
  confDiffers: 'ocfs2.conf_differs',
  /** first-node: `--force` by someone who is not a flexVDI admin. */
  forceNeedsAdmin: 'ocfs2.force_needs_admin',
  /** join: no inventory Host has the `--first-node` IP. */
  firstNodeUnknown: 'ocfs2.first_node_unknown',
  /** join: the `--first-node` Host could not be read. */
  firstNodeUnreadable: 'ocfs2.first_node_unreadable',
  /** join: the `--first-node` Host has no cluster.conf. */
  firstNodeNoConf: 'ocfs2.first_node_no_conf',
  /** join: no registered Host (other than the one joining) has a cluster.conf. */
  noCluster: 'ocfs2.no_cluster',
  /** join: the registered Hosts' cluster.conf files differ, and no first node is named. */
  confsDiffer: 'ocfs2.confs_differ',
  /** join: the source's cluster.conf is not valid, so it is copied nowhere. */
  invalidSourceConf: 'ocfs2.invalid_source_conf',
} as const;

/**
 * An `Md` sentence as an error's user message, which is prose (the renderer escapes its `&`, `<`, `>`):
 * the entities `md` made are turned back so they are not escaped twice. Everything else stays escaped.
 */
export const userMessageOf = (m: Md): string =>
  m.mrkdwn.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
