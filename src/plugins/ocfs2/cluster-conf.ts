/**
 * /etc/ocfs2/cluster.conf — the heart of the OCFS2 plugin: the model, the renderer, the parser and the
 * validator. Format per ocfs2.cluster.conf(5): stanzas (`cluster:`, `node:`, `heartbeat:`) at column 1, every
 * parameter line starts with a TAB, a blank line after each stanza. The renderer writes the parameters in the
 * order `o2cb add-cluster` / `add-node` write them, so a file we render is byte-identical to the one the real
 * tool would make from the same values (tested). The file must be byte-identical on every node.
 *
 * o2cb itself does not validate (it accepts duplicate IPs, port 70000, `h1` next to `H1`, and increments
 * `node_count` blindly), so everything is checked here before a file is written or installed. Problems are
 * `Md` sentences for the operator: what they quote comes from a Host's file and is escaped.
 *
 * This is the one cluster.conf model of the program: other plugins ask the OCFS2 plugin's API.
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { hostnameRe } from '../../config.js';
import { type Md, md } from '../../core/text.js';
import { AppError, ErrorCode } from '../../errors.js';

export const CLUSTER_CONF = '/etc/ocfs2/cluster.conf';
export const DEFAULT_PORT = 7777;
/** Node numbers are 0–254, so a cluster holds at most 255 nodes. */
export const MAX_NODES = 255;
export const clusterNameRe = /^[0-9A-Za-z]{1,16}$/;
/** O2NM_MAX_NAME_LEN: the kernel keeps at most 64 characters of a node name. */
const MAX_NODE_NAME = 64;

export interface ClusterNode {
  number: number;
  name: string;
  ip: string;
  port: number;
}

export interface ClusterModel {
  name: string;
  heartbeatMode: 'local' | 'global';
  nodes: ClusterNode[];
  /** Global heartbeat regions (disk UUIDs); empty in local mode. */
  regions: string[];
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The file for `c`: cluster stanza, then nodes by number, then heartbeat regions (global mode). */
export function renderClusterConf(c: ClusterModel): string {
  const stanza = (head: string, params: [string, string | number][]) =>
    `${head}:\n${params.map(([k, v]) => `\t${k} = ${v}\n`).join('')}\n`;
  const nodes = [...c.nodes].sort((a, b) => a.number - b.number);
  return [
    stanza('cluster', [
      ['name', c.name],
      ['heartbeat_mode', c.heartbeatMode],
      ['node_count', nodes.length],
    ]),
    ...nodes.map((n) =>
      stanza('node', [
        ['cluster', c.name],
        ['number', n.number],
        ['ip_port', n.port],
        ['ip_address', n.ip],
        ['name', n.name],
      ]),
    ),
    ...c.regions.map((r) =>
      stanza('heartbeat', [
        ['cluster', c.name],
        ['region', r],
      ]),
    ),
  ].join('');
}

export interface Stanza {
  kind: string;
  /** 1-based line of the stanza's head. */
  line: number;
  params: Record<string, string>;
}

export interface ParsedConf {
  stanzas: Stanza[];
  /** Departures from the format (column-1 heads, TAB-indented parameters, blank line between stanzas). */
  format: Md[];
}

/**
 * Reads any cluster.conf — or `o2cb list-cluster` output, which has the same grammar in another order.
 * Lenient like o2cb (parameters indented with spaces are read) but every departure from the format is noted.
 */
export function parseClusterConf(text: string): ParsedConf {
  const stanzas: Stanza[] = [];
  const format: Md[] = [];
  let cur: Stanza | undefined;
  let blankBefore = true;
  text.split('\n').forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || /^\s*#/.test(line)) {
      if (line.trim() === '') blankBefore = true;
      return;
    }
    const head = /^(\s*)([a-z_]+):\s*$/.exec(line);
    if (head) {
      const [, indent, kind = ''] = head;
      if (indent) format.push(md`line ${n}: stanza \`${kind}:\` must start at column 1`);
      if (!blankBefore) format.push(md`line ${n}: a blank line must separate stanzas`);
      cur = { kind, line: n, params: {} };
      stanzas.push(cur);
      blankBefore = false;
      return;
    }
    blankBefore = false;
    const kv = /^(\s*)([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!kv || !cur) {
      format.push(md`line ${n}: not a stanza head or a parameter: \`${line.slice(0, 60)}\``);
      return;
    }
    const [, indent, key = '', value = ''] = kv;
    if (indent !== '\t') format.push(md`line ${n}: parameter \`${key}\` must be indented with one TAB`);
    if (key in cur.params) format.push(md`line ${n}: \`${key}\` given twice in one stanza`);
    cur.params[key] = value;
  });
  return { stanzas, format };
}

export interface ModelResult {
  model?: ClusterModel;
  /** Why the text is not a valid cluster (empty when `model` is set and valid). */
  problems: Md[];
}

/**
 * The cluster `name` (default: the only cluster in the file) as a model, validated. Problems are sentences
 * for the operator; any problem means the file must not be installed.
 */
export function modelOf(text: string, name?: string): ModelResult {
  const { stanzas, format } = parseClusterConf(text);
  const clusters = stanzas.filter((s) => s.kind === 'cluster');
  const problems = [...format];
  for (const s of stanzas)
    if (!['cluster', 'node', 'heartbeat'].includes(s.kind))
      problems.push(md`line ${s.line}: unknown stanza \`${s.kind}:\``);
  const c = name ? clusters.find((s) => s.params['name'] === name) : clusters[0];
  if (!c) {
    problems.push(name ? md`no cluster \`${name}\` in the file` : md`no \`cluster:\` stanza in the file`);
    return { problems };
  }
  if (!name && clusters.length > 1)
    problems.push(md`${clusters.length} clusters in one file; a flexVDI cluster has exactly one`);
  const cname = c.params['name'] ?? '';
  const mode = c.params['heartbeat_mode'] ?? 'local';
  const nodes: ClusterNode[] = [];
  for (const s of stanzas.filter((x) => x.kind === 'node' && x.params['cluster'] === cname)) {
    const num = s.params['number'] ?? '';
    const port = s.params['ip_port'] ?? '';
    nodes.push({
      number: /^\d+$/.test(num) ? Number(num) : Number.NaN,
      name: s.params['name'] ?? '',
      ip: s.params['ip_address'] ?? '',
      port: /^\d+$/.test(port) ? Number(port) : Number.NaN,
    });
  }
  const model: ClusterModel = {
    name: cname,
    heartbeatMode: mode === 'global' ? 'global' : 'local',
    nodes,
    regions: stanzas
      .filter((x) => x.kind === 'heartbeat' && x.params['cluster'] === cname)
      .map((x) => x.params['region'] ?? ''),
  };
  if (mode !== 'local' && mode !== 'global')
    problems.push(md`heartbeat_mode \`${mode}\` must be \`local\` or \`global\``);
  const count = c.params['node_count'];
  if (count !== undefined && count !== String(nodes.length))
    problems.push(md`node_count is ${count} but the file lists ${nodes.length} nodes of \`${cname}\``);
  problems.push(...validateCluster(model));
  return { model, problems };
}

/**
 * The cluster `name` of a file that was validated when it was pinned: that it does not parse now is a bug
 * (the pinned schemas check it), not something an operator can fix.
 */
export function pinnedCluster(conf: string, name: string): ClusterModel {
  const m = modelOf(conf, name).model;
  if (!m) throw new AppError(ErrorCode.internal, `the pinned ${CLUSTER_CONF} has no cluster ${name}`);
  return m;
}

/** Everything o2cb does not check. Empty when the cluster is valid. */
export function validateCluster(c: ClusterModel, maxNodes?: number): Md[] {
  const p: Md[] = [];
  if (!clusterNameRe.test(c.name))
    p.push(
      md`cluster name \`${c.name}\` must be 1–16 letters or digits (mkfs.ocfs2 would silently cut a longer one)`,
    );
  if (c.nodes.length === 0) p.push(md`the cluster has no nodes`);
  if (c.nodes.length > MAX_NODES) p.push(md`${c.nodes.length} nodes: OCFS2 allows at most ${MAX_NODES}`);
  if (maxNodes !== undefined) {
    if (!Number.isInteger(maxNodes) || maxNodes < 1 || maxNodes > MAX_NODES)
      p.push(md`max nodes ${maxNodes} must be between 1 and ${MAX_NODES}`);
    else if (maxNodes < c.nodes.length)
      p.push(md`max nodes ${maxNodes} is less than the ${c.nodes.length} nodes listed`);
  }
  if (c.heartbeatMode === 'global' && c.regions.length === 0)
    p.push(md`global heartbeat mode needs at least one \`heartbeat:\` region`);
  const seen = {
    number: new Map<number, string>(),
    name: new Map<string, string>(),
    ip: new Map<string, string>(),
  };
  for (const n of c.nodes) {
    const who = md`node \`${n.name || '?'}\``;
    if (!Number.isInteger(n.number) || n.number < 0 || n.number > 254)
      p.push(md`${who}: number must be 0–254 (got ${Number.isNaN(n.number) ? 'none' : n.number})`);
    else if (seen.number.has(n.number))
      p.push(md`${who}: number ${n.number} is also ${seen.number.get(n.number) ?? '?'}'s`);
    else seen.number.set(n.number, n.name);
    if (!hostnameRe.test(n.name) || n.name.length > MAX_NODE_NAME)
      p.push(md`${who}: name must be a host name (letters, digits, "-", "."; at most ${MAX_NODE_NAME})`);
    else {
      // The kernel matches a node to a Host by hostname, case-insensitively, exactly or by the part
      // before the first '.': two names equal in that sense would both match one Host.
      const key = n.name.toLowerCase().split('.')[0]!;
      const prev = seen.name.get(key);
      if (prev !== undefined)
        p.push(
          md`${who}: name clashes with \`${prev}\` (names are compared case-insensitively, before the first ".")`,
        );
      else seen.name.set(key, n.name);
    }
    if (!isIPv4(n.ip)) p.push(md`${who}: ip_address \`${n.ip}\` must be an IPv4 address`);
    else if (seen.ip.has(n.ip)) p.push(md`${who}: ip_address ${n.ip} is also ${seen.ip.get(n.ip) ?? '?'}'s`);
    else seen.ip.set(n.ip, n.name);
    if (!Number.isInteger(n.port) || n.port < 1 || n.port > 65535)
      p.push(md`${who}: ip_port must be 1–65535 (got ${Number.isNaN(n.port) ? 'none' : n.port})`);
  }
  return p;
}

/**
 * The node a Host is, by the kernel's rule: node `name` equal to the Host's hostname case-insensitively, or
 * to the hostname's part before the first '.'.
 */
export function nodeForHostname(c: ClusterModel, hostname: string): ClusterNode | undefined {
  const h = hostname.toLowerCase();
  const short = h.split('.')[0]!;
  return c.nodes.find((n) => n.name.toLowerCase() === h || n.name.toLowerCase() === short);
}

/** Same cluster, same nodes (number, name, IP, port), same mode and regions. */
export function sameCluster(a: ClusterModel, b: ClusterModel): boolean {
  const key = (c: ClusterModel) =>
    JSON.stringify({
      name: c.name,
      mode: c.heartbeatMode,
      nodes: [...c.nodes].sort((x, y) => x.number - y.number),
      regions: [...c.regions].sort(),
    });
  return key(a) === key(b);
}

/** A unified-style line diff (`- old`, `+ new`, unchanged lines left out), at most `max` lines. */
export function diffLines(before: string, after: string, max = 40): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  // LCS table; cluster.conf is at most ~1 800 lines, so O(n·m) is fine.
  const w = b.length + 1;
  const lcs = new Uint16Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  const show = (s: string) => s.replace(/\t/g, '→');
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i * w + j + 1]! >= lcs[(i + 1) * w + j]!)) {
      out.push(`+ ${show(b[j++]!)}`);
    } else out.push(`- ${show(a[i++]!)}`);
  }
  return out.length > max ? [...out.slice(0, max), `… ${out.length - max} more changed lines`] : out;
}
