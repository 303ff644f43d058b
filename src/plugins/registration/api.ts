/**
 * What the registration plugin offers its dependants (ocfs2, storage, the monitor): it owns "which Hosts are
 * registered" and "what a Host looks like". Dependants get it as `deps.registration` (`dependsOn`), never
 * by copying this logic. Implemented by `createRegistrationApi` (registry-api.ts).
 */
import type { InventoryHost } from '../../config.js';
import type { Md } from '../../core/text.js';
import type { HostSummary } from '../../manager/index.js';
import type { Resolved } from './args.js';
import type { HostState } from './host-state.js';

export interface RegisteredHosts {
  /** Inventory Hosts the Manager lists (or, with `fallback: 'inventory'` and no Manager, all of them). */
  hosts: InventoryHost[];
  /** Where the list came from: the Manager, or the inventory because the Manager did not answer. */
  from: 'manager' | 'inventory';
  /** One sentence for a plan or result: where the list came from (says so when the Manager was down). */
  note: Md;
  /** The Manager's view, by host id (lower-case FQDN); empty when it did not answer. */
  manager: ReadonlyMap<string, HostSummary>;
  /** Hosts the Manager lists that are not in the inventory (never touched). */
  outsideInventory: string[];
  /** Why the Manager did not answer (its error's user message), when `from` is `'inventory'`. */
  managerError?: string;
}

export interface RegistrationApi {
  /**
   * The registered Hosts. `fallback: 'throw'` (default): a Manager that does not answer is an error
   * (`manager.*` code). `fallback: 'inventory'`: the inventory stands in and `from`/`note` say so.
   */
  registeredHosts(opts?: {
    fallback?: 'throw' | 'inventory';
    signal?: AbortSignal;
  }): Promise<RegisteredHosts>;
  /** The inventory Host named by name, FQDN or IPv4 (and, when given, that IP), or why not. */
  resolveHost(host: string, ip?: string): Resolved;
  /** The Manager's id of a Host (its FQDN, lower-case). */
  hostIdOf(h: InventoryHost): string;
  /** One SSH round trip: hostname, FQDN, addresses, bridges, the flexvdi user's key and key files. */
  inspect(h: InventoryHost, signal: AbortSignal): Promise<HostState>;
  /** Whether what the Host answers as matches `fqdn` (hostname or `hostname -f`). */
  hostnameMatches(s: HostState, fqdn: string): boolean;
}
