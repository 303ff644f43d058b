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
} as const;

/**
 * An `Md` sentence as an error's user message, which is prose (the renderer escapes its `&`, `<`, `>`):
 * the entities `md` made are turned back so they are not escaped twice. Everything else stays escaped.
 */
export const userMessageOf = (m: Md): string =>
  m.mrkdwn.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
