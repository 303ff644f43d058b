/**
 * The members of the key exchange as the key files see them: their host keys as pinned in the product's
 * known_hosts (the trust anchor) and, read from each Host, the flexvdi user's public key; and what bringing
 * a Host's files in line with the members would change. Which Hosts are registered is the plugin API's
 * `registeredHosts` (registry-api.ts).
 */
import type { Config, InventoryHost } from '../../config.js';
import { joinMd, type Md, md } from '../../core/text.js';
import { targetOf } from '../../services.js';
import { entryMatchesHost, pinNames, readKnownHosts, type SshTarget } from '../../ssh/index.js';
import type { HostState } from './host-state.js';
import { convergeAuthorizedKeys, convergeKnownHosts, type Member, type PublicKey } from './key-files.js';

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

/** "+1 authorized_keys, +1 −1 ssh_known_hosts" (empty when nothing changes): only our words and counts. */
export function describeDrift(d: KeyDrift): Md {
  const part = (name: Md, added: number, removed: number): Md[] => {
    if (!added && !removed) return [];
    const counts = [...(added ? [md`+${added}`] : []), ...(removed ? [md`−${removed}`] : [])];
    return [md`${joinMd(counts, ' ')} ${name}`];
  };
  return joinMd([
    ...part(md`authorized_keys`, d.authorizedKeys.added, d.authorizedKeys.removed),
    ...part(md`ssh_known_hosts`, d.knownHosts.added, d.knownHosts.removed),
    ...part(md`~flexvdi/.ssh/known_hosts`, 0, d.userKnownHosts?.removed ?? 0),
  ]);
}
