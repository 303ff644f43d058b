/**
 * The Slack app: Bolt with the HTTP receiver on POST /slack/events (signature and 5-minute timestamp checks
 * are Bolt's), or Socket Mode when an app token is configured. GET /healthz and GET /metrics are served on
 * the port `start` is given either way. The bot acks, enqueues and renders; it never opens SSH.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  App,
  type BlockAction,
  type ButtonAction,
  HTTPReceiver,
  LogLevel,
  type RespondFn,
  type Logger as SlackLogger,
  SocketModeReceiver,
  type ViewSubmitAction,
} from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { EDIT_ACTION } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import { AppError, type AppError as AppErrorType, asAppError, ErrorCode } from '../errors.js';
import { AuditLog } from '../jobs/audit.js';
import { Confirmations } from '../jobs/confirmations.js';
import { JobMessages } from '../jobs/job-messages.js';
import { keys } from '../jobs/keys.js';
import { type FlexQueue, queueSettingsOf } from '../jobs/queue.js';
import { isRedisUnavailableError } from '../jobs/redis.js';
import type { Metrics } from '../metrics.js';
import { ALERT_ACTIONS, MonitorBoard } from '../monitor/board.js';
import { CANCEL_ACTION, CONFIRM_ACTION } from '../slack/job-view.js';
import { slackErrorOf } from '../slack/updater.js';
import { handleButton } from './actions.js';
import {
  handleAcknowledge,
  handleDiagnose,
  handleHomeOpened,
  handleOffer,
  handleReplace,
} from './alert-actions.js';
import { handleSlashCommand } from './commands.js';
import type { BotContext } from './context.js';
import { EDIT_CALLBACK, handleEditClick, handleEditSubmission } from './edit.js';
import { Enqueuer } from './enqueuer.js';
import { closeServer, healthRoutes, listeningPort, startHealthServer } from './http.js';
import { handleTypeToConfirmSubmission, TYPE_TO_CONFIRM_CALLBACK, TYPED } from './type-to-confirm.js';

export interface BotDeps {
  config: Config;
  /** A fail-fast client connection (not the worker's blocking one). */
  redis: Redis;
  queue: FlexQueue;
  log: Logger;
  registry: Registry;
  metrics: Metrics;
}

export interface Bot {
  app: App;
  /**
   * Starts listening on `port` (0: any free one) and, in Socket Mode, connects; resolves with the HTTP port
   * (in Socket Mode it serves only /healthz and /metrics).
   */
  start(port: number): Promise<number>;
  /** Stops taking commands (in Socket Mode: once the socket is closed), then enqueues what was acked. */
  stop(): Promise<void>;
}

export function boltLogger(log: Logger): SlackLogger {
  const l = log.child({ component: 'bolt' });
  return {
    // Bolt logs at debug on every request: build the line only when it is written.
    debug: (...m) => {
      if (l.isLevelEnabled('debug')) l.debug(m.map(String).join(' '));
    },
    info: (...m) => l.info(m.map(String).join(' ')),
    warn: (...m) => l.warn(m.map(String).join(' ')),
    error: (...m) => l.error(m.map(String).join(' ')),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

export function createBot(deps: BotDeps): Bot {
  const { config, log } = deps;
  const token = config.slack.botToken?.reveal();
  if (!token) throw new AppError(ErrorCode.configMissing, 'SLACK_BOT_TOKEN is required to run the bot');
  const k = keys(config.inventory.jobs.prefix);
  const logger = boltLogger(log);
  const clientOptions = {
    ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
  };
  let receiver: HTTPReceiver | SocketModeReceiver;
  if (config.slack.appToken) {
    receiver = new SocketModeReceiver({
      appToken: config.slack.appToken.reveal(),
      logger,
      // The Socket Mode client's own WebClient (apps.connections.open) reads only these options, not App's.
      // Its retry policy stays the client's: reconnecting may take a while, and it retries as long as it
      // can. No customRoutes: the receiver would serve them on a port of its own (default 3000, listened on
      // without waiting or reporting errors); start() serves them on the port it is given instead.
      ...(config.slack.apiUrl
        ? { installerOptions: { clientOptions: { slackApiUrl: config.slack.apiUrl } } }
        : {}),
    });
  } else {
    const signingSecret = config.slack.signingSecret?.reveal();
    if (!signingSecret)
      throw new AppError(ErrorCode.configMissing, 'SLACK_SIGNING_SECRET is required for the HTTP receiver');
    receiver = new HTTPReceiver({
      signingSecret,
      endpoints: ['/slack/events'],
      customRoutes: healthRoutes({ redis: deps.redis, metrics: deps.metrics }),
      processBeforeResponse: false,
      logger,
      unhandledRequestTimeoutMillis: 2900,
    });
  }
  // No conversation store: nothing here keeps per-conversation state, and Bolt's default one looks every
  // request's channel up in memory (creating an Error for each miss) before the listener runs.
  // Bolt checks the token with auth.test when the App is built, without anyone waiting on it: a failure
  // (Slack unreachable, token refused) became an unhandled rejection whose dump carried the Authorization
  // header. Deferred, the check runs in start(), and its failure is a clean error.
  const app = new App({
    token,
    receiver,
    logger,
    clientOptions,
    convoStore: false,
    deferInitialization: true,
  });
  const audit = new AuditLog(deps.redis, k.audit);
  const queueSettings = queueSettingsOf(config.inventory.jobs);
  const enqueuer = new Enqueuer({ queue: deps.queue, audit, settings: queueSettings });
  const ctx: BotContext = {
    config,
    redis: deps.redis,
    queue: deps.queue,
    log,
    registry: deps.registry,
    metrics: deps.metrics,
    audit,
    confirmations: new Confirmations(deps.redis, k.confirm, k.confirmUsed),
    messages: new JobMessages({ slack: app.client, redis: deps.redis, keys: k, log }),
    keys: k,
    queueSettings,
    enqueuer,
    board: new MonitorBoard(deps.redis, config.inventory.jobs.prefix),
  };
  deps.metrics.watchQueue(deps.queue);

  // Nothing may fail silently after the ack: whatever a handler throws reaches the user who acted, with
  // what went wrong and what to do, and the log.
  const told =
    (what: string, respond: RespondFn, acked: () => boolean, ack: () => Promise<void>) =>
    async (err: unknown) => {
      const e = asAppError(err);
      log.error({ err: e.message, code: e.code, what }, 'Slack handler failed; the user was told');
      if (!acked()) await ack().catch(() => {});
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: failureText(what, e, isRedisUnavailableError(err)),
      }).catch((r: Error) => log.warn({ err: r.message }, 'could not tell the user about the failure'));
    };

  app.command(/^\/flexvdi/, async ({ command, ack, respond }) => {
    let acked = false;
    const once = async (r?: Parameters<typeof ack>[0]) => {
      acked = true;
      await ack(r);
    };
    await handleSlashCommand(ctx, command, once, respond).catch(
      told(
        `/flexvdi ${command.text}`,
        respond,
        () => acked,
        () => once(),
      ),
    );
  });
  for (const [actionId, outcome] of [
    [CONFIRM_ACTION, 'confirmed'],
    [CANCEL_ACTION, 'cancelled'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action, respond, client }) => {
      await ack();
      await handleButton(ctx, client, body, action, respond, outcome).catch(
        told(outcome === 'confirmed' ? 'Confirm' : 'Cancel', respond, () => true, ack),
      );
    });
  }
  // Edit on a plan that offers it (Plan.edit): a modal, then a new plan for the edited arguments.
  app.action<BlockAction<ButtonAction>>(EDIT_ACTION, async ({ ack, body, action, respond, client }) => {
    await ack();
    await handleEditClick(ctx, client, body, action, respond).catch(told('Edit', respond, () => true, ack));
  });
  // The buttons on the monitor's alerts (src/bot/alert-actions.ts): ack first, always.
  for (const [actionId, handle, what] of [
    [ALERT_ACTIONS.acknowledge, handleAcknowledge, 'Acknowledge'],
    [ALERT_ACTIONS.diagnose, handleDiagnose, 'Diagnose'],
    [ALERT_ACTIONS.replace, handleReplace, 'Replace host'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      await handle(ctx, body, action, respond).catch(told(what, respond, () => true, ack));
    });
  }
  // A plugin's offer on an alert: one action id per button (`monitor_offer:<command>:<host>`).
  app.action<BlockAction<ButtonAction>>(
    new RegExp(`^${ALERT_ACTIONS.offer}:`),
    async ({ ack, body, action, respond }) => {
      await ack();
      await handleOffer(ctx, body, action, respond).catch(told('the offer', respond, () => true, ack));
    },
  );
  // The Home tab (events are acked by Bolt itself): published from the board; the monitor refreshes it.
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await handleHomeOpened(ctx, client, event.user).catch((err: unknown) =>
      log.warn({ err: asAppError(err).message, user: event.user }, 'could not publish the Home tab'),
    );
  });
  app.view<ViewSubmitAction>(EDIT_CALLBACK, async ({ ack, body, view }) => {
    let acked = false;
    const once: typeof ack = async (r) => {
      acked = true;
      await ack(r);
    };
    await handleEditSubmission(ctx, body.user.id, view, once).catch(async (err: unknown) => {
      const e = asAppError(err);
      log.error({ err: e.message, code: e.code }, 'edit submission failed');
      // A modal has no response_url: the failure is shown in the modal itself when it is still open.
      const first = Object.keys(view.state.values)[0] ?? 'reserve';
      if (!acked)
        await ack({
          response_action: 'errors',
          errors: { [first]: failureText('the edit', e, isRedisUnavailableError(err)) },
        });
    });
  });
  // Type-to-confirm (src/bot/type-to-confirm.ts): the modal's submission is the Confirm.
  app.view<ViewSubmitAction>(TYPE_TO_CONFIRM_CALLBACK, async ({ ack, body, view, client }) => {
    let acked = false;
    const once: typeof ack = async (r) => {
      acked = true;
      await ack(r);
    };
    await handleTypeToConfirmSubmission(ctx, client, body.user.id, view, once).catch(async (err: unknown) => {
      const e = asAppError(err);
      log.error({ err: e.message, code: e.code }, 'type-to-confirm submission failed');
      if (!acked)
        await ack({
          response_action: 'errors',
          errors: { [TYPED]: failureText('the confirmation', e, isRedisUnavailableError(err)) },
        });
    });
  });
  app.error(async (err) => {
    log.error(
      { err: err.message, code: (err as { code?: string }).code },
      'unhandled error in a Slack handler',
    );
  });

  let server: Server | undefined;
  return {
    app,
    async start(port: number) {
      try {
        await app.init();
      } catch (err) {
        const why = slackErrorOf(err);
        throw new AppError(ErrorCode.slackApi, `Slack did not accept SLACK_BOT_TOKEN (auth.test): ${why}`, {
          userMessage: `Slack could not be reached or refused SLACK_BOT_TOKEN (auth.test: ${why}). Check the token and the network.`,
        });
      }
      // The workspace's URL, for links to alert threads (see MonitorBoard.setWorkspaceUrl): best effort, and
      // start-up does not wait for it (Redis or Slack being slow must not delay taking commands).
      void app.client.auth
        .test()
        .then((r) => (r.url ? ctx.board.setWorkspaceUrl(r.url) : undefined))
        .catch((err: unknown) =>
          log.debug({ err: asAppError(err).message }, 'workspace URL not known: thread links use slack.com'),
        );
      if (receiver instanceof SocketModeReceiver) {
        server = await startHealthServer({ redis: deps.redis, metrics: deps.metrics }, port);
        try {
          await app.start();
        } catch (err) {
          await closeServer(server);
          const e = asAppError(err);
          throw new AppError(ErrorCode.slackApi, `Socket Mode could not connect to Slack: ${e.message}`, {
            cause: err,
            userMessage:
              'Socket Mode could not connect to Slack: check SLACK_APP_TOKEN (an app-level xapp- token with connections:write)',
          });
        }
        return listeningPort(server, port);
      }
      server = (await receiver.start(port)) as Server;
      // The requests being handled: commands acked meanwhile are enqueued once these are answered.
      server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
        enqueuer.requestStarted();
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          enqueuer.requestEnded();
        };
        res.once('finish', end);
        res.once('close', end);
      });
      return listeningPort(server, port);
    },
    async stop() {
      // Bolt's Socket Mode receiver asks the socket to close without waiting for it; the client's own
      // disconnect() resolves once it is closed (the receiver's then finds nothing left to close).
      if (receiver instanceof SocketModeReceiver) await receiver.client.disconnect().catch(() => {});
      await app.stop().catch(() => {});
      if (receiver instanceof SocketModeReceiver && server) await closeServer(server);
      // Commands already acked are enqueued before the queue's connection closes.
      await enqueuer.drain();
      await ctx.messages.flush();
    },
  };
}

/** What a user is told when handling their command or click failed after the ack. */
function failureText(what: string, e: AppErrorType, redisDown: boolean): string {
  const clean = what.replace(/[`<>&]/g, '').slice(0, 200);
  if (redisDown)
    return `Could not handle \`${clean}\`: Redis is unavailable right now. Check \`/flexvdi jobs\` in a minute before trying again.`;
  return `Could not handle \`${clean}\`: ${e.userMessage.replace(/[<>&]/g, '')} (\`${e.code}\`). Check \`/flexvdi jobs\` before trying again; if it keeps failing, an admin can read the bot's log.`;
}
