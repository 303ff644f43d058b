/**
 * A testbed watched by the heartbeat monitor, for the monitor's testbed tests: Hosts in network namespaces,
 * the Slack double, real Redis (the suite's, or the test's own), the Manager stand-in, and N monitor
 * replicas started in this process once every Host answers. `stop` removes everything it made.
 */
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { type Monitor, startMonitor } from '../../src/monitor/monitor.js';
import { createServices, type Services } from '../../src/services.js';
import { type RecordedMessage, type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { type InventoryDoc, inventoryVariant, quietLog } from '../registration/helpers.js';
import { poll } from '../support/poll.js';

export const ALERTS = 'C0ALERTS1';
export const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

export interface MonitorBed {
  tb: TestbedInfo;
  config: Config;
  double: SlackDouble;
  /** A client of the same Redis, for the test's own reads and writes. */
  redis: Redis;
  services: Services;
  monitors: Monitor[];
  /** Top-level messages in the alert channel (incident parents). */
  parents(): RecordedMessage[];
  /** A thread's replies, as text. */
  replies(ts: string): string[];
  /** Resolves once every Host is healthy for every running monitor. */
  allHealthy(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitorBedOptions {
  name: string;
  hosts: number;
  /** The inventory's `monitor:` section (none: the defaults). */
  settings?: Record<string, unknown>;
  replicas?: number;
  redisUrl?: string;
  /** The monitors' Redis connection (default: a plain client of `redisUrl`). */
  connection?: () => Redis;
  /** As in production: a 429 is handed to the monitor, which waits Retry-After (default: on). */
  rejectRateLimited?: boolean;
  patch?: (doc: InventoryDoc) => void;
}

export async function monitorBed(o: MonitorBedOptions): Promise<MonitorBed> {
  const redisUrl = o.redisUrl ?? inject('redisUrl');
  const tb = await testbedUp({ name: o.name, hosts: o.hosts, log: quietLog });
  const made: {
    double?: SlackDouble;
    redis?: Redis;
    services?: Services;
    monitors: Monitor[];
    conns: Redis[];
  } = { monitors: [], conns: [] };
  const stop = async () => {
    try {
      for (const m of made.monitors) if (!stopped.has(m)) await m.stop();
      for (const c of made.conns) c.disconnect();
      await made.services?.ssh.close();
      if (made.redis) {
        const keys = await made.redis.keys(`${o.name}-${process.pid}:*`).catch(() => []);
        if (keys.length) await made.redis.del(...keys);
        made.redis.disconnect();
      }
      await made.double?.close();
    } finally {
      await testbedDown({ name: o.name, log: quietLog });
    }
  };
  try {
    const inventory = inventoryVariant(tb, `inventory-${o.name}.yaml`, (doc) => {
      doc.jobs = { ...doc.jobs, prefix: `${o.name}-${process.pid}` };
      if (o.settings) doc['monitor'] = o.settings;
      o.patch?.(doc);
    });
    const botToken = `xoxb-${o.name}`;
    const double = await startSlackDouble({ botToken });
    made.double = double;
    const config = loadConfig({
      FLEXVDI_CONFIG: inventory,
      REDIS_URL: redisUrl,
      SLACK_BOT_TOKEN: botToken,
      SLACK_SIGNING_SECRET: 'unused',
      SLACK_API_URL: double.apiUrl,
    });
    made.redis = new Redis(redisUrl);
    made.redis.on('error', () => {}); // a test may stop its Redis on purpose
    made.services = createServices(config, log);
    for (let i = 0; i < (o.replicas ?? 1); i++) {
      const conn = o.connection?.() ?? new Redis(redisUrl);
      made.conns.push(conn);
      made.monitors.push(
        await startMonitor({
          config,
          redis: conn,
          slack: new WebClient(botToken, {
            slackApiUrl: double.apiUrl,
            rejectRateLimitedCalls: o.rejectRateLimited ?? true,
            retryConfig: { retries: 0 },
          }),
          manager: made.services.manager,
          log,
        }),
      );
    }
    const allHealthy = () =>
      poll(
        'every Host healthy',
        () =>
          tb.hosts.every((h) =>
            made.monitors.every((m) => m.health(h.name)?.state === 'healthy' || !isRunning(m)),
          )
            ? true
            : undefined,
        { timeoutMs: 30_000 },
      ).then(() => undefined);
    await allHealthy();
    return {
      tb,
      config,
      double,
      redis: made.redis,
      services: made.services,
      monitors: made.monitors,
      parents: () => double.messages(ALERTS),
      replies: (ts) => double.thread(ALERTS, ts).map((m) => m.text),
      allHealthy,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

const stopped = new WeakSet<Monitor>();
/** Marks a monitor the test stopped (it no longer counts for `allHealthy`). */
export async function stopMonitor(m: Monitor): Promise<void> {
  stopped.add(m);
  await m.stop();
}
const isRunning = (m: Monitor) => !stopped.has(m);
