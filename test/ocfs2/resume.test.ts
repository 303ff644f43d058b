/**
 * Crashes, Hosts down and replaced Hosts, on a test-scoped testbed with the worker as a real child process
 * (crash-worker.ts) and the bot in this process:
 * - first-node --force over a different cluster.conf, the worker SIGKILLed right after writing the file and
 *   before verifying: the next worker resumes; one correct file and exactly one backup (the old file);
 * - join --all with a Host down: the others finish, the job ends "partly done" naming it, `/flexvdi retry` completes it
 *   without touching the Hosts already done;
 * - a replaced Host (new machine, same name and IP; re-pinned as replace-host does) rejoins.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import { CLUSTER_CONF, renderClusterConf } from '../../src/plugins/ocfs2/cluster-conf.js';
import { ocfs2Plugin } from '../../src/plugins/ocfs2/index.js';
import { createServices } from '../../src/services.js';
import { replacePin } from '../../src/ssh/index.js';
import {
  failHost,
  healHost,
  replaceHost,
  type TestbedInfo,
  testbedDown,
  testbedUp,
} from '../../src/testbed/index.js';
import { pendingPlanOf, planOf, runConfirmed, waitForJobState } from '../support/flow.js';
import { OPS, type Stack, startStack } from '../support/harness.js';
import { hostFile, onHost } from '../support/hosts.js';
import { exited, startWorker, stopWorker, type WorkerOptions } from '../support/workers.js';
import {
  configOf,
  listCluster,
  ocfs2Files,
  onlineCluster,
  quietLog,
  registerWithManager,
} from './helpers.js';

const NAME = 'oc-resume';
const CLUSTER = 'testbedocresume';
const CONF = '/etc/ocfs2/cluster.conf';
const TUNING = { lockDurationMs: 2000, stalledIntervalMs: 1000, confirmTtlMs: 120_000 };
/** Right after cluster.conf is written on the Host, before the step's checkpoint (between writing and verifying). */
const AFTER_CONF_WRITE = {
  command: 'ocfs2 first-node',
  step: 'write-conf',
  afterWrite: CLUSTER_CONF,
} satisfies NonNullable<WorkerOptions['crash']>[number];
let tb: TestbedInfo;
let config: Config;
let s: Stack;
let worker: ChildProcess | undefined;
const ip = (n: string) => config.inventory.hosts.find((h) => h.name === n)!.ip;

const expected = () =>
  renderClusterConf({
    name: CLUSTER,
    heartbeatMode: 'local',
    nodes: ['host1', 'host2', 'host3'].map((n, i) => ({ number: i, name: n, ip: ip(n), port: 7777 })),
    regions: [],
  });

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 3, log: quietLog });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, ['host1', 'host2', 'host3']);
  s = await startStack({ inventoryPath: tb.inventoryPath, workers: 0 });
  worker = await startWorker(s, { tuning: TUNING, crash: [AFTER_CONF_WRITE] });
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

const OLD =
  'cluster:\n\tname = oldclu\n\theartbeat_mode = local\n\tnode_count = 1\n\nnode:\n\tcluster = oldclu\n\tnumber = 0\n\tip_port = 7777\n\tip_address = 10.9.9.9\n\tname = host1\n\n';

describe('a worker killed between writing cluster.conf and verifying it', () => {
  it('a different cluster.conf is refused without --force, with the diff', async () => {
    await onHost(NAME, 'host1', 'printf "%s" "$1" > /etc/ocfs2/cluster.conf', [OLD]);
    const plan = await planOf(s, 'ocfs2 first-node host1');
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('already has a different /etc/ocfs2/cluster.conf');
    expect(plan.text).toContain('`--force`');
    expect(plan.text).toContain('- →name = oldclu');
    expect(plan.text).toContain(`+ →name = ${CLUSTER}`);
  });

  it('--force: the next worker resumes; one correct file and exactly one backup holding the old one', async () => {
    const dying = worker!;
    const plan = await pendingPlanOf(s, 'ocfs2 first-node host1 --force');
    expect(plan.text).toContain("--force: host1's current /etc/ocfs2/cluster.conf is replaced");
    await s.click(OPS, plan.ts);
    await exited(dying);
    expect(dying.signalCode).toBe('SIGKILL');
    // the kill came after the write: the new file is already there, the job is not done
    expect(await hostFile(NAME, 'host1', CONF)).toBe(expected());
    worker = await startWorker(s, { tuning: TUNING });
    const done = await waitForJobState(s, plan.ts, ['completed', 'failed'], 90_000);
    expect(done.record.state).toBe('completed');
    const files = await ocfs2Files(NAME, 'host1');
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('cluster.conf');
    expect(files[1]).toMatch(/^cluster\.conf\.bak\.\S+$/);
    expect(await hostFile(NAME, 'host1', `/etc/ocfs2/${files[1]}`)).toBe(OLD);
    expect(await hostFile(NAME, 'host1', CONF)).toBe(expected());
    expect((await listCluster(NAME, 'host1', CLUSTER))?.nodes.map((n) => n.name)).toEqual([
      'host1',
      'host2',
      'host3',
    ]);
    expect(await onlineCluster(NAME, 'host1')).toBe(CLUSTER);
  }, 120_000);
});

describe('join --all with a Host down', () => {
  it('the others finish; the job ends partly done naming the Host; retry completes only what is missing', async () => {
    let planTs = '';
    // Down before the plan: an SSH connection already open to a Host whose link drops is only declared
    // dead by the keepalive (~60 s); a new one fails after the inventory's connect timeout (5 s).
    await failHost({ name: NAME, host: 'host3', mode: 'link-down', log: quietLog });
    try {
      const plan = await planOf(s, 'ocfs2 join --all');
      planTs = plan.ts;
      expect(plan.text).toContain('*host2*: joins as node 1');
      expect(plan.text).toMatch(/\*host3\*: unreachable now \(.*\) — will be tried/);
      await s.click(OPS, plan.ts);
      const failed = await waitForJobState(s, plan.ts, 'partial', 120_000);
      expect(failed.record.hosts?.['host3']?.state).toBe('failed');
      expect(failed.text).toMatch(/host3 +failed/);
      expect(failed.text).toContain('Joining failed on host3');
      expect(failed.text).toContain('host2 joined');
      expect(failed.text).toContain('/flexvdi retry');
    } finally {
      await healHost({ name: NAME, host: 'host3', log: quietLog });
    }
    expect(await hostFile(NAME, 'host2', CONF)).toBe(expected());
    expect(await hostFile(NAME, 'host3', CONF)).toBeNull();
    const host2Before = await onHost(
      NAME,
      'host2',
      'ls -A /etc/ocfs2; stat -c "%i %Y" /etc/ocfs2/cluster.conf',
    );

    const jobId = (await waitForJobState(s, planTs, 'partial')).record.jobId!;
    const res = JSON.parse((await s.send(`retry ${jobId}`)).body || '{}') as { text?: string };
    expect(res.text ?? '').not.toContain('only failed jobs');
    const done = await waitForJobState(s, planTs, 'completed', 90_000);
    expect(done.text).toContain('*host2*: done in an earlier run');
    for (const h of ['host1', 'host2', 'host3']) {
      expect(await hostFile(NAME, h, CONF)).toBe(expected());
      expect(await onlineCluster(NAME, h)).toBe(CLUSTER);
    }
    expect(await onHost(NAME, 'host2', 'ls -A /etc/ocfs2; stat -c "%i %Y" /etc/ocfs2/cluster.conf')).toBe(
      host2Before,
    );
  }, 180_000);
});

describe('a replaced Host', () => {
  it('shows as drift in status and rejoins with `ocfs2 join <host>`', async () => {
    await replaceHost({ name: NAME, host: 'host2', log: quietLog });
    // what replace-host's first step does: pin the replacement's host key in the product's known_hosts
    const [keyType, keyBase64] = (await onHost(NAME, 'host2', 'cat /etc/ssh/ssh_host_ed25519_key.pub'))
      .trim()
      .split(/\s+/);
    const h2 = config.inventory.hosts.find((h) => h.name === 'host2')!;
    await replacePin(config.inventory.ssh.knownHostsPath, [h2.ip, h2.fqdn, h2.name], h2.port, {
      keyType: keyType!,
      keyBase64: keyBase64!,
    });
    const st = await planOf(s, 'ocfs2 status');
    expect(st.record.state).toBe('findings');
    expect(st.text).toContain('host2: no cluster.conf — rejoin: `/flexvdi ocfs2 join host2`');
    // what replace-host can ask the plugin
    const services = createServices(config, quietLog);
    try {
      const ps = {
        ...services,
        config,
        log: quietLog,
        board: {} as MonitorBoard, // the OCFS2 API never reads the monitor's board
        hostRoles: async () => [],
      };
      const signal = new AbortController().signal;
      expect(await ocfs2Plugin.api(ps).membership(h2, signal)).toEqual({
        cluster: CLUSTER,
        node: { number: 1, name: 'host2', ip: ip('host2'), port: 7777 },
        source: 'host1',
        rejoin: '/flexvdi ocfs2 join host2',
      });
      // and what replace-host shows of it
      const roles = await ocfs2Plugin.hostRoles(ps, h2, signal);
      expect(roles.map((r) => [r.plugin, r.role.mrkdwn, r.afterReplace?.mrkdwn])).toEqual([
        [
          'ocfs2',
          `node 1 (\`host2\`) of OCFS2 cluster \`${CLUSTER}\``,
          'rejoin it: `/flexvdi ocfs2 join host2`',
        ],
      ]);
    } finally {
      await services.ssh.close();
    }

    const r = await runConfirmed(s, 'ocfs2 join host2');
    expect(r.plan).toContain('*host2*: joins as node 1 `host2`');
    expect(r.record.state).toBe('completed');
    expect(await hostFile(NAME, 'host2', CONF)).toBe(expected());
    expect(await onlineCluster(NAME, 'host2')).toBe(CLUSTER);
  });
});
