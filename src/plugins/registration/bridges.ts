/**
 * Virtual bridges of a Host and their IPv4 subnets, and how two Hosts differ. Guests attach to bridges by
 * name, so a new Host must have the same bridges, on the same subnets, as the registered ones.
 *
 * Input is what the inspection script prints: the bridge names (from /sys/class/net/<name>/bridge, which
 * every kernel has) and `ip -o -4 addr show` (one line per address, in every iproute2 version; `ip -j` is
 * missing from the iproute2 of CentOS 7, which flexVDI Hosts run).
 */
import { type Md, md } from '../../core/text.js';

export interface Address {
  ifname: string;
  address: string;
  prefixLength: number;
}

/** Bridge name → its IPv4 subnets (`192.168.122.0/24`), sorted. */
export type Bridges = Record<string, string[]>;

/** `3: virbr0    inet 192.168.122.1/24 brd … scope global virbr0\ …` → addresses. */
export function parseAddresses(ipOutput: string): Address[] {
  const out: Address[] = [];
  for (const line of ipOutput.split('\n')) {
    const m = /^\d+:\s+([^\s@:]+)(?:@\S+)?:?\s+inet\s+(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})\b/.exec(line);
    if (m) out.push({ ifname: m[1]!, address: m[2]!, prefixLength: Number(m[3]) });
  }
  return out;
}

export function subnetOf(address: string, prefixLength: number): string {
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const net = n - (n % 2 ** (32 - prefixLength));
  const octets = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256);
  return `${octets.join('.')}/${prefixLength}`;
}

export function bridgesOf(names: readonly string[], addresses: readonly Address[]): Bridges {
  const out: Bridges = {};
  for (const name of names) {
    out[name] = [
      ...new Set(addresses.filter((a) => a.ifname === name).map((a) => subnetOf(a.address, a.prefixLength))),
    ].sort();
  }
  return out;
}

/** One line per bridge that differs, naming it: missing, extra, or on another subnet. Empty: same. */
export function compareBridges(subject: string, mine: Bridges, reference: string, theirs: Bridges): Md[] {
  const fmt = (s: string[] | undefined) => (s?.length ? s.join(', ') : 'no IPv4 address');
  const names = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].sort();
  const out: Md[] = [];
  for (const n of names) {
    const a = mine[n];
    const b = theirs[n];
    if (!a) out.push(md`\`${n}\`: missing on ${subject} (${reference} has it: ${fmt(b)})`);
    else if (!b) out.push(md`\`${n}\`: on ${subject} (${fmt(a)}) but not on ${reference}`);
    else if (a.join() !== b.join())
      out.push(md`\`${n}\`: ${fmt(a)} on ${subject}, ${fmt(b)} on ${reference}`);
  }
  return out;
}
