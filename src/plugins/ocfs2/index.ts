/**
 * OCFS2: create the cluster on its first node (the cluster summary, confirmed), join the other Hosts
 * (one, or all registered ones), and check every Host for drift. See each command's file; cluster-conf.ts
 * renders, parses and validates /etc/ocfs2/cluster.conf (the program's one model of that file).
 *
 * Depends on the registration plugin for which Hosts are registered and what a Host answers as. Offers
 * `Ocfs2Api` (is a Host a node, how it rejoins) and tells replace-host, through `hostRoles`, that a Host is
 * (or was) a node and how to bring its replacement back into the cluster.
 */
import type { InventoryHost } from '../../config.js';
import { definePlugin, type HostRole, type PluginServices } from '../../core/plugin.js';
import { md } from '../../core/text.js';
import { targetOf } from '../../services.js';
import { registrationPlugin } from '../registration/index.js';
import type { Ocfs2Api } from './api.js';
import { firstNodeCommand } from './commands/first-node.js';
import { joinCommand } from './commands/join.js';
import { ocfs2StatusCommand, overviewOf, readStatuses } from './commands/status.js';
import type { Ocfs2Deps } from './define.js';
import { readOcfs2 } from './host-ops.js';
import { membershipOf, rejoinCommandFor } from './membership.js';
import { timeoutsOf } from './o2cb-settings.js';

export type { Ocfs2Api, Ocfs2HostOverview, Ocfs2Membership, Ocfs2Overview } from './api.js';

const api = (services: PluginServices, deps: Ocfs2Deps): Ocfs2Api => ({
  membership: (host, signal) => membershipOf(services, deps.registration, host, signal),
  overview: async (signal) =>
    overviewOf(services.config.inventory.hosts, await readStatuses(services, deps.registration, signal)),
  rejoinCommandFor,
});

/** A node of the cluster (per another registered Host's cluster.conf), or nothing; never throws. */
async function hostRoles(
  services: PluginServices,
  deps: Ocfs2Deps,
  host: InventoryHost,
  signal: AbortSignal,
): Promise<HostRole[]> {
  const m = await membershipOf(services, deps.registration, host, signal).catch(() => null);
  if (!m) return [];
  // The cluster's timeouts, as the Host whose cluster.conf was read runs them (identical on every node).
  const source = services.config.inventory.hosts.find((h) => h.name === m.source);
  const files = source ? await readOcfs2(services.ssh, targetOf(source), signal).catch(() => null) : null;
  const t = timeoutsOf(files?.settings ?? null);
  return [
    {
      plugin: 'ocfs2',
      role: md`node ${m.node.number} (\`${m.node.name}\`) of OCFS2 cluster \`${m.cluster}\``,
      afterReplace: md`rejoin it: \`/flexvdi ocfs2 join ${host.name}\``,
      onLoss: [
        {
          afterMs: t.idleTimeoutMs,
          what: md`o2net gives up its connections (idle timeout ${t.idleTimeoutMs / 1000} s${files ? '' : ', the default'}): a node cut off from the others is fenced`,
        },
        {
          afterMs: (t.heartbeatThreshold - 1) * 2000,
          what: md`its disk heartbeat is declared dead (threshold ${t.heartbeatThreshold}): the others recover its journal, and if it still runs without reaching the disk it fences itself, taking its Guests down`,
        },
      ],
    },
  ];
}

export const ocfs2Plugin = definePlugin<Ocfs2Api, Ocfs2Deps>({
  name: 'ocfs2',
  dependsOn: [registrationPlugin],
  deps: (use) => ({ registration: use(registrationPlugin) }),
  api,
  hostRoles,
  commands: [firstNodeCommand, joinCommand, ocfs2StatusCommand],
});
