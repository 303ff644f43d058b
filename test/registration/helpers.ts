/**
 * Shared parts of the registration tests: inventory variants next to a testbed's inventory (relative paths
 * keep working), and reading the Hosts' key files from inside the Hosts (not through the product). Driving
 * a command is test/support/flow.ts's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { fingerprintSha256 } from '../../src/ssh/index.js';
import { runOnHost, type TestbedInfo } from '../../src/testbed/index.js';
import { hostFile } from '../support/hosts.js';
import { quietLog } from '../testbed/helpers.js';

export { quietLog };

/** The parts of an inventory file the tests change. */
export interface InventoryDoc {
  manager: { url: string; password: unknown };
  ssh: Record<string, unknown>;
  jobs: Record<string, unknown>;
  [key: string]: unknown;
}

/** Writes `<stateDir>/<file>`: the testbed's inventory with `patch` applied to its parsed YAML. */
export function inventoryVariant(tb: TestbedInfo, file: string, patch: (doc: InventoryDoc) => void): string {
  const doc = parse(readFileSync(tb.inventoryPath, 'utf8')) as InventoryDoc;
  patch(doc);
  const out = path.join(tb.stateDir, file);
  writeFileSync(out, stringify(doc));
  return out;
}

export interface HostKeys {
  name: string;
  /** `type base64` of the flexvdi user's public key. */
  flexvdi: string;
  /** `type base64` of the host key. */
  hostKey: string;
}

/** The keys a Host has now, read inside it. */
export async function keysOf(tbName: string, host: string, home = '/home/flexvdi'): Promise<HostKeys> {
  const two = (l: string | null) => (l ?? '').trim().split(/\s+/).slice(0, 2).join(' ');
  return {
    name: host,
    flexvdi: two(await hostFile(tbName, host, `${home}/.ssh/id_ed25519.pub`)),
    hostKey: two(await hostFile(tbName, host, '/etc/ssh/ssh_host_ed25519_key.pub')),
  };
}

export const countLines = (text: string | null, key: string): number =>
  (text ?? '').split('\n').filter((l) => l.includes(key)).length;

/**
 * Asserts the mesh among `members`: on every member, each member's flexvdi key exactly once in
 * authorized_keys and each member's host key exactly once in /etc/ssh/ssh_known_hosts. Returns the problems.
 */
export async function meshProblems(tbName: string, members: readonly HostKeys[]): Promise<string[]> {
  const problems: string[] = [];
  for (const m of members) {
    const ak = await hostFile(tbName, m.name, '/home/flexvdi/.ssh/authorized_keys');
    const kh = await hostFile(tbName, m.name, '/etc/ssh/ssh_known_hosts');
    for (const k of members) {
      const a = countLines(ak, k.flexvdi.split(' ')[1]!);
      const h = countLines(kh, k.hostKey.split(' ')[1]!);
      if (a !== 1) problems.push(`${m.name}: ${a} lines with ${k.name}'s flexvdi key`);
      if (h !== 1) problems.push(`${m.name}: ${h} lines with ${k.name}'s host key`);
    }
  }
  return problems;
}

/** Real OpenSSH as flexvdi from one Host to another, strict host key checking. */
export async function sshBetween(
  tbName: string,
  from: string,
  toIp: string,
): Promise<{ code: number; stderr: string }> {
  const r = await runOnHost(
    { name: tbName, host: from, log: quietLog },
    'runuser -u flexvdi -- ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 "flexvdi@$1" true',
    [toIp],
  );
  return { code: r.code, stderr: r.stderr };
}

export const fingerprintOfLine = (typeAndKey: string): string =>
  fingerprintSha256(Buffer.from(typeAndKey.split(' ')[1]!, 'base64'));

/** The host ids the Manager stand-in of testbed state folder `stateDir` has registered, from its state file. */
export function managerHostIds(stateDir: string): string[] {
  const state = JSON.parse(readFileSync(`${stateDir}/manager/state.json`, 'utf8')) as {
    hosts: Record<string, { host_id: string }>;
  };
  return Object.values(state.hosts)
    .map((h) => h.host_id)
    .sort();
}
