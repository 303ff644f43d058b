#!/usr/bin/env node
/**
 * flexvdi-chatops CLI: start | bot | worker | doctor | testbed …
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { destination } from 'pino';
import { exampleInventoryPath, loadConfig, loadLogLevel, requireSlackCredentials } from './config.js';
import { AppError, asAppError, ErrorCode } from './errors.js';
import { DEMO_PORT, withLocalSlack } from './local-slack.js';
import { createLogger, type Logger } from './log.js';
import { type Runtime, startRuntime } from './runtime.js';

const USAGE = `Usage: flexvdi-chatops <command> [options]

  demo [--port N] [--name NAME]
                          a 3-Host cluster on this machine (root), the whole product against the local Slack
                          workspace, and its console in the browser (default http://127.0.0.1:8080/); Ctrl-C
                          removes everything. Not root: the local workspace with the example inventory
  start [--local-slack]   bot + worker + monitor in one process. --local-slack: use the built-in local Slack
                          workspace (no Slack credentials needed; the example inventory if FLEXVDI_CONFIG is unset)
  bot                     the Slack bot only (HTTP receiver on PORT, or Socket Mode with SLACK_APP_TOKEN)
  worker                  a job worker only (GET /healthz and /metrics on PORT)
  monitor                 the heartbeat monitor only: one alert thread per Host incident in slack.alertChannel
  doctor                  check Redis, the Manager and every Host's SSH and pinned host key
  testbed up|down|status|fail|heal|replace   a flexVDI cluster on this machine (root; see README)

Environment: REDIS_URL, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_API_URL, PORT,
FLEXVDI_CONFIG, LOG_LEVEL.`;

/** `--port N` (the console's), else undefined. */
function consolePort(args: string[]): number | undefined {
  const i = args.indexOf('--port');
  if (i < 0) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new AppError(
      ErrorCode.configInvalid,
      `--port must be a port number 0–65535, got "${args[i + 1] ?? ''}"`,
    );
  return n;
}

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

async function runDemo(args: string[], log: Logger): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write(
      'demo: the 3-Host testbed needs root (network namespaces), so this is the local Slack workspace with the example inventory, whose Hosts do not exist.\n',
    );
    const port = args.includes('--port') ? [] : ['--port', String(DEMO_PORT)];
    await runRoles(['--local-slack', ...port, ...args], { bot: true, worker: true, monitor: true }, log);
    return;
  }
  const { startDemo } = await import('./demo.js');
  process.stdout.write('demo: starting a 3-Host testbed, Redis, the bot, a worker and the monitor…\n');
  const port = consolePort(args);
  const name = flagValue(args, '--name');
  // Ctrl-C while the testbed comes up: noted, and everything is removed as soon as start-up returns; a
  // second one leaves at once (the next `demo` removes what this one left).
  let stopping = false;
  let remove: (() => Promise<void>) | undefined;
  const onSignal = () => {
    if (stopping) {
      process.stdout.write('demo: leaving now; the next `demo` removes what is left.\n');
      process.exit(130);
    }
    stopping = true;
    process.stdout.write('demo: stopping; removing everything it made…\n');
    remove?.().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const demo = await startDemo({ log, ...(port === undefined ? {} : { port }), ...(name ? { name } : {}) });
  remove = async () => {
    await demo.stop();
    process.stdout.write('demo: stopped, everything removed.\n');
  };
  if (stopping) {
    await remove();
    process.exit(0);
  }
  process.stdout.write(
    `demo: ready in ${(demo.readyMs / 1000).toFixed(1)} s. Open ${demo.url} in a browser ` +
      `(testbed "${demo.testbed.name}", inventory ${demo.testbed.inventoryPath}). Ctrl-C stops it and removes everything it made.\n`,
  );
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
    local = await withLocalSlack(cfg, log, { port: consolePort(args) });
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
      'LOCAL SLACK MODE: no real Slack is involved',
    );
    process.stdout.write(
      `Local Slack workspace: open ${local.url}/ in a browser (its console; curl how-to at ${local.url}/howto).\n`,
    );
  }
  onSignals(log, async () => {
    await runtime.stop();
    await local?.close();
  });
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...args] = argv;
  // `testbed`, `doctor` and `demo` print for a person on stdout; their logs go to stderr so the two do not mix.
  const toStderr = cmd === 'testbed' || cmd === 'doctor' || cmd === 'demo';
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
      case 'demo':
        await runDemo(args, log);
        return undefined;
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
