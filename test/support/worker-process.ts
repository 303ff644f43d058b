/**
 * The worker child program of the crash tests: a worker-only runtime with the shipped plugins (and, when
 * asked, the test plugin) as a real process, so a test can SIGKILL it, or have it SIGKILL itself at a chosen
 * point of a job, and let the next worker process resume the job:
 *   node --import tsx test/support/worker-process.ts
 * Environment: REDIS_URL, FLEXVDI_CONFIG (a testbed's inventory or the stack's; its `jobs.prefix` is the key
 * prefix), SLACK_BOT_TOKEN, SLACK_API_URL, PORT (0), LOG_LEVEL, and WORKER_OPTIONS: JSON, see
 * `workerOptionsSchema` in workers.ts (test plugin, tuning, crash points, standby). Started by the helpers
 * there. Each crash point fires once per job (a Redis flag per job and point), so the worker that resumes the job goes through.
 * Prints `ready <pid>` on stdout once it takes jobs (`loaded` first in standby); logs go to stderr. SIGTERM
 * stops it gracefully.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import type { AnyPlugin } from '../../src/core/plugin.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { startRuntime } from '../../src/runtime.js';
import type { SshPool } from '../../src/ssh/index.js';
import { intercept, type StepCall } from './intercept.js';
import { createTestPlugin } from './test-plugin.js';
import { type CrashPoint, WORKER_OPTIONS, workerOptionsSchema } from './workers.js';

const env = process.env;
const o = workerOptionsSchema.parse(JSON.parse(env[WORKER_OPTIONS] ?? '{}'));
const config = loadConfig(env);
const log = createLogger(
  { level: config.logLevel, name: 'test-worker' },
  { write: (line: string) => void process.stderr.write(line) },
);
// Like the worker's own connection, it waits for Redis to come back rather than failing a command.
const redis = new Redis(config.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
redis.on('error', (err: Error) => log.warn({ err: err.message }, 'test redis connection error'));

function die(): Promise<never> {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => {});
}

/** True the first time this job reaches this crash point (the run that resumes it goes through). */
async function firstTime(jobId: string, p: CrashPoint): Promise<boolean> {
  const point = `${p.command}/${p.step}/${p.host ?? '*'}`;
  const key = `${config.inventory.jobs.prefix}:test-crashed:${jobId}:${point}`;
  return (await redis.set(key, '1', 'EX', 3600, 'NX')) === 'OK';
}

/**
 * The pool, except that the write `p.afterWrite` names, or a run of the program `p.afterExec` names, kills the
 * process once it is done.
 */
function dyingAfter(ssh: SshPool, p: CrashPoint): SshPool {
  let writes = 0;
  return {
    ...ssh,
    exec: async (...a) => {
      const r = await ssh.exec(...a);
      const program = Array.isArray(a[1]) ? a[1][0] : String(a[1]).split(' ')[0];
      if (p.afterExec !== undefined && program === p.afterExec) await die();
      return r;
    },
    writeFileAtomic: async (...a) => {
      const r = await ssh.writeFileAtomic(...a);
      writes++;
      if (p.afterWrite === writes || p.afterWrite === a[1]) await die();
      return r;
    },
  };
}

const hostOf = (args: unknown) => {
  const a = z.object({ host: z.string() }).safeParse(args);
  return a.success ? a.data.host : undefined;
};

async function atCrashPoint(call: StepCall): Promise<unknown> {
  const p = o.crash.find(
    (c) => c.command === call.command && c.step === call.step && (!c.host || c.host === hostOf(call.args)),
  );
  if (!p || !(await firstTime(call.env.jobId, p))) return call.run();
  if (p.afterWrite === undefined && p.afterExec === undefined) return die();
  return call.run({ services: { ...call.env.services, ssh: dyingAfter(call.env.services.ssh, p) } });
}

// Every plugin goes through the hook when there are crash points (the hook only runs steps for the others).
const plugins: AnyPlugin[] = [
  ...builtinPlugins,
  ...(o.traceKey ? [createTestPlugin({ redis, traceKey: o.traceKey })] : []),
].map((p) => (o.crash.length ? intercept(p, atCrashPoint) : p));
if (o.standby) {
  process.stdout.write('loaded\n');
  await once(process.stdin, 'data');
}
const runtime = await startRuntime({
  config,
  log,
  roles: { bot: false, worker: true },
  plugins,
  ...(o.tuning ? { workerTuning: o.tuning } : {}),
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
