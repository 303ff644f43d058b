/**
 * Assembles the roles of the program (bot, worker, monitor) from a Config: one process can run all of them
 * (`start`) or one each (`bot`, `worker`, `monitor`), any number of replicas on one Redis. Owns start-up order, the private Redis
 * when REDIS_URL is unset, and graceful shutdown.
 */
import type { Server } from 'node:http';
import { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Bot, boltLogger, createBot } from './bot/app.js';
import { closeServer, listeningPort, startHealthServer } from './bot/http.js';
import type { Config } from './config.js';
import type { AnyPlugin } from './core/plugin.js';
import { assertPlannedCommands, createRegistry, type Registry } from './core/registry.js';
import { AppError, ErrorCode } from './errors.js';
import { createQueue, deterministicId, enqueue, type FlexQueue, queueSettingsOf } from './jobs/queue.js';
import { assertRedisReachable, createRedis } from './jobs/redis.js';
import { createWorker, type FlexWorker, type WorkerDeps } from './jobs/worker.js';
import { type PrivateRedis, startPrivateRedis } from './local-redis.js';
import { createMetrics } from './metrics.js';
import type { AutoRun } from './monitor/auto-run.js';
import { MonitorBoard } from './monitor/board.js';
import { type Monitor, startMonitor } from './monitor/monitor.js';
import { POST_TIMEOUT_MS } from './monitor/poster.js';
import { builtinPlugins } from './plugins/index.js';
import { createServices, type Services } from './services.js';

export interface RuntimeOptions {
  config: Config;
  log: Logger;
  roles: { bot: boolean; worker: boolean; monitor?: boolean };
  /** Plugins to register (default: the shipped ones). */
  plugins?: readonly AnyPlugin[];
  /** Replaces live clients for the plugins (tests: a Manager client pointed elsewhere). */
  services?: Partial<Services>;
  workerTuning?: WorkerDeps['tuning'];
}

export interface Runtime {
  redisUrl: string;
  port: number;
  queue: FlexQueue;
  bot?: Bot;
  worker?: FlexWorker;
  monitor?: Monitor;
  stop(): Promise<void>;
}

export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  const { config, log } = o;
  // Checked before anything is started: a bad plugin set or setting leaves nothing running behind.
  const registry = createRegistry(o.plugins ?? builtinPlugins);
  assertPlannedCommands(registry, 'slack.approvals.commands', config.inventory.slack.approvals.commands);
  let privateRedis: PrivateRedis | undefined;
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    privateRedis = await startPrivateRedis({ label: 'runtime', appendOnly: true });
    redisUrl = privateRedis.url;
    log.warn(
      { redis: redisUrl, dir: privateRedis.dir },
      'REDIS_URL is not set: started a private redis-server (data is lost when this process ends; set REDIS_URL for production)',
    );
  }
  await assertRedisReachable(redisUrl);
  const metrics = createMetrics();
  const clientConn: Redis = createRedis(redisUrl, 'client');
  const workerConn: Redis = createRedis(redisUrl, 'worker');
  for (const c of [clientConn, workerConn])
    c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = createQueue(clientConn, config.inventory.jobs.prefix);
  metrics.watchQueue(queue);

  let bot: Bot | undefined;
  let worker: FlexWorker | undefined;
  let health: Server | undefined;
  let services: Services | undefined;
  let monitor: Monitor | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await monitor?.stop();
    await bot?.stop();
    if (health) await closeServer(health);
    // Waits for active jobs to finish their current step run (BullMQ's close semantics).
    await worker?.close();
    await services?.ssh.close();
    await queue.close();
    clientConn.disconnect();
    workerConn.disconnect();
    await privateRedis?.stop();
  };
  let port = 0;
  try {
    if (o.roles.worker || o.roles.monitor) services = createServices(config, log);
    if (o.roles.monitor) monitor = await startMonitorRole(o, clientConn, services!, registry, queue);
    if (o.roles.worker) {
      const slack = new WebClient(config.slack.botToken?.reveal(), {
        logger: boltLogger(log),
        ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
        rejectRateLimitedCalls: true,
        retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
      });
      worker = await createWorker({
        config,
        redis: workerConn,
        log,
        registry,
        slack,
        metrics,
        services: { ...services!, ...o.services },
        ...(o.workerTuning ? { tuning: o.workerTuning } : {}),
      });
    }
    if (o.roles.bot) {
      bot = createBot({ config, redis: clientConn, queue, log, registry, metrics });
      port = await bot.start(config.port);
    } else {
      health = await startHealthServer({ redis: clientConn, metrics }, config.port);
      port = listeningPort(health, config.port);
    }
  } catch (err) {
    // Nothing half-started is left behind: the worker stops taking jobs, connections close.
    await stop().catch((e: Error) => log.warn({ err: e.message }, 'cleaning up after a failed start'));
    throw err;
  }
  log.info({ roles: o.roles, port, commands: registry.commands.map((c) => c.id) }, 'flexvdi-chatops started');

  return {
    redisUrl,
    port,
    queue,
    ...(bot ? { bot } : {}),
    ...(worker ? { worker } : {}),
    ...(monitor ? { monitor } : {}),
    async stop() {
      if (stopped) return;
      await stop();
      log.info('flexvdi-chatops stopped');
    },
  };
}

/**
 * The monitor role: off (with a warning) in `start` when the inventory names no alert channel, an error when
 * it is the only role asked for. Its Slack client does not retry by itself: the poster keeps events in order
 * and retries them, honouring Retry-After.
 */
async function startMonitorRole(
  o: RuntimeOptions,
  redis: Redis,
  services: Services,
  registry: Registry,
  queue: FlexQueue,
): Promise<Monitor | undefined> {
  const { config, log } = o;
  if (!config.inventory.slack.alertChannel) {
    if (o.roles.bot || o.roles.worker) {
      log.warn('the inventory has no slack.alertChannel: the heartbeat monitor is off');
      return undefined;
    }
    throw new AppError(
      ErrorCode.configMissing,
      'the monitor needs slack.alertChannel in the inventory (a channel id)',
    );
  }
  const slack = new WebClient(config.slack.botToken?.reveal(), {
    logger: boltLogger(log),
    ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: POST_TIMEOUT_MS,
  });
  const live = { ...services, ...o.services };
  // What the plugins know each Host does (e.g. an OCFS2 node and when the cluster fences it), for its alert.
  const plugins = registry.services({
    ...live,
    config,
    log,
    board: new MonitorBoard(redis, config.inventory.jobs.prefix),
  });
  return startMonitor({
    config,
    redis,
    slack,
    manager: live.manager,
    log,
    roles: async (host, signal) =>
      (await plugins.hostRoles(host, signal)).map((r) => ({
        role: r.role,
        onLoss: r.onLoss ?? [],
        offers: r.offers ?? [],
      })),
    startJob: (run) => startAutoRun(config, registry, queue, run),
  });
}

/**
 * An offer the monitor runs by itself (the Manager's automatic failover): the command's plan job, in the
 * incident's thread, confirming itself unless its plan refuses; requested and confirmed by "monitor".
 */
export async function startAutoRun(
  config: Config,
  registry: Registry,
  queue: FlexQueue,
  run: AutoRun,
): Promise<void> {
  const spec = registry.get(run.command);
  const positional = spec?.positionals[0];
  if (!spec || !positional) throw new Error(`no command ${run.command} taking a Host`);
  await enqueue(
    queue,
    spec.id,
    {
      phase: 'plan',
      text: `${spec.id} ${run.on}`,
      args: { [positional]: run.on },
      requester: 'monitor',
      isAdmin: true,
      channel: run.channel,
      ...(run.threadTs ? { threadTs: run.threadTs } : {}),
      autoConfirm: {
        by: 'monitor',
        why: `automatic (inventory manager.autoFailover): ${run.host} lost, incident ${run.incidentId}, attempt ${run.attempt + 1}`,
      },
    },
    deterministicId(
      'p',
      'auto',
      run.incidentId,
      String(run.lostAt),
      run.command,
      run.on,
      String(run.attempt),
    ),
    queueSettingsOf(config.inventory.jobs),
  );
}
