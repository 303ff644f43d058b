/**
 * The registration plugin's API (see api.ts), and the one place that says which Hosts are registered: the
 * inventory Hosts the Manager lists. Every command of this plugin and every dependant reads it from here.
 */
import type { PluginServices } from '../../core/plugin.js';
import { md, prose } from '../../core/text.js';
import { asAppError } from '../../errors.js';
import type { HostSummary } from '../../manager/index.js';
import { targetOf } from '../../services.js';
import type { RegisteredHosts, RegistrationApi } from './api.js';
import { hostIdOf, resolveHost } from './args.js';
import { hostnameMatches, inspectHost } from './host-state.js';

/**
 * The registered Hosts, in inventory order. `fallback: 'throw'` (default): the Manager's error goes up.
 * `fallback: 'inventory'`: every inventory Host stands in, and `from`, `note` and `managerError` say why.
 */
export async function registeredHosts(
  s: Pick<PluginServices, 'config' | 'manager'>,
  opts: { fallback?: 'throw' | 'inventory'; signal?: AbortSignal } = {},
): Promise<RegisteredHosts> {
  const inv = s.config.inventory.hosts;
  let list: HostSummary[];
  try {
    opts.signal?.throwIfAborted();
    list = await s.manager.listHosts();
  } catch (err) {
    if (opts.fallback !== 'inventory' || opts.signal?.aborted) throw err;
    const why = asAppError(err).userMessage;
    return {
      hosts: [...inv],
      from: 'inventory',
      note: md`the inventory's ${inv.length} Hosts — the Manager did not answer (${prose(why)})`,
      manager: new Map(),
      outsideInventory: [],
      managerError: why,
    };
  }
  const byId = new Map(list.map((h) => [h.hostId.toLowerCase(), h]));
  const known = new Set(inv.map(hostIdOf));
  const hosts = inv.filter((h) => byId.has(hostIdOf(h)));
  return {
    hosts,
    from: 'manager',
    note: md`the Hosts registered with the Manager (${hosts.length} of ${inv.length} in the inventory)`,
    manager: byId,
    outsideInventory: [...byId.keys()].filter((id) => !known.has(id)),
  };
}

export function createRegistrationApi(s: PluginServices): RegistrationApi {
  return {
    registeredHosts: (opts) => registeredHosts(s, opts),
    resolveHost: (host, ip) => resolveHost(s.config, host, ip),
    hostIdOf,
    inspect: (h, signal) => inspectHost(s.ssh, targetOf(h), signal),
    hostnameMatches,
  };
}
