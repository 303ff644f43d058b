/**
 * The testbed network in the root namespace: one bridge holding the gateway address (so the product, running
 * on this machine, reaches every Host and the Manager), one network namespace + veth pair per Host and one
 * for the Manager stand-in. Everything is made with one `ip -batch` and removed by name prefix, which also
 * sweeps what a crashed run left. IPv6 is off on every testbed link: traffic stays IPv4 on the testbed subnet.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { run, runOk } from './exec.js';
import type { HostLayout, TestbedLayout } from './layout.js';

function disableIpv6(ifname: string): void {
  const f = `/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`;
  if (existsSync(f)) writeFileSync(f, '1');
}

async function netnsList(): Promise<string[]> {
  const out = await runOk('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Batch lines creating a member's namespace and attaching its veth to the bridge. */
function memberLines(t: TestbedLayout, netns: string, veth: string): string[] {
  return [
    `netns add ${netns}`,
    `link add ${veth} type veth peer name eth0 netns ${netns}`,
    `link set ${veth} master ${t.bridge} up`,
  ];
}

/** Creates the bridge (when missing), the Manager's namespace and the given Hosts' namespaces. */
export async function createNetwork(t: TestbedLayout, hosts: readonly HostLayout[], withManager: boolean) {
  const lines: string[] = [];
  if (!(await linkExists(t.bridge))) {
    lines.push(`link add ${t.bridge} type bridge`);
    lines.push(`addr add ${t.gateway}/${t.prefixLength} dev ${t.bridge}`);
  }
  // A MAC of its own: one taken from a port would change as ports come and go (layout.ts, bridgeMac).
  lines.push(`link set ${t.bridge} address ${t.bridgeMac} up`);
  if (withManager) lines.push(...memberLines(t, t.managerNetns, t.managerVeth));
  for (const h of hosts) lines.push(...memberLines(t, h.netns, h.veth));
  await runOk('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
  disableIpv6(t.bridge);
  if (withManager) disableIpv6(t.managerVeth);
  for (const h of hosts) disableIpv6(h.veth);
}

/** Addresses inside the Manager's namespace (Hosts configure their own in host-init.sh). */
export async function configureManagerNetns(t: TestbedLayout): Promise<void> {
  const lines = ['link set lo up', `addr add ${t.managerIp}/${t.prefixLength} dev eth0`, 'link set eth0 up'];
  await runOk('ip', ['-n', t.managerNetns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

/** Removes one member's namespace (its veth pair goes with it). Processes must be gone already. */
export async function removeMember(netns: string, veth: string): Promise<void> {
  await run('ip', ['netns', 'del', netns]);
  if (await linkExists(veth)) await run('ip', ['link', 'del', veth]);
}

export async function setLink(veth: string, up: boolean): Promise<void> {
  await runOk('ip', ['link', 'set', 'dev', veth, up ? 'up' : 'down']);
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

export async function linkIsUp(veth: string): Promise<boolean> {
  const r = await run('ip', ['-o', 'link', 'show', 'dev', veth]);
  return r.code === 0 && /<[^>]*\bUP\b/.test(r.stdout);
}

/** Every namespace and link of testbed `tag`, whoever made them (this run or a crashed one). */
export async function findTestbedNetwork(tag: string): Promise<{ netns: string[]; links: string[] }> {
  const netns = (await netnsList()).filter((n) => n.startsWith(`fvtb-${tag}-`));
  const out = await runOk('ip', ['-o', 'link', 'show']);
  const links = [...out.matchAll(/^\d+: ([^:@\s]+)/gm)]
    .map((m) => m[1] ?? '')
    .filter(
      (n) =>
        n === `fvtb${tag}` ||
        n.startsWith(`fvtb${tag}h`) ||
        n.startsWith(`fvtb${tag}g`) ||
        n === `fvtb${tag}m`,
    );
  return { netns, links };
}

/** Removes every namespace and link of testbed `tag`; processes must be gone already. */
export async function removeTestbedNetwork(tag: string): Promise<void> {
  const found = await findTestbedNetwork(tag);
  const lines = found.netns.map((n) => `netns del ${n}`);
  if (lines.length) await run('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
  const left = (await findTestbedNetwork(tag)).links;
  const del = left.map((l) => `link del ${l}`);
  if (del.length) await run('ip', ['-force', '-batch', '-'], { input: `${del.join('\n')}\n` });
}
