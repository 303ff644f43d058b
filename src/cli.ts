#!/usr/bin/env node
/**
 * flexvdi-chatops CLI: start | bot | worker | doctor | testbed …
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { randomBytes } from 'node:crypto';
import { destination } from 'pino';
import {
  type Config,
  exampleInventoryPath,
  loadConfig,
  loadLogLevel,
  requireSlackCredentials,
  Secret,
} from './config.js';
import { asAppError, ErrorCode } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { type Runtime, startRuntime } from './runtime.js';

const USAGE = `Usage: flexvdi-chatops <command> [options]

  start [--local-slack]   bot + worker + monitor in one process. --local-slack: use the built-in local Slack
                          workspace (no Slack credentials needed; the example inventory if FLEXVDI_CONFIG is unset)
  bot                     the Slack bot only (HTTP receiver on PORT, or Socket Mode with SLACK_APP_TOKEN)
  worker                  a job worker only (GET /healthz and /metrics on PORT)
  monitor                 the heartbeat monitor only: one alert thread per Host incident in slack.alertChannel
  doctor                  check Redis, the Manager and every Host's SSH and pinned host key
  testbed up|down|status|fail|heal|replace   a flexVDI cluster on this machine (root; see README)

Environment: REDIS_URL, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_API_URL, PORT,
FLEXVDI_CONFIG, LOG_LEVEL.`;

async function withLocalSlack(
  cfg: Config,
  log: Logger,
): Promise<{ cfg: Config; setBotUrl: (u: string) => void; url: string; close: () => Promise<void> }> {
  const { startSlackDouble } = await import('./slack-double/index.js');
  const botToken = `xoxb-local-${randomBytes(8).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const double = await startSlackDouble({
    botToken,
    signingSecret,
    log: log.child({ component: 'local-slack' }),
  });
  const local: Config = Object.freeze({
    ...cfg,
    slack: Object.freeze({
      signingSecret: new Secret(signingSecret),
      botToken: new Secret(botToken),
      appToken: undefined,
      apiUrl: double.apiUrl,
    }),
  });
  return { cfg: local, setBotUrl: (u) => double.setBotUrl(u), url: double.url, close: () => double.close() };
}

function onSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'shutting down: finishing active jobs');
      const force = setTimeout(() => process.exit(1), 60_000);
      force.unref();
      stop().then(
        () => process.exit(0),
        (err: Error) => {
          log.error({ err: err.message }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

async function runRoles(
  args: string[],
  roles: { bot: boolean; worker: boolean; monitor: boolean },
  log: Logger,
): Promise<void> {
  const localSlack = args.includes('--local-slack');
  let cfg = loadConfig(process.env, localSlack ? { defaultInventoryPath: exampleInventoryPath } : {});
  let local: Awaited<ReturnType<typeof withLocalSlack>> | undefined;
  if (localSlack) {
    local = await withLocalSlack(cfg, log);
    cfg = local.cfg;
  } else if (roles.bot) {
    requireSlackCredentials(cfg);
  } else if (!cfg.slack.botToken) {
    throw asAppError({
      name: 'AppError',
      code: ErrorCode.configMissing,
      message:
        'SLACK_BOT_TOKEN is required: the worker edits job messages and the monitor posts alerts in Slack',
    });
  }
  if (roles.monitor && local && cfg.inventoryPath === exampleInventoryPath) {
    log.warn("the example inventory's Hosts do not exist: the heartbeat monitor is off (set FLEXVDI_CONFIG)");
    roles = { ...roles, monitor: false };
  }
  let runtime: Runtime;
  try {
    runtime = await startRuntime({ config: cfg, log, roles });
  } catch (err) {
    await local?.close();
    throw err;
  }
  if (local) {
    local.setBotUrl(`http://127.0.0.1:${runtime.port}/slack/events`);
    log.info(
      { localSlack: local.url, inventory: cfg.inventoryPath },
      `LOCAL SLACK MODE: no real Slack is involved. Drive the bot with: ` +
        `curl -s -X POST ${local.url}/console/command -d 'text=help' -d 'user=U0ADMIN01' -d 'channel=C0OPS0001' ; ` +
        `read the conversation with: curl -s ${local.url}/console/messages ; click a button with: ` +
        `curl -s -X POST ${local.url}/console/click -d 'channel=C0OPS0001' -d 'ts=<message ts>' -d 'actionId=flexvdi_confirm' -d 'user=U0ADMIN01'`,
    );
  }
  onSignals(log, async () => {
    await runtime.stop();
    await local?.close();
  });
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...args] = argv;
  // `testbed` and `doctor` print for a person on stdout; their logs go to stderr so the two do not mix.
  const toStderr = cmd === 'testbed' || cmd === 'doctor';
  let level: string;
  try {
    level = loadLogLevel();
  } catch (err) {
    process.stderr.write(`flexvdi-chatops: ${asAppError(err).message}\n`);
    return 2;
  }
  const log = createLogger({ level }, toStderr ? destination(2) : undefined);
  try {
    switch (cmd) {
      case 'start':
        await runRoles(args, { bot: true, worker: true, monitor: true }, log);
        return undefined;
      case 'bot':
        await runRoles(args, { bot: true, worker: false, monitor: false }, log);
        return undefined;
      case 'worker':
        await runRoles(args, { bot: false, worker: true, monitor: false }, log);
        return undefined;
      case 'monitor':
        await runRoles(args, { bot: false, worker: false, monitor: true }, log);
        return undefined;
      case 'doctor': {
        const { runDoctor } = await import('./doctor.js');
        return await runDoctor(loadConfig(), log);
      }
      case 'testbed': {
        const { testbedCli } = await import('./testbed/cli.js');
        return await testbedCli(args, { log });
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command "${cmd}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    const e = asAppError(err);
    const usageError = e.code.startsWith('config.') || e.code.startsWith('args.');
    log.fatal({ code: e.code }, e.message);
    process.stderr.write(`flexvdi-chatops: ${e.message}\n`);
    return usageError ? 2 : 1;
  }
}

const code = await main(process.argv.slice(2));
if (code !== undefined) process.exit(code);
