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
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import type { WorkerTuning } from '../../src/jobs/engine.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { startRuntime } from '../../src/runtime.js';
import { intercept } from './intercept.js';
import { createTestPlugin } from './test-plugin.js';

const env = process.env;
const traceKey = env['TEST_TRACE_KEY'];
if (!traceKey) {
  process.stderr.write('worker-process: TEST_TRACE_KEY is required\n');
  process.exit(2);
}
const tuningSchema = z
  .object({
    lockDurationMs: z.number().optional(),
    stalledIntervalMs: z.number().optional(),
    confirmTtlMs: z.number().optional(),
    lockRetryMs: z.number().optional(),
  })
  .strict();
const tuning: WorkerTuning | undefined = env['TEST_TUNING']
  ? tuningSchema.parse(JSON.parse(env['TEST_TUNING']))
  : undefined;
const crashBefore = env['TEST_CRASH_BEFORE_STEP'];

const config = loadConfig(env);
const log = createLogger(
  { level: config.logLevel, name: 'test-worker' },
  { write: (line: string) => void process.stderr.write(line) },
);
const redis = new Redis(config.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
redis.on('error', (err: Error) => log.warn({ err: err.message }, 'trace redis connection error'));
const testPlugin = createTestPlugin({ redis, traceKey });
// The test command, with a step that kills this process (SIGKILL, no clean-up) right before it runs.
const plugin = crashBefore
  ? intercept(testPlugin, async (call) => {
      if (call.command === 'test change' && call.step === crashBefore) {
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      }
      return call.run();
    })
  : testPlugin;
const runtime = await startRuntime({
  config,
  log,
  roles: { bot: false, worker: true },
  plugins: [...builtinPlugins, plugin],
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
