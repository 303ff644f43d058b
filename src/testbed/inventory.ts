/**
 * The hand-off: an inventory the product uses as is (FLEXVDI_CONFIG=<stateDir>/inventory.yaml), next to the
 * product's key pair, the pinned host keys (known_hosts) and the Manager password file. Paths in the file
 * are relative to it, so the state folder can be copied elsewhere whole.
 */
import { stringify } from 'yaml';
import { parseInventory } from '../config.js';
import type { TestbedLayout } from './layout.js';
import { MANAGER_USERNAME } from './standin.js';
import type { HostRecord, TestbedState } from './state.js';
import { writeFileAtomic } from './state.js';

export const SLACK_ADMIN = 'U0ADMIN01';
export const SLACK_CHANNEL = 'C0OPS0001';
export const SLACK_ALERT_CHANNEL = 'C0ALERTS1';

/** One known_hosts line per Host: its IP, short name and FQDN pinned to the key the testbed installed. */
export function knownHostsText(hosts: readonly HostRecord[]): string {
  return hosts.map((h) => `${h.ip},${h.name},${h.fqdn} ${h.hostKey}\n`).join('');
}

export function writeKnownHosts(t: TestbedLayout, hosts: readonly HostRecord[]): void {
  writeFileAtomic(t.files.knownHosts, knownHostsText(hosts));
}

export function inventoryText(state: TestbedState): string {
  if (!state.manager) throw new Error('inventory needs the Manager stand-in address');
  const doc = {
    cluster: { name: `testbed-${state.name}` },
    manager: {
      url: state.manager.url,
      username: MANAGER_USERNAME,
      password: { file: './manager/password' },
      tls: { fingerprint256: state.manager.fingerprint256, insecure: false },
    },
    ssh: {
      user: 'root',
      privateKeyPath: './keys/id_ed25519',
      knownHostsPath: './known_hosts',
      connectTimeoutMs: 5000,
    },
    hosts: state.hosts.map((h) => ({ name: h.name, fqdn: h.fqdn, ip: h.ip, port: 22 })),
    slack: { admins: [SLACK_ADMIN], channels: [SLACK_CHANNEL], alertChannel: SLACK_ALERT_CHANNEL },
    jobs: { prefix: `tb-${state.name}` },
  };
  return `# Written by \`flexvdi-chatops testbed up\` for testbed "${state.name}"; rewritten by every up/replace.\n${stringify(doc)}`;
}

/** Writes the inventory and checks it with the product's own parser before anyone uses it. */
export function writeInventory(t: TestbedLayout, state: TestbedState): void {
  const text = inventoryText(state);
  parseInventory(text, t.files.inventory);
  writeFileAtomic(t.files.inventory, text);
}
