/**
 * A Redis outage under a running monitor (a dedicated redis-server with AOF, as production runs it): the
 * monitor keeps probing while Redis is down, and a Host lost and back again entirely within the outage is
 * told once Redis is back — one thread, opened and resolved with the real times, saying it was told late.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createRedis } from '../../src/jobs/redis.js';
import { type PrivateRedis, startPrivateRedis } from '../../src/local-redis.js';
import { MonitorBoard } from '../../src/monitor/board.js';
import type { Monitor } from '../../src/monitor/monitor.js';
import type { SlackDouble } from '../../src/slack-double/index.js';
import { failHost, healHost } from '../../src/testbed/index.js';
import { quietLog } from '../registration/helpers.js';
import { poll } from '../support/poll.js';
import { type MonitorBed, monitorBed } from './helpers.js';

const NAME = 'mon-rd';
const ALERTS = 'C0ALERTS1';

let dir: string;
let redis: PrivateRedis;
let config: Config;
let double: SlackDouble;
let monitor: Monitor;
let conn: ReturnType<typeof createRedis>;

let bed: MonitorBed;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-monitor-outage-'));
  redis = await startPrivateRedis({ label: 'outage', appendOnly: true, dir });
  bed = await monitorBed({
    name: NAME,
    hosts: 2,
    redisUrl: redis.url,
    settings: { recoverAfterMs: 2000 },
    rejectRateLimited: false,
    // The connection the runtime gives the monitor (commands fail fast while Redis is down).
    connection: () => {
      conn = createRedis(redis.url, 'client');
      conn.on('error', () => {});
      return conn;
    },
  });
  ({ config, double } = bed);
  monitor = bed.monitors[0]!;
  await poll('leading', () => (monitor.leading ? true : undefined), { timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  try {
    await bed?.stop();
  } finally {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

it('a Host lost and back while Redis was down is told once Redis is back: one thread, resolved, told late', async () => {
  await redis.stop(); // SIGTERM: Redis flushes its AOF and exits
  await poll('the monitor no longer leading', () => (monitor.leading ? undefined : true), {
    timeoutMs: 20_000,
  });
  const cutAt = Date.now();
  await failHost({ name: NAME, host: 'host1', mode: 'link-down', log: quietLog });
  // Probing goes on without Redis: the loss and the recovery are seen.
  await poll('host1 lost', () => (monitor.health('host1')?.state === 'lost' ? true : undefined), {
    timeoutMs: 20_000,
  });
  const healedAt = Date.now();
  await healHost({ name: NAME, host: 'host1', log: quietLog });
  await poll('host1 healthy again', () => (monitor.health('host1')?.state === 'healthy' ? true : undefined), {
    timeoutMs: 30_000,
  });
  expect(double.messages(ALERTS)).toEqual([]);
  redis = await startPrivateRedis({ label: 'outage', appendOnly: true, dir, port: redis.port });
  const parent = await poll(
    'the late thread, resolved',
    () => double.messages(ALERTS).find((m) => m.text.startsWith('✅ *host1*')),
    { timeoutMs: 30_000 },
  );
  expect(JSON.stringify(parent.blocks)).toContain(
    'Told late: this happened while the monitor could not reach Redis',
  );
  expect(parent.text).toMatch(
    /is back: lost at \d\d:\d\d:\d\d UTC, answering since \d\d:\d\d:\d\d UTC \(down [\d.]+ s\)$/,
  );
  const thread = double.thread(ALERTS, parent.ts).map((m) => m.text);
  expect(thread).toHaveLength(1);
  expect(thread[0]).toMatch(/^✅ Recovered at .*, after [\d.]+ s down\.$/);
  // The real times: lost within a heartbeat of the cut, back after the heal (and the 2 s of proven health).
  const board = new MonitorBoard(conn, config.inventory.jobs.prefix);
  const inc = (await board.incidents(['host1'])).get('host1')!;
  expect(inc).toMatchObject({ state: 'resolved', toldLate: true });
  expect(inc.lostAt).toBeGreaterThanOrEqual(cutAt - 1000);
  expect(inc.lostAt).toBeLessThanOrEqual(cutAt + 1000);
  expect(inc.resolvedAt!).toBeGreaterThanOrEqual(healedAt + 2000);
  // Told once: decisions made after it was told (the view is rewritten every second) tell nothing more.
  const toldAt = Date.now();
  await poll('two more decisions', async () =>
    ((await board.view())?.updatedAt ?? 0) > toldAt + 1000 ? true : undefined,
  );
  expect(double.messages(ALERTS)).toHaveLength(1);
  expect(double.thread(ALERTS, parent.ts)).toHaveLength(1);
});
