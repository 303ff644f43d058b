/**
 * cluster.conf rendering, parsing and validation against the real ocfs2-tools `o2cb` on this machine (it
 * edits and reads a config file without the kernel module), the o2cb settings file, and the cluster summary
 * within Block Kit limits.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { planButtons } from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';
import { AppError } from '../../src/errors.js';
import type { ManagerClient } from '../../src/manager/index.js';
import { parseReserve } from '../../src/plugins/ocfs2/args.js';
import {
  type ClusterModel,
  diffLines,
  modelOf,
  nodeForHostname,
  parseClusterConf,
  renderClusterConf,
  sameCluster,
  validateCluster,
} from '../../src/plugins/ocfs2/cluster-conf.js';
import type { HostOcfs2 } from '../../src/plugins/ocfs2/host-ops.js';
import { nodeOfHost, type Standing, standingOf } from '../../src/plugins/ocfs2/membership.js';
import { clusterOf, planNodes } from '../../src/plugins/ocfs2/nodes.js';
import {
  DEFAULT_TIMEOUTS,
  renderSettings,
  settingsStateOf,
  timeoutsOf,
} from '../../src/plugins/ocfs2/o2cb-settings.js';
import { headroomAdvice, summarySections } from '../../src/plugins/ocfs2/summary.js';
import { registeredHosts } from '../../src/plugins/registration/registry-api.js';
import { LIMITS } from '../../src/slack/blocks.js';
import { renderJob } from '../../src/slack/job-view.js';
import { checkMessageLimits } from '../../src/slack-double/index.js';
import { O2CB_DEFAULTS } from '../../src/testbed/host-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ocfs2-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function o2cb(file: string, ...args: string[]) {
  const r = spawnSync('o2cb', [`--config-file=${file}`, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const three: ClusterModel = {
  name: 'vdi',
  heartbeatMode: 'local',
  nodes: [
    { number: 0, name: 'host1', ip: '10.0.0.11', port: 7777 },
    { number: 1, name: 'host2', ip: '10.0.0.12', port: 7777 },
    { number: 5, name: 'host6', ip: '10.0.0.16', port: 7778 },
  ],
  regions: [],
};

describe('rendering', () => {
  it('is byte-identical to the file the real o2cb writes for the same cluster', () => {
    const file = path.join(dir, 'made-by-o2cb.conf');
    expect(o2cb(file, 'add-cluster', 'vdi').code).toBe(0);
    for (const n of three.nodes) {
      const r = o2cb(
        file,
        'add-node',
        'vdi',
        n.name,
        '--ip',
        n.ip,
        '--number',
        String(n.number),
        '--port',
        String(n.port),
      );
      expect(r.code).toBe(0);
    }
    const text = renderClusterConf(three);
    expect(text).toBe(readFileSync(file, 'utf8'));
    // the format: heads at column 1, TAB-indented parameters, a blank line after each stanza
    expect(text.startsWith('cluster:\n\tname = vdi\n\theartbeat_mode = local\n\tnode_count = 3\n\n')).toBe(
      true,
    );
    expect(parseClusterConf(text).format).toEqual([]);
  });

  it('round-trips through the parser and through the real `o2cb list-cluster` output', () => {
    const text = renderClusterConf(three);
    const back = modelOf(text);
    expect(back.problems).toEqual([]);
    expect(sameCluster(back.model!, three)).toBe(true);
    const file = path.join(dir, 'ours.conf');
    spawnSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: text });
    const listed = o2cb(file, 'list-cluster', 'vdi');
    expect(listed.code).toBe(0);
    const read = modelOf(listed.stdout, 'vdi');
    expect(read.problems).toEqual([]);
    expect(sameCluster(read.model!, three)).toBe(true);
  });

  it('reads `o2cb list-cluster` of an unknown cluster (which exits 0) as no cluster', () => {
    const file = path.join(dir, 'ours.conf');
    const r = o2cb(file, 'list-cluster', 'nosuch');
    expect(r.code).toBe(0); // the quirk the verification must not trust
    expect(modelOf(r.stdout, 'nosuch').model).toBeUndefined();
  });
});

describe('validation: what o2cb accepts and we refuse', () => {
  it('duplicate IPs, port 70000 and h1 + H1 pass the real o2cb but not the validator', () => {
    const file = path.join(dir, 'bad.conf');
    expect(o2cb(file, 'add-cluster', 'bad').code).toBe(0);
    expect(o2cb(file, 'add-cluster', 'bad').code).toBe(0); // a duplicate add-cluster "succeeds"
    expect(o2cb(file, 'add-node', 'bad', 'h1', '--ip', '10.0.0.1', '--number', '0').code).toBe(0);
    expect(
      o2cb(file, 'add-node', 'bad', 'H1', '--ip', '10.0.0.1', '--number', '1', '--port', '70000').code,
    ).toBe(0);
    const { problems } = modelOf(readFileSync(file, 'utf8'));
    expect(problems.join('\n')).toMatch(/`H1`: name clashes with `h1`/);
    expect(problems.join('\n')).toMatch(/ip_address 10\.0\.0\.1 is also h1's/);
    expect(problems.join('\n')).toMatch(/ip_port must be 1–65535 \(got 70000\)/);
  });

  it('names, numbers, addresses and max nodes', () => {
    const bad = (patch: Partial<ClusterModel>, max?: number) =>
      validateCluster({ ...three, ...patch }, max).join('\n');
    expect(bad({ name: 'a-cluster' })).toMatch(/1–16 letters or digits/);
    expect(bad({ name: 'x'.repeat(17) })).toMatch(/1–16 letters or digits/);
    expect(bad({ name: 'x'.repeat(16) })).toBe('');
    expect(bad({ nodes: [{ number: 255, name: 'a', ip: '10.0.0.1', port: 7777 }] })).toMatch(
      /number must be 0–254/,
    );
    expect(bad({ nodes: [{ number: 0, name: 'a', ip: 'fe80::1', port: 7777 }] })).toMatch(/must be an IPv4/);
    expect(bad({ nodes: [{ number: 0, name: 'bad name', ip: '10.0.0.1', port: 7777 }] })).toMatch(
      /must be a host name/,
    );
    expect(
      bad({
        nodes: [
          { number: 0, name: 'a', ip: '10.0.0.1', port: 7777 },
          { number: 0, name: 'b', ip: '10.0.0.2', port: 7777 },
        ],
      }),
    ).toMatch(/number 0 is also a's/);
    expect(
      bad({
        nodes: [
          { number: 0, name: 'h1', ip: '10.0.0.1', port: 7777 },
          { number: 1, name: 'h1.example.com', ip: '10.0.0.2', port: 7777 },
        ],
      }),
    ).toMatch(/clashes with `h1`/);
    expect(bad({}, 2)).toMatch(/max nodes 2 is less than the 3 nodes/);
    expect(bad({}, 256)).toMatch(/between 1 and 255/);
    expect(bad({}, 3)).toBe('');
  });

  it('notes departures from the file format and a wrong node_count', () => {
    const text =
      'cluster:\n  name = c\n\tnode_count = 2\n\theartbeat_mode = local\nnode:\n\tcluster = c\n\tnumber = 0\n\tip_port = 7777\n\tip_address = 10.0.0.1\n\tname = a\n';
    const r = modelOf(text);
    expect(r.problems.join('\n')).toMatch(/line 2: parameter `name` must be indented with one TAB/);
    expect(r.problems.join('\n')).toMatch(/line 5: a blank line must separate stanzas/);
    expect(r.problems.join('\n')).toMatch(/node_count is 2 but the file lists 1 nodes/);
  });

  it('matches a node to a hostname by the kernel rule', () => {
    expect(nodeForHostname(three, 'HOST2')?.number).toBe(1);
    expect(nodeForHostname(three, 'host2.example.com')?.number).toBe(1);
    expect(nodeForHostname(three, 'host22')).toBeUndefined();
  });

  it('parses --reserve entries and names the first bad one', () => {
    expect(parseReserve('a=10.0.0.1,b.example.com=10.0.0.2\nc=10.0.0.3')).toEqual({
      ok: true,
      value: [
        { name: 'a', ip: '10.0.0.1' },
        { name: 'b.example.com', ip: '10.0.0.2' },
        { name: 'c', ip: '10.0.0.3' },
      ],
    });
    expect(parseReserve('a=10.0.0.1,b')).toMatchObject({ ok: false, error: '`b` is not name=ip' });
    expect(parseReserve('a;rm=10.0.0.1')).toMatchObject({ ok: false });
    expect(parseReserve('a=10.0.0.300')).toMatchObject({ ok: false });
  });

  it('diffs two files line by line', () => {
    const a = renderClusterConf(three);
    const b = renderClusterConf({ ...three, nodes: three.nodes.slice(0, 2) });
    const d = diffLines(a, b);
    expect(d).toContain('- →node_count = 3');
    expect(d).toContain('+ →node_count = 2');
    expect(d).toContain('- →name = host6');
    expect(d.every((l) => l.startsWith('- ') || l.startsWith('+ '))).toBe(true);
  });
});

// The node list is the registration plugin's registered Hosts (ocfs2 asks it with `fallback: 'inventory'`).
describe('the node list', () => {
  const hosts = ['a', 'b', 'c'].map((n, i) => ({
    name: n,
    fqdn: `${n}.example.com`,
    ip: `10.0.0.${i + 1}`,
    port: 22,
  }));
  const config = { inventory: { hosts } } as unknown as Config;
  const manager = (listHosts: ManagerClient['listHosts']) => ({ listHosts }) as ManagerClient;

  it('is the inventory Hosts the Manager lists (matched by FQDN, any case)', async () => {
    const r = await registeredHosts(
      {
        config,
        manager: manager(
          async () =>
            [{ hostId: 'C.EXAMPLE.COM' }, { hostId: 'a.example.com' }, { hostId: 'x.other' }] as never,
        ),
      },
      { fallback: 'inventory' },
    );
    expect(r.from).toBe('manager');
    expect(r.hosts.map((h) => h.name)).toEqual(['a', 'c']);
    expect(r.note.mrkdwn).toBe('the Hosts registered with the Manager (2 of 3 in the inventory)');
  });

  it('falls back to the inventory when the Manager does not answer, and says why', async () => {
    const r = await registeredHosts(
      {
        config,
        manager: manager(async () => {
          throw new AppError('manager.unreachable', 'x', {
            userMessage: 'The Manager at https://m is unreachable.',
          });
        }),
      },
      { fallback: 'inventory' },
    );
    expect(r.from).toBe('inventory');
    expect(r.hosts).toHaveLength(3);
    expect(r.note.mrkdwn).toContain('the Manager did not answer (The Manager at https://m is unreachable.)');
  });
});

describe('where a Host stands against the cluster', () => {
  const conf = renderClusterConf(three);
  const settings = renderSettings(O2CB_DEFAULTS, 'vdi', DEFAULT_TIMEOUTS);
  const inv = (name: string, ip: string) => ({ name, fqdn: `${name}.example.com`, ip, port: 22 });
  const state = (p: Partial<HostOcfs2>): HostOcfs2 => ({
    hostname: 'host6',
    addresses: ['10.0.0.16'],
    conf: null,
    settingsPath: '/etc/default/o2cb',
    settings: O2CB_DEFAULTS,
    online: null,
    ...p,
  });
  const at = (host: ReturnType<typeof inv>, s: HostOcfs2) =>
    standingOf(three, conf, DEFAULT_TIMEOUTS, host, s, 'host1');
  const reasonOf = (st: Standing) => ('reason' in st ? st.reason.mrkdwn : '');

  it('a Host matching a reserved slot joins; one with another IP is told why', () => {
    expect(at(inv('host6', '10.0.0.16'), state({}))).toMatchObject({ kind: 'join', node: { number: 5 } });
    const wrong = at(inv('host6', '10.0.0.99'), state({ addresses: ['10.0.0.99'] }));
    expect(wrong.kind).toBe('not-listed');
    expect(reasonOf(wrong)).toMatch(/reserved for 10\.0\.0\.16, but host6 is at 10\.0\.0\.99/);
    expect(reasonOf(wrong)).toMatch(/`service o2cb offline` on every node/);
  });

  it('in sync, blocked by o2cb online elsewhere, or not listed at all', () => {
    expect(at(inv('host6', '10.0.0.16'), state({ conf, settings, online: 'vdi' })).kind).toBe('in-sync');
    expect(at(inv('host6', '10.0.0.16'), state({ conf: `${conf}\n`, online: 'vdi' })).kind).toBe('blocked');
    expect(at(inv('host6', '10.0.0.16'), state({ online: 'other' })).kind).toBe('blocked');
    const stranger = at(
      inv('host7', '10.0.0.17'),
      state({ hostname: 'host7.example.com', addresses: ['10.0.0.17'] }),
    );
    expect(reasonOf(stranger)).toMatch(/no node of cluster `vdi` is named `host7`/);
  });
});

describe('o2cb settings', () => {
  it('enables the cluster with the timeouts, keeps the comments, and is idempotent', () => {
    const t = { ...DEFAULT_TIMEOUTS, heartbeatThreshold: 61 };
    const once = renderSettings(O2CB_DEFAULTS, 'vdi', t);
    expect(renderSettings(once, 'vdi', t)).toBe(once);
    expect(once).toContain("# O2CB_ENABLED: 'true' means to load the driver on boot.");
    expect(settingsStateOf(once)).toEqual({ enabled: true, bootCluster: 'vdi', timeouts: t });
    expect(once.match(/^O2CB_HEARTBEAT_THRESHOLD=/gm)).toHaveLength(1);
    expect(timeoutsOf(null)).toEqual(DEFAULT_TIMEOUTS);
    expect(renderSettings(null, 'vdi', DEFAULT_TIMEOUTS)).toContain('O2CB_BOOTCLUSTER=vdi\n');
  });
});

describe('the cluster summary', () => {
  const host = (i: number) => ({
    name: `host${i}`,
    fqdn: `host${i}.flexvdi.test`,
    ip: `10.230.9.${10 + i}`,
    port: 22,
  });
  function planFor(listed: number, reserved: number, maxNodes: number) {
    const hosts = Array.from({ length: listed }, (_, i) => host(i + 1));
    const res = Array.from({ length: reserved }, (_, i) => ({
      name: `r${i}`,
      ip: `10.231.${i >> 8}.${i & 255}`,
    }));
    const nodes = planNodes(hosts[0]!, hosts, res);
    const cluster = clusterOf('vdi', nodes);
    const sections = summarySections({
      cluster,
      nodes,
      maxNodes,
      timeouts: DEFAULT_TIMEOUTS,
      settingsPath: '/etc/default/o2cb',
      source: md`the Hosts registered with the Manager`,
      confSha: 'ab'.repeat(32),
    });
    const plan = {
      summary: md`Create OCFS2 cluster \`vdi\``,
      sections,
      warnings: [md`w`],
      edit: { title: 'Edit', fields: [] },
    };
    return {
      nodes,
      ...renderJob({
        text: 'ocfs2 first-node host1',
        requester: 'U1',
        state: 'awaiting-confirmation',
        confirmId: 'cx',
        expiresAt: Date.now() + 60_000,
        plan,
        extraButtons: planButtons(plan),
      }),
    };
  }

  it('64 nodes render within Block Kit limits, every node shown, with Confirm, Edit and Cancel', () => {
    const { text, blocks, nodes } = planFor(3, 61, 64);
    expect(nodes).toHaveLength(64);
    expect(checkMessageLimits(text, blocks)).toBeUndefined();
    expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    const all = JSON.stringify(blocks);
    for (const n of nodes) expect(all).toContain(`*${n.name}* ${n.ip}:7777`);
    expect(all.match(/_reserved_/g)).toHaveLength(61);
    const actions = blocks.find((b) => b['type'] === 'actions') as { elements: { action_id: string }[] };
    expect(actions.elements.map((e) => e.action_id)).toEqual([
      'flexvdi_confirm',
      'flexvdi_edit',
      'flexvdi_cancel',
    ]);
    expect(all).not.toContain('more blocks not shown');
  });

  it('255 nodes (the most OCFS2 allows) still render within the limits, buttons kept', () => {
    const { text, blocks } = planFor(1, 254, 255);
    expect(checkMessageLimits(text, blocks)).toBeUndefined();
    expect(JSON.stringify(blocks)).toContain('flexvdi_edit');
  });

  it('advises headroom only when max nodes equals the node count', () => {
    expect(headroomAdvice(8, 8)?.mrkdwn).toMatch(/No headroom.*--max-nodes 12/);
    expect(headroomAdvice(3, 8)).toBeUndefined();
  });
});

describe('which node stands for a Host (replace-host, hostRoles)', () => {
  it('finds a Host among the OCFS2 nodes by name, case-insensitively, short or full', () => {
    const conf =
      'cluster:\n\tnode_count = 2\n\tname = vdi\n\nnode:\n\tnumber = 0\n\tname = HOST1.example.com\n\tip_address = 10.0.0.1\n\tip_port = 7777\n\tcluster = vdi\n\nnode:\n\tnumber = 1\n\tname = host2\n\tip_address = 10.0.0.2\n\tip_port = 7777\n\tcluster = vdi\n';
    const model = modelOf(conf).model;
    expect(model).toBeDefined();
    if (!model) return;
    const host = (name: string) => ({ name, fqdn: `${name}.example.com`, ip: '10.0.0.9', port: 22 });
    expect(nodeOfHost(model, host('host1'))?.number).toBe(0);
    expect(nodeOfHost(model, host('host1'))?.name).toBe('HOST1.example.com');
    expect(nodeOfHost(model, host('host2'))?.number).toBe(1);
    expect(nodeOfHost(model, host('host3'))).toBeUndefined();
  });
});
