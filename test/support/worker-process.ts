/**
 * A worker-only runtime with the test plugin, as a real child process, so tests can SIGKILL it mid-job:
 *   node --import tsx test/support/worker-process.ts
 * Environment: REDIS_URL, FLEXVDI_CONFIG (its `jobs.prefix` is the key prefix), SLACK_BOT_TOKEN,
 * SLACK_API_URL, PORT (0: any free port for /healthz), LOG_LEVEL, and for the tests:
 *   TEST_TRACE_KEY          Redis list the test plugin's steps write their trace to (required)
 *   TEST_TUNING             JSON worker tuning, e.g. {"lockDurationMs":2000,"stalledIntervalMs":1000}
 *   TEST_CRASH_BEFORE_STEP  a step id: the process SIGKILLs itself when that step is about to start, i.e.
 *                           after the previous step's checkpoint is written and before this step does anything
 * Prints `ready <pid>` on stdout once the worker takes jobs; logs go to stderr. SIGTERM stops it gracefully.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { type AnyCommand, definePlugin } from '../../src/core/plugin.js';
import type { WorkerDeps } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { startRuntime } from '../../src/runtime.js';
import { changeCommand, probeCommand } from './test-plugin.js';

const env = process.env;
const traceKey = env['TEST_TRACE_KEY'];
if (!traceKey) {
  process.stderr.write('worker-process: TEST_TRACE_KEY is required\n');
  process.exit(2);
}
const tuning = env['TEST_TUNING'] ? (JSON.parse(env['TEST_TUNING']) as WorkerDeps['tuning']) : undefined;
const crashBefore = env['TEST_CRASH_BEFORE_STEP'];

/** The test command, with a step that kills this process (SIGKILL, no clean-up) right before it runs. */
function withCrash(spec: AnyCommand, stepId: string): AnyCommand {
  return {
    ...spec,
    steps: spec.steps.map((st) =>
      st.id === stepId
        ? {
            ...st,
            run: async () => {
              process.kill(process.pid, 'SIGKILL');
              await new Promise(() => {});
            },
          }
        : st,
    ),
  };
}

const config = loadConfig(env);
const log = createLogger(
  { level: config.logLevel, name: 'test-worker' },
  { write: (line: string) => void process.stderr.write(line) },
);
const redis = new Redis(config.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
redis.on('error', (err: Error) => log.warn({ err: err.message }, 'trace redis connection error'));
const plugin = definePlugin({
  name: 'test',
  commands: [crashBefore ? withCrash(changeCommand, crashBefore) : changeCommand, probeCommand],
});
const runtime = await startRuntime({
  config,
  log,
  roles: { bot: false, worker: true },
  plugins: [...builtinPlugins, plugin],
  extra: { redis, traceKey },
  ...(tuning ? { workerTuning: tuning } : {}),
});
process.stdout.write(`ready ${process.pid}\n`);

process.on('SIGTERM', () => {
  runtime
    .stop()
    .then(() => redis.quit())
    .then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`worker-process: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
});
