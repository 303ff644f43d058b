/**
 * Which Hosts take part in the key exchange, and what the product knows of them: the inventory Hosts the
 * Manager lists (registered), their host keys as pinned in the product's known_hosts (the trust anchor),
 * and, read from each Host, the flexvdi user's public key.
 */
import type { Config, InventoryHost } from '../../config.js';
import type { HostSummary, ManagerClient } from '../../manager/index.js';
import { targetOf } from '../../services.js';
import { entryMatchesHost, pinNames, readKnownHosts, type SshTarget } from '../../ssh/index.js';
import { hostIdOf } from './args.js';
import type { HostState } from './host-state.js';
import { convergeAuthorizedKeys, convergeKnownHosts, type Member, type PublicKey } from './key-files.js';

export interface Registered {
  /** Inventory Hosts the Manager lists, in inventory order. */
  hosts: InventoryHost[];
  /** The Manager's view, by host id (lower-case FQDN). */
  manager: Map<string, HostSummary>;
  /** Hosts the Manager lists that are not in the inventory (not touched; shown as a warning). */
  outsideInventory: string[];
}

export async function registeredHosts(config: Config, manager: ManagerClient): Promise<Registered> {
  return registeredFrom(config, await manager.listHosts());
}

export function registeredFrom(config: Config, list: readonly HostSummary[]): Registered {
  const byId = new Map(list.map((h) => [h.hostId.toLowerCase(), h]));
  const inv = config.inventory.hosts;
  const known = new Set(inv.map(hostIdOf));
  return {
    hosts: inv.filter((h) => byId.has(hostIdOf(h))),
    manager: byId,
    outsideInventory: [...byId.keys()].filter((id) => !known.has(id)),
  };
}

/** The product's pins for every Host, by inventory name (host keys by IP or FQDN, all key types). */
export async function productPins(
  config: Config,
  hosts: readonly InventoryHost[],
): Promise<Map<string, PublicKey[]>> {
  const kh = await readKnownHosts(config.inventory.ssh.knownHostsPath);
  const out = new Map<string, PublicKey[]>();
  for (const h of hosts) {
    const t: SshTarget = targetOf(h);
    const keys: PublicKey[] = [];
    for (const e of kh.entries) {
      if (e.marker !== undefined || !pinNames(t).some((n) => entryMatchesHost(e, n, t.port))) continue;
      if (!keys.some((k) => k.keyType === e.keyType && k.keyBase64 === e.keyBase64))
        keys.push({ keyType: e.keyType, keyBase64: e.keyBase64 });
    }
    out.set(h.name, keys);
  }
  return out;
}

export function memberOf(h: InventoryHost, flexvdiKey: PublicKey | null, hostKeys: PublicKey[]): Member {
  return { name: h.name, fqdn: h.fqdn, ip: h.ip, port: h.port, flexvdiKey, hostKeys };
}

export interface KeyDrift {
  authorizedKeys: { added: number; removed: number; text: string };
  knownHosts: { added: number; removed: number; text: string };
  userKnownHosts: { removed: number; text: string } | null;
  inSync: boolean;
}

/** What converging this Host's key files to `members` would change. */
export function driftOf(s: HostState, members: readonly Member[]): KeyDrift {
  const ak = convergeAuthorizedKeys(s.authorizedKeys ?? '', members);
  const kh = convergeKnownHosts(s.knownHosts ?? '', members, 'manage');
  const uk = s.userKnownHosts === null ? null : convergeKnownHosts(s.userKnownHosts, members, 'clean');
  const changes = ak.added + ak.removed + kh.added + kh.removed + (uk?.removed ?? 0);
  return {
    authorizedKeys: ak,
    knownHosts: kh,
    userKnownHosts: uk ? { removed: uk.removed, text: uk.text } : null,
    inSync: changes === 0,
  };
}

/** "+1 authorized_keys, +1 −1 known_hosts" (empty when nothing changes). */
export function describeDrift(d: KeyDrift): string {
  const part = (name: string, added: number, removed: number) =>
    added || removed
      ? `${[added ? `+${added}` : '', removed ? `−${removed}` : ''].filter(Boolean).join(' ')} ${name}`
      : '';
  return [
    part('authorized_keys', d.authorizedKeys.added, d.authorizedKeys.removed),
    part('ssh_known_hosts', d.knownHosts.added, d.knownHosts.removed),
    part('~flexvdi/.ssh/known_hosts', 0, d.userKnownHosts?.removed ?? 0),
  ]
    .filter(Boolean)
    .join(', ');
}
