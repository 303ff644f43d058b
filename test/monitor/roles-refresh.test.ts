/**
 * What the monitor does while all is quiet, which is most of its life: it reads what a Host does (its roles,
 * shown in the Host's alert) once when it starts and again soon after the product ran a job (the audit log's
 * newest entry changed) — not every minute, which cost an SSH handshake per Host per minute — and writes its
 * status view only when it changed, else every 5 s. One Host: a real OpenSSH sshd on this machine (the SSH
 * layer's fixture), watched through the product's heartbeat; real Redis; the Slack double.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { keys } from '../../src/jobs/keys.js';
import { MonitorBoard } from '../../src/monitor/board.js';
import { type Monitor, startMonitor } from '../../src/monitor/monitor.js';
import { type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';
import { type SshdFixture, startSshd } from '../ssh/sshd-fixture.js';
import { poll } from '../support/poll.js';
import { log } from './helpers.js';

const PREFIX = `roles-refresh-${process.pid}`;
let f: SshdFixture;
let double: SlackDouble;
let redis: Redis;
let monitor: Monitor | undefined;
const reads: number[] = [];

beforeAll(async () => {
  f = await startSshd({ label: 'roles' });
  const knownHosts = path.join(f.dir, 'known_hosts');
  await writeFile(knownHosts, await f.knownHostsText());
  const inventory = path.join(f.dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({
      cluster: { name: 'roles' },
      // Not read: the monitor runs without the Manager here (nothing listens there).
      manager: { url: 'https://127.0.0.1:9', username: 'admin', password: { env: 'UNUSED_PASSWORD' } },
      ssh: { user: 'root', privateKeyPath: f.clientKeyPath, knownHostsPath: knownHosts },
      hosts: [{ name: 'host1', fqdn: 'host1.flexvdi.test', ip: '127.0.0.1', port: f.port }],
      slack: { admins: ['U0ADMIN01'], channels: ['C0OPS0001'], alertChannel: 'C0ALERTS1' },
      jobs: { prefix: PREFIX },
    }),
  );
  double = await startSlackDouble({ botToken: 'xoxb-roles' });
  const redisUrl = inject('redisUrl');
  const config = loadConfig({
    FLEXVDI_CONFIG: inventory,
    REDIS_URL: redisUrl,
    SLACK_BOT_TOKEN: 'xoxb-roles',
    SLACK_SIGNING_SECRET: 'unused',
    SLACK_API_URL: double.apiUrl,
  });
  redis = new Redis(redisUrl);
  monitor = await startMonitor({
    config,
    redis: new Redis(redisUrl),
    slack: new WebClient('xoxb-roles', { slackApiUrl: double.apiUrl }),
    manager: undefined,
    log,
    roles: async () => {
      reads.push(Date.now());
      return [{ role: 'runs the test', onLoss: [], offers: [] }];
    },
  });
}, 60_000);

afterAll(async () => {
  await monitor?.stop();
  await redis?.quit();
  await double?.close();
  await f?.stop();
});

it('reads what the Host does when it starts, and again a few seconds after a job ended, not before', async () => {
  await poll('host1 healthy', () => monitor!.health('host1')?.state === 'healthy' || undefined, {
    timeoutMs: 30_000,
  });
  await poll('the first read', () => reads.length >= 1 || undefined, { timeoutMs: 30_000 });
  expect(monitor!.roles('host1')).toEqual([{ role: 'runs the test', onLoss: [], offers: [] }]);
  expect(reads).toHaveLength(1);
  // A job ends: the worker records it in the audit log.
  const ended = Date.now();
  await redis.xadd(keys(PREFIX).audit, '*', 'command', 'manager move-to vol1', 'outcome', 'succeeded');
  await poll('a second read after the job', () => reads.length >= 2 || undefined, { timeoutMs: 15_000 });
  expect(reads).toHaveLength(2);
  // Not sooner than 5 s after the first read (a burst of jobs costs one read), and within a few seconds.
  expect(reads[1]! - reads[0]!).toBeGreaterThanOrEqual(4900);
  expect(reads[1]! - ended).toBeLessThan(8000);
}, 60_000);

it('writes its status view when it changed, and while nothing changes only every 5 s to say it runs', async () => {
  await poll('host1 healthy', () => monitor!.health('host1')?.state === 'healthy' || undefined, {
    timeoutMs: 30_000,
  });
  const board = new MonitorBoard(redis, PREFIX);
  const view = await poll('the view shows host1 healthy', async () => {
    const v = await board.view();
    return v?.hosts[0]?.state === 'healthy' ? v : undefined;
  });
  const writes = [view.updatedAt];
  while (writes.length < 3) {
    const last = writes.at(-1)!;
    const v = await poll(
      'the next write of the view',
      async () => {
        const u = (await board.view())?.updatedAt;
        return u !== undefined && u !== last ? u : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    writes.push(v);
  }
  // Host states unchanged: the writes that follow are the 5 s refresh (the leader decides once a second).
  expect(writes[2]! - writes[1]!).toBeGreaterThanOrEqual(4900);
  expect(writes[2]! - writes[1]!).toBeLessThan(6500);
}, 60_000);
