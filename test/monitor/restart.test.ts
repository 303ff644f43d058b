/**
 * `flexvdi-chatops monitor` as real processes on a testbed: a monitor SIGKILLed in the middle of an incident
 * and a new one started continue the same thread — the recovery is a reply in it, the parent is edited to
 * resolved, and no reply appears twice; the alert says what the Host is (an OCFS2 node, read from another
 * Host's cluster.conf) and when the cluster acts on its loss at the cluster's o2cb timeouts. (A crash between
 * a post and its dequeue: test/monitor/poster.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { renderClusterConf } from '../../src/plugins/ocfs2/cluster-conf.js';
import { type RecordedMessage, type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';
import { failHost, healHost, type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { configOf, registerWithManager } from '../ocfs2/helpers.js';
import { inventoryVariant, quietLog } from '../registration/helpers.js';
import { onHost } from '../support/hosts.js';
import { poll } from '../support/poll.js';
import { exited } from '../support/workers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NAME = 'mon-rs';
const ALERTS = 'C0ALERTS1';
const BOT_TOKEN = 'xoxb-monitor-restart';

let tb: TestbedInfo;
let double: SlackDouble;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 2, log: quietLog });
  const inventory = inventoryVariant(tb, 'inventory-monitor.yaml', (doc) => {
    doc.jobs = { ...doc.jobs, prefix: `mon-rs-${process.pid}` };
    doc['monitor'] = { recoverAfterMs: 2000, leaseMs: 3000 };
  });
  // Both Hosts registered with the Manager (plugins read what a Host does from the registered ones).
  await registerWithManager(NAME, configOf(inventory), ['host1', 'host2']);
  double = await startSlackDouble({ botToken: BOT_TOKEN });
  env = {
    ...process.env,
    FLEXVDI_CONFIG: inventory,
    REDIS_URL: inject('redisUrl'),
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_API_URL: double.apiUrl,
    PORT: '0',
    LOG_LEVEL: 'info',
  };
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const redis = new Redis(inject('redisUrl'));
  const keys = await redis.keys(`mon-rs-${process.pid}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await double?.close();
  if (tb) await testbedDown({ name: NAME, log: quietLog });
});

/** Starts a monitor process; resolves once it says it leads (and, with `roles`, has read what Hosts do). */
function monitorProcess(o: { roles?: boolean } = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'monitor'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (
        out.includes('leading: deciding and posting') &&
        (!o.roles || out.includes('read what each Host does'))
      )
        resolve(child);
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`monitor exited with ${code} before leading:\n${out}`)));
  });
}

const parents = (): RecordedMessage[] => double.messages(ALERTS);
const replies = (ts: string) => double.thread(ALERTS, ts).map((m) => m.text);

it('a monitor killed mid-incident and restarted continues the same thread: one parent, one resolution', async () => {
  // host2 is node 2 of an OCFS2 cluster (per host1's cluster.conf), whose disk heartbeat threshold is 16.
  const conf = renderClusterConf({
    name: 'flexvdi',
    heartbeatMode: 'local',
    nodes: tb.hosts.map((h, i) => ({ number: i + 1, name: h.name, ip: h.ip, port: 7777 })),
    regions: [],
  });
  await onHost(NAME, 'host1', 'mkdir -p /etc/ocfs2 && printf %s "$1" > /etc/ocfs2/cluster.conf', [conf]);
  await onHost(
    NAME,
    'host1',
    'printf "O2CB_ENABLED=true\\nO2CB_HEARTBEAT_THRESHOLD=16\\n" > /etc/default/o2cb',
  );
  const first = await monitorProcess({ roles: true });
  await failHost({ name: NAME, host: 'host2', mode: 'link-down', log: quietLog });
  const parent = await poll('the alert thread', () => parents().find((m) => m.text.includes('host2')), {
    timeoutMs: 30_000,
  });
  // The alert says what the Host is, and when the cluster acts on its loss at the cluster's timeouts.
  const shown = JSON.stringify(parent.blocks);
  expect(shown).toContain('node 2 (`host2`) of OCFS2 cluster `flexvdi`');
  expect(shown).toMatch(
    /o2net gives up its connections \(idle timeout 30 s\)[^"]* at ~\d\d:\d\d:\d\d UTC \(in \d+ s\)/,
  );
  expect(shown).toContain('its disk heartbeat is declared dead (threshold 16)');
  first.kill('SIGKILL');
  await exited(first);
  await healHost({ name: NAME, host: 'host2', log: quietLog });
  await monitorProcess(); // leads once the killed one's lease has expired
  await poll(
    'the incident resolved',
    () => parents().find((m) => m.ts === parent.ts && m.text.startsWith('✅')),
    {
      timeoutMs: 60_000,
    },
  );
  expect(parents()).toHaveLength(1);
  const thread = replies(parent.ts);
  expect(thread.filter((t) => t.startsWith('✅ Recovered'))).toHaveLength(1);
  expect(new Set(thread).size).toBe(thread.length);
});
