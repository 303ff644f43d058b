/**
 * Redis restarted under a running stack (a dedicated redis-server with AOF, as production runs it): while it
 * is down /healthz says 503; after it is back on the same port and data directory, the running job and the
 * queued one complete, a new command still works end to end (workers recovered), and nothing was lost.
 * Also: /healthz and /metrics when all is well.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { type PrivateRedis, startPrivateRedis } from '../../src/local-redis.js';
import { createLogger } from '../../src/log.js';
import { confirmed, pendingPlanOf, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';
import { traceOf } from './helpers.js';

let redis: PrivateRedis;
let dir: string;
let s: Stack;
let base: string;
const logLines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-redis-restart-'));
  redis = await startPrivateRedis({ label: 'restart', appendOnly: true, dir });
  // concurrency 1: while one job runs, the next one stays queued in Redis
  s = await startStack({
    redisUrl: redis.url,
    inventoryExtra: '  concurrency: 1\n',
    tuning: { confirmTtlMs: 60_000 },
    log: createLogger(
      { level: process.env['TEST_LOG_LEVEL'] ?? 'warn' },
      {
        write: (line: string) => {
          logLines.push(line);
          if (process.env['TEST_LOG_LEVEL']) process.stderr.write(line);
        },
      },
    ),
  });
  base = `http://127.0.0.1:${s.runtimes[0]!.port}`;
});
afterAll(async () => {
  await s?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (p: string) => {
  const res = await fetch(`${base}${p}`);
  return { status: res.status, body: await res.text() };
};

const ALL_STEPS = ['a:start', 'a:done', 'b:start', 'b:done', 'c:start', 'c:done'];

describe('with Redis up', () => {
  it('a job completes; /healthz is 200 and /metrics exposes commands, jobs by state and step durations', async () => {
    const job = await confirmed(s, 'test change rr1');
    await waitForJobState(s, job.ts, 'completed');
    await until(
      async () => (await (await s.runtimes[0]!.queue.getJob(job.jobId))!.getState()) === 'completed',
      10_000,
      'completed',
    );

    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ ok: true, redis: 'up' });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^flexvdi_commands_total\{command="test change",outcome="enqueued"\} 1$/m);
    // jobs by state, read from the queue: the plan job and the run job are both completed
    expect(metrics.body).toMatch(/^flexvdi_jobs\{state="completed"\} 2$/m);
    expect(metrics.body).toMatch(/^flexvdi_jobs\{state="failed"\} 0$/m);
    expect(metrics.body).toMatch(
      /^flexvdi_step_duration_seconds_count\{command="test change",step="b",outcome="ok"\} 1$/m,
    );
  });
});

describe('Redis restarted mid-run', () => {
  it('503 while down; the running and the queued job complete after the restart; new commands work; nothing lost', async () => {
    // both planned first (plans share the queue, whose concurrency is 1), then confirmed one after the other
    const plan2 = await pendingPlanOf(s, 'test change rr2 --slow-ms 3000');
    const plan3 = await pendingPlanOf(s, 'test change rr3');
    const plan6 = await pendingPlanOf(s, 'test change rr6');
    const running = { ts: plan2.ts, jobId: runJobIdFor(plan2.confirmId) };
    const queued = { ts: plan3.ts, jobId: runJobIdFor(plan3.confirmId) };
    await s.click(OPS, running.ts);
    await until(async () => (await traceOf(s, running.jobId)).includes('b:start'), 20_000, 'rr2 step b');
    await s.click(OPS, queued.ts);
    await until(
      async () => (await (await s.runtimes[0]!.queue.getJob(queued.jobId))?.getState()) === 'waiting',
      10_000,
      'rr3 queued',
    );

    await redis.stop(); // SIGTERM: Redis flushes its AOF and exits
    const down = await until(
      async () => {
        const h = await get('/healthz');
        return h.status === 503 && h;
      },
      10_000,
      '/healthz 503',
    );
    expect(JSON.parse(down.body)).toEqual({ ok: false, redis: 'down' });

    // a command, a button click and a built-in command that arrive while Redis is down are each answered
    // clearly (the user hears why), and nothing is half-started
    await Promise.all([
      s.send('test probe during-outage', { user: USER }),
      s.click(OPS, plan6.ts),
      s.send('jobs', { user: USER }),
    ]);
    await waitForEphemeral(s, USER, 'the job queue is unavailable (Redis?). Nothing was started');
    await waitForEphemeral(s, ADMIN, 'Redis is unavailable right now. Nothing was started');
    await waitForEphemeral(s, USER, 'Could not answer `/flexvdi jobs`: Redis is unavailable right now');

    redis = await startPrivateRedis({ label: 'restart', appendOnly: true, dir, port: redis.port });
    await until(async () => (await get('/healthz')).status === 200, 20_000, '/healthz 200 again');

    await waitForJobState(s, running.ts, 'completed', 40_000);
    await waitForJobState(s, queued.ts, 'completed', 40_000);
    expect(await traceOf(s, running.jobId)).toEqual(ALL_STEPS);
    expect(await traceOf(s, queued.jobId)).toEqual(ALL_STEPS);

    // the workers still take new work: a fresh command, planned and run after the restart
    const fresh = await confirmed(s, 'test change rr4');
    await waitForJobState(s, fresh.ts, 'completed', 40_000);
    expect(await traceOf(s, fresh.jobId)).toEqual(ALL_STEPS);

    // the plan confirmed in vain during the outage is still valid: Confirm now runs it
    await s.click(OPS, plan6.ts);
    await waitForJobState(s, plan6.ts, 'completed', 40_000);
    expect(await traceOf(s, runJobIdFor(plan6.confirmId))).toEqual(ALL_STEPS);

    // cross-process cancel still reaches running steps (the workers' pub/sub subscription came back)
    const long = await confirmed(s, 'test change rr5 --slow-ms 30000');
    await until(async () => (await traceOf(s, long.jobId)).includes('b:start'), 20_000, 'rr5 step b');
    await s.send(`cancel ${long.jobId}`);
    await waitForJobState(s, long.ts, 'cancelled');
    expect(await traceOf(s, long.jobId)).toEqual(['a:start', 'a:done', 'b:start', 'b:aborted']);

    // nothing lost: every job and its audit trail survived the restart
    for (const j of [running, queued, fresh]) {
      await until(
        async () => (await (await s.runtimes[0]!.queue.getJob(j.jobId))?.getState()) === 'completed',
        10_000,
        `${j.jobId} completed`,
      );
    }
    expect(s.double.messages(OPS).some((m) => m.text.includes('during-outage'))).toBe(false);
    const audit = (await s.redis.xrange(`${s.prefix}:audit`, '-', '+')).map(([, f]) => f.join(' '));
    for (const t of ['rr1', 'rr2', 'rr3', 'rr4', 'rr6']) {
      for (const outcome of ['requested', 'planned', 'confirmed', 'completed']) {
        expect(audit.some((a) => a.includes(`test change ${t}`) && a.includes(`outcome ${outcome}`))).toBe(
          true,
        );
      }
    }
  });
});

describe('worker watchdog', () => {
  it('restarts the BullMQ main loop when it stops without being closed (the reported failure mode)', async () => {
    const w = s.runtimes[0]!.worker!.worker;
    expect(w.isRunning()).toBe(true);
    // Fault injection: the loop throws once from inside (as BullMQ's loop did on "UNBLOCKED" errors after a
    // failover, taskforcesh/bullmq#648) — the loop ends, the worker is not closing.
    const internals = w as unknown as { waitForRateLimit: () => Promise<void> };
    const original = internals.waitForRateLimit;
    let thrown = false;
    internals.waitForRateLimit = async () => {
      internals.waitForRateLimit = original;
      thrown = true;
      throw new Error('injected: main loop crash');
    };
    // an idle loop calls it when its blocking wait for a job returns empty-handed
    await until(async () => thrown, 20_000, 'the injected crash');
    await until(
      async () => logLines.some((l) => l.includes('worker loop stopped; restarting it')),
      10_000,
      'the watchdog',
    );
    await until(async () => w.isRunning(), 10_000, 'the loop to run again');

    const res = await s.send('test probe after-watchdog', { user: USER });
    expect(res.status).toBe(200);
    await waitForJobState(s, { command: 'test probe after-watchdog' }, 'completed');
  });
});
