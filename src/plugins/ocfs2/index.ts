/**
 * OCFS2: create the cluster on its first node (the cluster summary, confirmed), join the other Hosts
 * (one, or all registered ones), and check every Host for drift. See each command's file; cluster-conf.ts
 * renders, parses and validates /etc/ocfs2/cluster.conf.
 *
 * For replace-host: `ocfs2Membership` tells whether a Host is a node (read from another Host's cluster.conf)
 * and the command that rejoins it (`/flexvdi ocfs2 join <host>`), which `rejoinCommandFor` also gives.
 */
import { definePlugin } from '../../core/plugin.js';
import { firstNodeCommand } from './commands/first-node.js';
import { joinCommand } from './commands/join.js';
import { ocfs2StatusCommand } from './commands/status.js';

export { type Ocfs2Membership, ocfs2Membership, rejoinCommandFor } from './membership.js';

export const ocfs2Plugin = definePlugin({
  name: 'ocfs2',
  dependsOn: ['registration'],
  commands: [firstNodeCommand, joinCommand, ocfs2StatusCommand],
});
