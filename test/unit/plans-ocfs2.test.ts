/**
 * The decisions of `ocfs2 first-node` and `ocfs2 join` (src/plugins/ocfs2/decide-*.ts) on hand-built facts:
 * every refusal code, the no-op, go with exactly what is pinned, which rule wins when two apply, and where
 * gathering stops. Pure: no Redis, no sshd, no Manager.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config.js';
import type { Unresolved } from '../../src/core/plugin.js';
import {
  decideFirstNode,
  type FirstNodeArgs,
  type FirstNodeFacts,
  firstNodeSoFar,
} from '../../src/plugins/ocfs2/decide-first-node.js';
import {
  decideJoin,
  type JoinFacts,
  joinSoFar,
  type SourceFacts,
} from '../../src/plugins/ocfs2/decide-join.js';
import type { HostOcfs2, Ocfs2Files } from '../../src/plugins/ocfs2/host-ops.js';

const host = (n: number): InventoryHost => ({
  name: `host${n}`,
  fqdn: `host${n}.example.com`,
  ip: `10.0.0.1${n}`,
  port: 22,
});
const [host1, host2, host3] = [host(1), host(2), host(3)];

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** cluster.conf as `o2cb add-node` writes it, for `name` with host1 (node 0) and host2 (node 1). */
const confOf = (name: string) =>
  `cluster:\n\tname = ${name}\n\theartbeat_mode = local\n\tnode_count = 2\n\n` +
  `node:\n\tcluster = ${name}\n\tnumber = 0\n\tip_port = 7777\n\tip_address = 10.0.0.11\n\tname = host1\n\n` +
  `node:\n\tcluster = ${name}\n\tnumber = 1\n\tip_port = 7777\n\tip_address = 10.0.0.12\n\tname = host2\n\n`;
const CONF = confOf('flexvdilab');
const DEFAULTS = {
  heartbeatThreshold: 31,
  idleTimeoutMs: 30000,
  keepaliveDelayMs: 2000,
  reconnectDelayMs: 2000,
};
const settingsFor = (cluster: string) =>
  `O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=${cluster}\nO2CB_HEARTBEAT_THRESHOLD=31\n` +
  'O2CB_IDLE_TIMEOUT_MS=30000\nO2CB_KEEPALIVE_DELAY_MS=2000\nO2CB_RECONNECT_DELAY_MS=2000\n';

const node = (h: InventoryHost, over: Partial<HostOcfs2> = {}): HostOcfs2 => ({
  conf: null,
  settingsPath: '/etc/default/o2cb',
  settings: null,
  online: null,
  hostname: h.fqdn,
  addresses: [h.ip],
  ...over,
});

const unresolved: Unresolved = {
  kind: 'unresolved',
  asked: 'host9',
  reason: '`host9` is not in the inventory.',
};

describe('ocfs2 first-node', () => {
  const full = (over: Partial<FirstNodeFacts> = {}): FirstNodeFacts => ({
    kind: 'host',
    host: host1,
    registered: [host1, host2],
    from: 'manager',
    inventory: [host1, host2, host3],
    inventoryCluster: 'flexvdi-lab',
    node: { ok: true, value: node(host1) },
    ...over,
  });
  const plain: FirstNodeArgs = { force: false };
  const decide = (f: FirstNodeFacts | Unresolved, a: FirstNodeArgs = plain, isAdmin = true) =>
    decideFirstNode(f, a, isAdmin);

  it('refuses a Host not in the inventory, and one the Manager does not list', () => {
    expect(decide(unresolved)).toEqual({
      kind: 'refuse',
      code: 'inventory.unknown_host',
      reason: '`host9` is not in the inventory.',
    });
    expect(decide(full({ registered: [host2] }))).toEqual({ kind: 'refuse', code: 'ocfs2.not_registered' });
    // the Manager did not answer: the inventory stands in, nothing to refuse on
    expect(decide(full({ registered: [host1, host2, host3], from: 'inventory' })).kind).toBe('go');
  });

  it('refuses a cluster that would not be valid, naming each problem', () => {
    const small = decide(full(), { force: false, maxNodes: 1 });
    expect(small).toMatchObject({ kind: 'refuse', code: 'ocfs2.invalid_cluster' });
    if (small.kind !== 'refuse' || small.code !== 'ocfs2.invalid_cluster') throw new Error('not refused');
    expect(small.problems.map((p) => p.mrkdwn)).toEqual(['max nodes 1 is less than the 2 nodes listed']);
    expect(small.planned.nodes.map((n) => n.name)).toEqual(['host1', 'host2']);
    const taken = decide(full(), { force: false, reserve: 'spare=10.0.0.13' });
    if (taken.kind !== 'refuse' || taken.code !== 'ocfs2.invalid_cluster') throw new Error('not refused');
    expect(taken.problems.map((p) => p.mrkdwn)).toEqual([
      "reserved `spare`: 10.0.0.13 is host3's address in the inventory",
    ]);
  });

  it('refuses a Host that cannot be read, answers as another node, or lacks its IP', () => {
    expect(decide(full({ node: { ok: false, error: 'host1 has no `o2cb`' } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.unreadable',
      error: 'host1 has no `o2cb`',
    });
    expect(decide(full({ node: { ok: true, value: node(host1, { hostname: 'host2' }) } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.hostname_mismatch',
      hostname: 'host2',
      node0: 'host1',
    });
    expect(decide(full({ node: { ok: true, value: node(host1, { addresses: ['192.168.1.5'] }) } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.ip_not_carried',
      addresses: ['192.168.1.5'],
    });
  });

  it('refuses while o2cb is online for another cluster or another file, even with --force by an admin', () => {
    const other = node(host1, { online: 'vdi' });
    expect(decide(full({ node: { ok: true, value: other } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.cluster_online',
      online: 'vdi',
      change: null,
    });
    const differs = node(host1, { online: 'flexvdilab', conf: confOf('flexvdilab').replace('7777', '7778') });
    expect(decide(full({ node: { ok: true, value: differs } }), { force: true }, true)).toMatchObject({
      code: 'ocfs2.cluster_online',
      online: 'flexvdilab',
      change: { current: differs.conf, planned: CONF },
    });
  });

  it('refuses to replace a different cluster.conf without --force; --force needs an admin', () => {
    const old = confOf('old');
    const f = full({ node: { ok: true, value: node(host1, { conf: old }) } });
    const change = { current: old, planned: CONF };
    expect(decide(f)).toEqual({ kind: 'refuse', code: 'ocfs2.conf_differs', change });
    expect(decide(f, plain, false)).toEqual({ kind: 'refuse', code: 'ocfs2.conf_differs', change });
    expect(decide(f, { force: true }, false)).toEqual({
      kind: 'refuse',
      code: 'ocfs2.force_needs_admin',
      change,
    });
    const forced = decide(f, { force: true }, true);
    expect(forced).toMatchObject({ kind: 'go', change, pinned: { before: sha(old) } });
  });

  it('is a no-op when the Host already is the first node, online and enabled at boot', () => {
    const done = node(host1, { conf: CONF, online: 'flexvdilab', settings: settingsFor('flexvdilab') });
    expect(decide(full({ node: { ok: true, value: done } }))).toEqual({ kind: 'noop', name: 'flexvdilab' });
    // not enabled at boot for it: still something to do
    const notAtBoot = { ...done, settings: settingsFor('other') };
    expect(decide(full({ node: { ok: true, value: notAtBoot } })).kind).toBe('go');
  });

  it('goes with the exact file, the Host’s timeouts and the counts pinned', () => {
    const d = decide(full(), { force: false, reserve: 'host9=10.0.0.19', maxNodes: 16 });
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    const withSpare =
      confOf('flexvdilab').replace('node_count = 2', 'node_count = 3') +
      'node:\n\tcluster = flexvdilab\n\tnumber = 2\n\tip_port = 7777\n\tip_address = 10.0.0.19\n\tname = host9\n\n';
    expect(d.pinned).toEqual({
      host: 'host1',
      conf: withSpare,
      cluster: 'flexvdilab',
      timeouts: DEFAULTS,
      before: null,
      settingsPath: '/etc/default/o2cb',
      maxNodes: 16,
      nodes: 3,
      reserved: 1,
    });
    expect(d.change).toBeNull();
    const named = decide(full(), { force: false, clusterName: 'vdi' });
    expect(named).toMatchObject({ kind: 'go', pinned: { cluster: 'vdi', conf: confOf('vdi'), maxNodes: 8 } });
  });

  it('decides the cluster before reading the Host, so an invalid one is never read', () => {
    const { node: _n, ...unread } = full();
    expect(firstNodeSoFar(unread, plain, true)).toBeUndefined();
    expect(firstNodeSoFar(unread, { force: false, maxNodes: 1 }, true)?.kind).toBe('refuse');
    expect(() => decide(unread)).toThrow(/incomplete facts/);
  });
});

describe('ocfs2 join', () => {
  const files = (conf: string | null, over: Partial<Ocfs2Files> = {}): Ocfs2Files => ({
    conf,
    settingsPath: '/etc/default/o2cb',
    settings: null,
    online: null,
    ...over,
  });
  const agreed = (...answers: [InventoryHost, Ocfs2Files | string][]): SourceFacts => ({
    kind: 'agreed',
    answers: answers.map(([h, r]) => ({
      host: h,
      read: typeof r === 'string' ? { ok: false, error: r } : { ok: true, value: r },
    })),
  });
  const full = (over: Partial<JoinFacts> = {}): JoinFacts => ({
    kind: 'hosts',
    all: false,
    from: 'manager',
    targets: [host2],
    source: agreed([host1, files(CONF)]),
    nodes: [{ host: host2, read: { ok: true, value: node(host2) } }],
    ...over,
  });

  it('refuses a Host not in the inventory', () => {
    expect(decideJoin(unresolved)).toMatchObject({ kind: 'refuse', code: 'inventory.unknown_host' });
  });

  it('refuses a --first-node that is unknown, unreadable or without a cluster.conf', () => {
    const named = (found: Extract<SourceFacts, { kind: 'named' }>['found']): JoinFacts =>
      full({ source: { kind: 'named', ip: '10.0.0.11', found } });
    expect(decideJoin(named(null))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.first_node_unknown',
      ip: '10.0.0.11',
    });
    expect(decideJoin(named({ host: host1, read: { ok: false, error: 'timed out' } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.first_node_unreadable',
      host: 'host1',
      error: 'timed out',
    });
    expect(decideJoin(named({ host: host1, read: { ok: true, value: files(null) } }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.first_node_no_conf',
      host: host1,
    });
    // a named first node is the source even when another Host holds a different file
    expect(decideJoin(named({ host: host1, read: { ok: true, value: files(CONF) } })).kind).toBe('go');
  });

  it('refuses when no registered Host has a cluster.conf, naming those that did not answer', () => {
    expect(decideJoin(full({ source: agreed([host1, files(null)], [host3, 'no route']) }))).toEqual({
      kind: 'refuse',
      code: 'ocfs2.no_cluster',
      single: true,
      down: ['host3'],
    });
    expect(decideJoin(full({ all: true, source: agreed() }))).toMatchObject({
      code: 'ocfs2.no_cluster',
      single: false,
    });
  });

  it('refuses when the Hosts’ files differ, grouping the Hosts by file', () => {
    const other = confOf('other');
    const d = decideJoin(full({ source: agreed([host1, files(CONF)], [host3, files(other)]) }));
    expect(d).toEqual({
      kind: 'refuse',
      code: 'ocfs2.confs_differ',
      groups: [
        { hosts: ['host1'], sha256: sha(CONF) },
        { hosts: ['host3'], sha256: sha(other) },
      ],
    });
    // Hosts agreeing on one file (one of them down) are a source: the first in inventory order
    const same = decideJoin(
      full({ source: agreed([host3, 'down'], [host1, files(CONF)], [host2, files(CONF)]) }),
    );
    expect(same).toMatchObject({ kind: 'go', pinned: { source: 'host1' } });
  });

  it('refuses a source file that is not a valid cluster.conf, before reading the targets', () => {
    const bad = full({ source: agreed([host1, files('cluster:\n\tname = x\n')]) });
    const d = decideJoin(bad);
    expect(d).toMatchObject({ kind: 'refuse', code: 'ocfs2.invalid_source_conf', source: 'host1' });
    if (d.kind === 'refuse' && d.code === 'ocfs2.invalid_source_conf')
      expect(d.problems.length).toBeGreaterThan(0);
    const { nodes: _n, ...unread } = bad;
    expect(joinSoFar(unread)).toMatchObject({ code: 'ocfs2.invalid_source_conf' });
  });

  it('refuses one Host that is not listed, blocked by o2cb, or unreadable', () => {
    const as = (value: HostOcfs2) => full({ nodes: [{ host: host2, read: { ok: true, value } }] });
    const stranger = decideJoin(as(node(host2, { hostname: 'host7.example.com' })));
    expect(stranger).toMatchObject({ kind: 'refuse', code: 'ocfs2.node_not_listed' });
    if (stranger.kind === 'refuse' && stranger.code === 'ocfs2.node_not_listed')
      expect(stranger.reason.mrkdwn).toContain(
        "host2 is not a node: node 1 has host2's IP 10.0.0.12 but is named `host2`, and the hostname is `host7.example.com`",
      );
    expect(decideJoin(as(node(host2, { online: 'vdi' })))).toMatchObject({
      kind: 'refuse',
      code: 'ocfs2.cluster_online',
    });
    const down = full({ nodes: [{ host: host2, read: { ok: false, error: 'ssh timed out' } }] });
    expect(decideJoin(down)).toEqual({
      kind: 'refuse',
      code: 'ocfs2.unreadable',
      host: 'host2',
      error: 'ssh timed out',
    });
  });

  it('is a no-op when every target is in sync and online', () => {
    const synced = node(host2, { conf: CONF, online: 'flexvdilab', settings: settingsFor('flexvdilab') });
    const d = decideJoin(full({ nodes: [{ host: host2, read: { ok: true, value: synced } }] }));
    expect(d.kind).toBe('noop');
    if (d.kind === 'noop') expect(d.view.rows.map((r) => r.standing.kind)).toEqual(['in-sync']);
  });

  it('goes with the source’s file and timeouts and the Hosts to join pinned', () => {
    expect(decideJoin(full())).toMatchObject({
      kind: 'go',
      pinned: { source: 'host1', conf: CONF, cluster: 'flexvdilab', timeouts: DEFAULTS, targets: ['host2'] },
      skipped: [],
    });
  });

  it('--all: an unreachable Host is still a target, one not listed is skipped, not refused', () => {
    const d = decideJoin(
      full({
        all: true,
        targets: [host1, host2, host3],
        source: agreed([host1, files(CONF, { settings: settingsFor('flexvdilab') })]),
        nodes: [
          {
            host: host1,
            read: {
              ok: true,
              value: node(host1, { conf: CONF, online: 'flexvdilab', settings: settingsFor('flexvdilab') }),
            },
          },
          { host: host2, read: { ok: false, error: 'timed out' } },
          { host: host3, read: { ok: true, value: node(host3) } },
        ],
      }),
    );
    expect(d).toMatchObject({ kind: 'go', pinned: { targets: ['host2'] }, skipped: ['host3'] });
    if (d.kind === 'go')
      expect(d.pinned).toEqual({
        source: 'host1',
        conf: CONF,
        cluster: 'flexvdilab',
        timeouts: DEFAULTS,
        targets: ['host2'],
      });
  });

  it('decides the source before reading the targets; not after', () => {
    const { nodes: _n, ...unread } = full();
    expect(joinSoFar(unread)).toBeUndefined();
    expect(joinSoFar({ ...unread, source: agreed() })?.kind).toBe('refuse');
    expect(() => decideJoin(unread)).toThrow(/incomplete facts/);
  });
});
