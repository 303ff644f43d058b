/**
 * A worker-only runtime with the shipped plugins, as a real child process that SIGKILLs itself at a chosen
 * point of a register-host job, once per job (a Redis flag), so the next worker process resumes the job:
 *   node --import tsx test/registration/crash-worker.ts
 * Environment: REDIS_URL, FLEXVDI_CONFIG, SLACK_BOT_TOKEN, SLACK_API_URL, PORT (0), LOG_LEVEL, and
 *   REG_CRASH   JSON: inventory Host name → where to die when registering it:
 *               "before:<step id>"  after the previous step's checkpoint, before this step does anything
 *               "before:result"     after the last step's checkpoint, before the result is posted
 *               "writes:<n>"        in distribute-keys, right after the n-th key file write (before its
 *                                   per-Host checkpoint)
 *   REG_TUNING  JSON worker tuning (short lock and stall intervals)
 *   REG_STANDBY 1: load everything, print `loaded`, and start taking jobs only when a line arrives on stdin
 *               (so a test can have the next worker ready the moment one dies)
 * Prints `ready <pid>` once it takes jobs. SIGTERM stops it gracefully.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import type { WorkerTuning } from '../../src/jobs/engine.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { startRuntime } from '../../src/runtime.js';
import { createServices } from '../../src/services.js';
import type { SshPool } from '../../src/ssh/index.js';
import { intercept } from '../support/intercept.js';

const env = process.env;
const plan = z.record(z.string()).parse(JSON.parse(env['REG_CRASH'] ?? '{}'));
const tuning: WorkerTuning | undefined = env['REG_TUNING']
  ? z
      .object({ lockDurationMs: z.number(), stalledIntervalMs: z.number() })
      .partial()
      .parse(JSON.parse(env['REG_TUNING']))
  : undefined;
const config = loadConfig(env);
const log = createLogger({ level: config.logLevel, name: 'reg-crash-worker' }, process.stderr);
const redis = new Redis(config.redisUrl ?? 'redis://127.0.0.1:6379');
const services = createServices(config, log);

function die(): Promise<never> {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => {});
}

/** True the first time this job reaches its crash point (later runs of the job go through). */
async function firstTime(jobId: string): Promise<boolean> {
  const r = await redis.set(`${config.inventory.jobs.prefix}:test-crashed:${jobId}`, '1', 'EX', 3600, 'NX');
  return r === 'OK';
}

/** The pool, except that the n-th successful write kills the process. */
function dyingAfterWrites(ssh: SshPool, n: number): SshPool {
  let writes = 0;
  return {
    ...ssh,
    writeFileAtomic: async (...a) => {
      const r = await ssh.writeFileAtomic(...a);
      if (++writes === n) await die();
      return r;
    },
  };
}

const hostOf = (args: unknown) => {
  const a = z.object({ host: z.string() }).safeParse(args);
  return a.success ? a.data.host : undefined;
};

const plugins = builtinPlugins.map((p) =>
  p.name !== 'registration'
    ? p
    : intercept(p, async (call) => {
        const host = hostOf(call.args);
        const where = call.command === 'register-host' && host ? plan[host] : undefined;
        if (where === `before:${call.step}` && (await firstTime(call.env.jobId))) await die();
        const writes = /^writes:(\d+)$/.exec(where ?? '');
        if (writes && call.step === 'distribute-keys' && (await firstTime(call.env.jobId))) {
          const ssh = dyingAfterWrites(services.ssh, Number(writes[1]));
          return call.run({ services: { ...call.env.services, ssh } });
        }
        return call.run();
      }),
);
if (env['REG_STANDBY'] === '1') {
  process.stdout.write('loaded\n');
  await once(process.stdin, 'data');
}
const runtime = await startRuntime({
  config,
  log,
  roles: { bot: false, worker: true },
  plugins,
  services,
  ...(tuning ? { workerTuning: tuning } : {}),
});
process.stdout.write(`ready ${process.pid}\n`);

process.on('SIGTERM', () => {
  runtime
    .stop()
    .then(() => services.ssh.close())
    .then(() => redis.quit())
    .then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`crash-worker: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
});
