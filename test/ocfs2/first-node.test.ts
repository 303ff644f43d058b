/**
 * The OCFS2 procedure end to end on a test-scoped testbed (real sshd, real ocfs2-tools, emulated o2cb
 * online): the cluster summary and its buttons, Confirm clicked twice, the first node's file read back by
 * the real `o2cb list-cluster`, `join --all`, a reserved slot taken by a Host registered later (by the first
 * node's IP, no other node touched), a Host that is not listed refused with the reason, re-running
 * first-node (no-op; refused while online), and drift found by `ocfs2 status`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { renderClusterConf, sha256 } from '../../src/plugins/ocfs2/cluster-conf.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { eventually, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import {
  configOf,
  listCluster,
  ocfs2Files,
  onlineCluster,
  quietLog,
  registerWithManager,
} from './helpers.js';

const NAME = 'oc-first';
/** The inventory's cluster name `testbed-oc-first`, made a valid OCFS2 name. */
const CLUSTER = 'testbedocfirst';
const CONF = '/etc/ocfs2/cluster.conf';
let tb: TestbedInfo;
let config: Config;
let s: Stack;
const ip = (n: string) => config.inventory.hosts.find((h) => h.name === n)!.ip;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 6, log: quietLog });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, ['host1', 'host2', 'host3']);
  s = await startStack({ inventoryPath: tb.inventoryPath });
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

/** What first-node plans: the registered Hosts, then host4's reserved slot. */
const expected = () => ({
  name: CLUSTER,
  heartbeatMode: 'local' as const,
  nodes: ['host1', 'host2', 'host3', 'host4'].map((n, i) => ({ number: i, name: n, ip: ip(n), port: 7777 })),
  regions: [],
});

describe('first node', () => {
  let planTs = '';

  it('plans the cluster summary: registered Hosts, the reserved slot, timeouts, Confirm/Edit/Cancel', async () => {
    const plan = await planOf(s, `ocfs2 first-node host1 --reserve host4=${ip('host4')}`);
    planTs = plan.ts;
    expect(plan.record.state).toBe('awaiting-confirmation');
    expect(plan.text).toContain(`Name: \`${CLUSTER}\` · heartbeat mode: local`);
    expect(plan.text).toContain('Max nodes: 8 — 3 listed, 1 reserved, 4 more without a name yet');
    expect(plan.text).toContain('Hosts registered with the Manager (3 of 6 in the inventory)');
    expect(plan.text).toContain(`*host1* ${ip('host1')}:7777 — first node`);
    expect(plan.text).toContain(`*host3* ${ip('host3')}:7777`);
    expect(plan.text).toContain(`*host4* ${ip('host4')}:7777 — _reserved_`);
    expect(plan.text).toContain(
      'heartbeat threshold 31 (a silent node fences itself after 60 s), idle 30000 ms',
    );
    expect(plan.text).toMatch(/Not in the cluster: host5 \([\d.]+\), host6/);
    const m = s.double.store.findMessage(OPS, plan.ts)!;
    const actions = m.blocks.find((b) => (b as { type: string }).type === 'actions') as {
      elements: { action_id: string }[];
    };
    expect(actions.elements.map((e) => e.action_id)).toEqual([
      'flexvdi_confirm',
      'flexvdi_edit',
      'flexvdi_cancel',
    ]);
    expect(await hostFile(NAME, 'host1', CONF)).toBeNull(); // nothing written before Confirm
  });

  it('Confirm clicked twice runs once; the file is read back by the real o2cb; o2cb is online', async () => {
    const [a, b] = await Promise.all([s.click(OPS, planTs), s.click(OPS, planTs)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const done = await waitForJobState(s, planTs, ['completed', 'failed']);
    expect(done.record.state).toBe('completed');
    expect(done.text).toContain('o2cb list-cluster` reads back the planned cluster');
    await eventually(s, () =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('Already confirmed by')),
    );
    const runs = (await s.runtimes[0]!.queue.getJobs(['completed', 'failed', 'active', 'waiting'])).filter(
      (j) => j.name === 'ocfs2 first-node' && j.data.phase === 'run',
    );
    expect(runs).toHaveLength(1);
    expect(await hostFile(NAME, 'host1', CONF)).toBe(renderClusterConf(expected()));
    expect(await listCluster(NAME, 'host1', CLUSTER)).toEqual(expected());
    expect(await onlineCluster(NAME, 'host1')).toBe(CLUSTER);
    const settings = await hostFile(NAME, 'host1', '/etc/default/o2cb');
    expect(settings).toMatch(/^O2CB_ENABLED=true$/m);
    expect(settings).toMatch(new RegExp(`^O2CB_BOOTCLUSTER=${CLUSTER}$`, 'm'));
    expect(await ocfs2Files(NAME, 'host1')).toEqual(['cluster.conf']); // no previous file, no backup

    // raw output on demand: each remote operation the job made on host1, with its exit code and output
    const jobId = runs[0]!.id!;
    const before = s.double.ephemerals(OPS, ADMIN).length;
    await s.send(`job ${jobId} --host host1.flexvdi.test`);
    const raw = await eventually(s, () => s.double.ephemerals(OPS, ADMIN)[before]);
    expect(raw.text).toContain(`*Job \`${jobId}\` on host1*`);
    expect(raw.text).toMatch(/write `\/etc\/ocfs2\/cluster\.conf` → exit 0/);
    expect(raw.text).toMatch(/exec `[^`]*o2cb[^`]*` → exit 0/);
    expect(raw.text).toContain('secrets redacted');
    const none = s.double.ephemerals(OPS, ADMIN).length;
    await s.send(`job ${jobId} --host host3`);
    const other = await eventually(s, () => s.double.ephemerals(OPS, ADMIN)[none]);
    expect(other.text).toContain('has no recorded remote operations on *host3*');
  });

  it('the same command again is a no-op that says so', async () => {
    const plan = await planOf(s, `ocfs2 first-node host1 --reserve host4=${ip('host4')}`);
    expect(plan.record.state).toBe('noop');
    expect(plan.text).toContain('already the first node');
    expect(plan.confirmId).toBeUndefined();
  });
});

describe('other nodes', () => {
  it('join --all: every registered Host gets a byte-identical file, read back by the real o2cb, online', async () => {
    const r = await runConfirmed(s, 'ocfs2 join --all');
    expect(r.plan).toContain('*host1*: already node 0, in sync and online');
    expect(r.plan).toContain('*host2*: joins as node 1 `host2`');
    expect(r.record.state).toBe('completed');
    const want = renderClusterConf(expected());
    for (const h of ['host1', 'host2', 'host3']) {
      expect(await hostFile(NAME, h, CONF)).toBe(want);
      expect(await listCluster(NAME, h, CLUSTER)).toEqual(expected());
      expect(await onlineCluster(NAME, h)).toBe(CLUSTER);
    }
  });

  it('a Host registered later takes its reserved slot by the first node’s IP; no other node is touched', async () => {
    await registerWithManager(NAME, config, ['host4']);
    const stamp = (h: string) =>
      onHost(NAME, h, 'ls -A /etc/ocfs2; stat -c "%i %Y %s" /etc/ocfs2/cluster.conf /etc/default/o2cb');
    const before = await Promise.all(['host1', 'host2', 'host3'].map(stamp));
    const r = await runConfirmed(s, `ocfs2 join host4 --first-node ${ip('host1')}`);
    expect(r.plan).toContain(`Source: host1 (${ip('host1')})`);
    expect(r.plan).toContain('*host4*: joins as node 3 `host4`');
    expect(r.record.state).toBe('completed');
    expect(await hostFile(NAME, 'host4', CONF)).toBe(renderClusterConf(expected()));
    expect(await onlineCluster(NAME, 'host4')).toBe(CLUSTER);
    expect(await Promise.all(['host1', 'host2', 'host3'].map(stamp))).toEqual(before);
  });

  it('a Host that is not listed is refused with the reason and the offline procedure; nothing is written', async () => {
    await registerWithManager(NAME, config, ['host5']);
    const plan = await planOf(s, 'ocfs2 join host5');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain(`host5 is not a node: no node of cluster \`${CLUSTER}\` is named \`host5\``);
    expect(plan.text).toContain('only takes new nodes offline');
    expect(plan.text).toContain('`service o2cb offline` on every node');
    expect(plan.confirmId).toBeUndefined();
    expect(await hostFile(NAME, 'host5', CONF)).toBeNull();
  });

  it('a join naming an IP no inventory Host has is refused', async () => {
    const plan = await planOf(s, 'ocfs2 join host2 --first-node 10.99.0.1');
    expect(plan.text).toContain('No inventory Host has IP 10.99.0.1');
  });

  it('first-node on a Host whose o2cb is online with another configuration is refused, showing the diff', async () => {
    // host4 and host5 are registered now: the node list (and so the file) would change
    const plan = await planOf(s, 'ocfs2 first-node host1 --force');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('changing it needs the cluster offline');
    expect(plan.text).toContain('+ →name = host5');
    expect(await hostFile(NAME, 'host1', CONF)).toBe(renderClusterConf(expected()));
  });
});

describe('ocfs2 status', () => {
  it('reports every node in sync with the first node, and the Hosts that are not nodes', async () => {
    const { record, text } = await planOf(s, 'ocfs2 status');
    expect(record.state).toBe('completed');
    expect(text).toContain(
      `OCFS2 cluster \`${CLUSTER}\`: 4 node(s) in sync with host1, online, same timeouts`,
    );
    expect(text).toContain('*host1*: node 0 (first node)');
    expect(text).toContain(`conf \`${sha256(renderClusterConf(expected())).slice(0, 12)}\``);
    expect(text).toContain('*host5*: not listed · no cluster.conf · offline');
    expect(text).not.toContain(':warning:');
  });

  it('calls out drift: other timeouts, a changed cluster.conf, o2cb offline', async () => {
    await onHost(
      NAME,
      'host3',
      "sed -i 's/^O2CB_HEARTBEAT_THRESHOLD=.*/O2CB_HEARTBEAT_THRESHOLD=61/' /etc/default/o2cb",
    );
    await onHost(NAME, 'host2', "sed -i 's/ip_port = 7777/ip_port = 7778/' /etc/ocfs2/cluster.conf");
    await onHost(NAME, 'host4', `service o2cb offline ${CLUSTER} >/dev/null`);
    const { record, text } = await planOf(s, 'ocfs2 status');
    expect(record.state).toBe('findings');
    expect(text).toContain('drift on 3 Host(s)');
    expect(text).toContain('host3: o2cb timeouts differ from host1');
    expect(text).toContain('heartbeat threshold 61');
    expect(text).toContain("host2: cluster.conf differs from host1's");
    expect(text).toContain('host4: o2cb offline');
    expect(text).not.toContain('• host1:');
  });
});
