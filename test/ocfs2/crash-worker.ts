/**
 * A worker-only runtime with the shipped plugins, as a real child process that SIGKILLs itself in the
 * middle of `ocfs2 first-node`, once per job (a Redis flag), so the next worker process resumes the job:
 *   node --import tsx test/ocfs2/crash-worker.ts
 * Environment: REDIS_URL, FLEXVDI_CONFIG, SLACK_BOT_TOKEN, SLACK_API_URL, PORT (0), LOG_LEVEL, and
 *   OCFS2_CRASH   "after-conf-write": right after /etc/ocfs2/cluster.conf is written on the Host, before the
 *                 step's checkpoint (between writing and verifying); empty: never
 *   OCFS2_TUNING  JSON worker tuning (short lock and stall intervals)
 * Prints `ready <pid>` once it takes jobs. SIGTERM stops it gracefully.
 */

import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import type { WorkerTuning } from '../../src/jobs/engine.js';
import { createLogger } from '../../src/log.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { CLUSTER_CONF } from '../../src/plugins/ocfs2/cluster-conf.js';
import { startRuntime } from '../../src/runtime.js';
import { createServices } from '../../src/services.js';
import type { SshPool } from '../../src/ssh/index.js';
import { intercept } from '../support/intercept.js';

const env = process.env;
const crash = env['OCFS2_CRASH'] ?? '';
const tuning: WorkerTuning | undefined = env['OCFS2_TUNING']
  ? z
      .object({ lockDurationMs: z.number(), stalledIntervalMs: z.number() })
      .partial()
      .parse(JSON.parse(env['OCFS2_TUNING']))
  : undefined;
const config = loadConfig(env);
const log = createLogger({ level: config.logLevel, name: 'ocfs2-crash-worker' }, process.stderr);
const redis = new Redis(config.redisUrl ?? 'redis://127.0.0.1:6379');
const services = createServices(config, log);

function die(): Promise<never> {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => {});
}

async function firstTime(jobId: string): Promise<boolean> {
  const r = await redis.set(`${config.inventory.jobs.prefix}:test-crashed:${jobId}`, '1', 'EX', 3600, 'NX');
  return r === 'OK';
}

/** The pool, except that a write of cluster.conf kills the process once it is done. */
function dyingAfterConfWrite(ssh: SshPool): SshPool {
  return {
    ...ssh,
    writeFileAtomic: async (...a) => {
      const r = await ssh.writeFileAtomic(...a);
      if (a[1] === CLUSTER_CONF) await die();
      return r;
    },
  };
}

const plugins = builtinPlugins.map((p) =>
  p.name !== 'ocfs2'
    ? p
    : intercept(p, async (call) => {
        if (
          crash === 'after-conf-write' &&
          call.command === 'ocfs2 first-node' &&
          call.step === 'write-conf' &&
          (await firstTime(call.env.jobId))
        )
          return call.run({ services: { ...call.env.services, ssh: dyingAfterConfWrite(services.ssh) } });
        return call.run();
      }),
);
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
        process.stderr.write(`ocfs2 crash-worker: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
});
