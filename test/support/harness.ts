/**
 * A whole stack for integration tests: the Slack double, one or more runtimes (bot and/or worker roles) on
 * the run's private Redis with a key prefix of their own, and helpers that talk to the bot exactly as
 * Slack does (signed requests).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import type { AnyPlugin } from '../../src/core/plugin.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { type Runtime, type RuntimeOptions, startRuntime } from '../../src/runtime.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import {
  blockActionsPayload,
  type SendResult,
  type SlackDouble,
  startSlackDouble,
} from '../../src/slack-double/index.js';
import { createTestPlugin } from './test-plugin.js';

export const ADMIN = 'U0ADMIN01';
export const USER = 'U0USER001';
export const OPS = 'C0OPS0001';
export const OTHER_CHANNEL = 'C0RANDOM1';

export interface InventoryOptions {
  prefix: string;
  hosts?: { name: string; fqdn: string; ip: string; port?: number }[];
  extra?: string;
}

export function writeInventory(dir: string, o: InventoryOptions): string {
  const hosts = (o.hosts ?? [{ name: 'h1', fqdn: 'h1.flexvdi.test', ip: '10.230.9.11' }])
    .map((h) => `  - { name: ${h.name}, fqdn: ${h.fqdn}, ip: ${h.ip}, port: ${h.port ?? 22} }`)
    .join('\n');
  const file = path.join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    `manager:
  url: https://10.230.9.2
  username: admin
  password: { env: TEST_MANAGER_PASSWORD }
ssh:
  privateKeyPath: ./id_ed25519
  knownHostsPath: ./known_hosts
hosts:
${hosts}
slack:
  admins: [${ADMIN}]
  channels: [${OPS}]
  alertChannel: C0ALERTS1
jobs:
  prefix: ${o.prefix}
  backoffMs: 50
  lockTtlMs: 5000
${o.extra ?? ''}`,
  );
  return file;
}

export interface StackOptions {
  bots?: number;
  workers?: number;
  /**
   * Explicit roles per runtime (overrides `bots`/`workers`), e.g. `[{ bot: true, worker: false }, { bot: false,
   * worker: true }]` puts the bot and the worker in different runtimes.
   */
  roles?: { bot: boolean; worker: boolean }[];
  /** Another Redis than the run's shared one (e.g. a dedicated one a test stops and restarts). */
  redisUrl?: string;
  plugins?: readonly AnyPlugin[];
  tuning?: RuntimeOptions['workerTuning'];
  /** Live clients to use instead of the inventory's (e.g. a Manager client pointed at a stand-in). */
  services?: RuntimeOptions['services'];
  inventoryExtra?: string;
  /**
   * Use this inventory file (e.g. a testbed's) instead of writing one; the stack's key prefix is then the
   * file's `jobs.prefix` (its Slack admins and channels should be ADMIN and OPS). `inventoryExtra` is ignored.
   */
  inventoryPath?: string;
  /**
   * The bot in Socket Mode (SLACK_APP_TOKEN, no signing secret, no /slack/events): `send` and `click` go
   * over its WebSocket to the double, and a runtime's `port` serves only /healthz and /metrics.
   */
  socketMode?: boolean;
  log?: Logger;
}

export interface Stack {
  prefix: string;
  config: Config;
  /** The environment the config was loaded from (for child processes: REDIS_URL, FLEXVDI_CONFIG, SLACK_*). */
  env: Record<string, string>;
  redis: Redis;
  double: SlackDouble;
  runtimes: Runtime[];
  botUrls: string[];
  traceKey: string;
  trace(): Promise<string[]>;
  send(
    text: string,
    opts?: { user?: string; channel?: string; bot?: number; triggerId?: string; retryNum?: number },
  ): Promise<SendResult>;
  click(
    channel: string,
    ts: string,
    opts?: {
      user?: string;
      actionId?: string;
      bot?: number;
      value?: string;
      triggerId?: string;
      retryNum?: number;
    },
  ): Promise<SendResult>;
  /** Waits until the message at `ts` has text matching `re`. */
  waitForMessage(
    re: RegExp,
    opts?: { channel?: string; timeoutMs?: number },
  ): Promise<{ ts: string; text: string; blocks: unknown[] }>;
  stop(): Promise<void>;
}

export const blocksText = (blocks: unknown[]): string => JSON.stringify(blocks);

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const generated = `t${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-test-'));
  const inventory =
    o.inventoryPath ??
    writeInventory(dir, { prefix: generated, ...(o.inventoryExtra ? { extra: o.inventoryExtra } : {}) });
  const redisUrl = o.redisUrl ?? inject('redisUrl');
  const botToken = `xoxb-test-${generated}`;
  const appToken = `xapp-1-test-${generated}`;
  const double = await startSlackDouble({ botToken, ...(o.socketMode ? { appToken } : {}) });
  const env = {
    REDIS_URL: redisUrl,
    FLEXVDI_CONFIG: inventory,
    SLACK_BOT_TOKEN: botToken,
    ...(o.socketMode ? { SLACK_APP_TOKEN: appToken } : { SLACK_SIGNING_SECRET: double.signingSecret }),
    SLACK_API_URL: double.apiUrl,
    PORT: '0',
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  const prefix = config.inventory.jobs.prefix;
  const log = o.log ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  // Like a worker's connection, the test plugin's trace writes wait for Redis to come back (tests that restart it)
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // reconnects by itself; commands report their own errors
  const traceKey = `${prefix}:test-trace`;
  const plugins = o.plugins ?? [...builtinPlugins, createTestPlugin({ redis, traceKey })];
  const runtimes: Runtime[] = [];
  const nb = o.bots ?? 1;
  const nw = o.workers ?? 1;
  const roles =
    o.roles ?? Array.from({ length: Math.max(nb, nw) }, (_, i) => ({ bot: i < nb, worker: i < nw }));
  for (const r of roles) {
    runtimes.push(
      await startRuntime({
        config,
        log,
        roles: r,
        plugins,
        ...(o.tuning ? { workerTuning: o.tuning } : {}),
        ...(o.services ? { services: o.services } : {}),
      }),
    );
  }
  const botUrls = o.socketMode
    ? []
    : runtimes.filter((r) => r.bot).map((r) => `http://127.0.0.1:${r.port}/slack/events`);
  if (botUrls[0]) double.setBotUrl(botUrls[0]);
  const stack: Stack = {
    prefix,
    config,
    env,
    redis,
    double,
    runtimes,
    botUrls,
    traceKey,
    trace: () => redis.lrange(traceKey, 0, -1),
    // The double delivers as Slack does: a signed POST to the bot's URL, or over its Socket Mode connection.
    send: (text, s = {}) =>
      double.sendCommand(
        {
          text,
          userId: s.user ?? ADMIN,
          channelId: s.channel ?? OPS,
          responseUrl: double.responseUrl(s.channel ?? OPS, s.user ?? ADMIN),
          ...(s.triggerId ? { triggerId: s.triggerId } : {}),
        },
        {
          url: botUrls[s.bot ?? 0],
          ...(s.retryNum !== undefined ? { retryNum: s.retryNum, retryReason: 'http_timeout' } : {}),
        },
      ),
    click: (channel, ts, c = {}) => {
      const msg = double.store.findMessage(channel, ts);
      if (!msg) throw new Error(`no message ${channel}/${ts}`);
      const actionId = c.actionId ?? CONFIRM_ACTION;
      return double.sendInteraction(
        blockActionsPayload({
          userId: c.user ?? ADMIN,
          channelId: channel,
          responseUrl: double.responseUrl(channel, c.user ?? ADMIN),
          messageTs: ts,
          message: { ts, text: msg.text, blocks: msg.blocks },
          action: { actionId, value: c.value ?? findButtonValue(msg.blocks, actionId) ?? '' },
          ...(c.triggerId ? { triggerId: c.triggerId } : {}),
        }),
        {
          url: botUrls[c.bot ?? 0],
          ...(c.retryNum !== undefined ? { retryNum: c.retryNum, retryReason: 'http_timeout' } : {}),
        },
      );
    },
    async waitForMessage(re, w = {}) {
      const channel = w.channel ?? OPS;
      const found = await double.waitFor(
        () => double.messages(channel).find((m) => re.test(m.text) || re.test(blocksText(m.blocks))),
        { timeoutMs: w.timeoutMs ?? 20_000 },
      );
      return { ts: found.ts, text: found.text, blocks: found.blocks };
    },
    async stop() {
      for (const r of runtimes) await r.stop();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await double.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

export function findButtonValue(blocks: unknown[], actionId: string): string | undefined {
  for (const b of blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]) {
    if (b.type !== 'actions') continue;
    const el = b.elements?.find((e) => e.action_id === actionId);
    if (el) return el.value;
  }
  return undefined;
}
