/**
 * bench/crash-resume: how long after a worker is killed (SIGKILL: no clean-up, no lock release) do its jobs
 * run again on another worker, and finish?
 *
 * Two configurations, side by side in one run (started together, so machine noise hits both alike), each with
 * its own key prefix on one private redis-server:
 *   - "ours":   the product's defaults (inventory `jobs.lockDurationMs` 10 000, `jobs.stalledIntervalMs` 5000);
 *   - "before": the previous fixed values (BullMQ lockDuration 30 000, stalledInterval 30 000), given to the
 *               worker as its tuning.
 * Processes: this one runs the Slack Web API double and, per configuration, a bot (src/runtime.ts, bot role
 * only); each worker is a child process (this file, forked with BENCH_ROLE=worker), so it can be SIGKILLed.
 * The command is a tiny plugin defined here (`bench slow <slot>`): mutating (plan, Confirm, a Host-style lock)
 * with one slow step that writes `start`/`done` timestamps into Redis.
 *
 * Per configuration: start worker 1, send N commands, confirm their plans, wait until every job's slow step
 * has started, SIGKILL worker 1 and start worker 2 at once; then per job: the time from the SIGKILL to its
 * step starting again (BullMQ's stalled-job check handed it over) and to its completion. Prints p50/max per
 * configuration and the ratios before/ours.
 *
 * Run: npm run build && node dist/bench/crash-resume.js [--jobs 5] [--step-ms 4000]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig } from '../src/config.js';
import { defineCommand, definePlugin, NO_PINS, type Plugin } from '../src/core/plugin.js';
import { md } from '../src/core/text.js';
import { AppError } from '../src/errors.js';
import type { WorkerTuning } from '../src/jobs/engine.js';
import { startPrivateRedis } from '../src/local-redis.js';
import { createLogger } from '../src/log.js';
import { type Runtime, startRuntime } from '../src/runtime.js';
import { CONFIRM_ACTION } from '../src/slack/job-view.js';
import {
  clickButton,
  type SlackDouble,
  sendSlashCommand,
  startSlackDouble,
} from '../src/slack-double/index.js';
import { arg, pct } from './stats.js';

const here = fileURLToPath(import.meta.url);
const ADMIN = 'U0ADMIN01';
const OPS = 'C0OPS0001';
const BOT_TOKEN = 'xoxb-bench';

/* ---------- the bench plugin: one mutating command with one slow step ---------- */

/** Redis list of `<slot> <start|done> <epoch ms> <pid>` lines, one per configuration. */
const traceKey = (prefix: string) => `${prefix}:bench-trace`;

function benchPlugin(redis: Redis, prefix: string): Plugin<undefined> {
  const args = z
    .object({
      slot: z.string().regex(/^[a-z0-9-]{1,40}$/),
      stepMs: z.number().int().min(0).max(60_000).default(4000),
    })
    .strict();
  type Args = z.output<typeof args>;
  const slow = {
    id: 'slow',
    title: 'Slow step',
    output: z.object({ slot: z.string() }),
    run: async (ctx: { args: Args; signal: AbortSignal }) => {
      await redis.rpush(traceKey(prefix), `${ctx.args.slot} start ${Date.now()} ${process.pid}`);
      const until = Date.now() + ctx.args.stepMs;
      while (Date.now() < until) {
        if (ctx.signal.aborted) throw new AppError('job.cancelled', 'aborted');
        await new Promise((r) => setTimeout(r, 20));
      }
      await redis.rpush(traceKey(prefix), `${ctx.args.slot} done ${Date.now()} ${process.pid}`);
      return { slot: ctx.args.slot };
    },
  };
  return definePlugin({
    name: 'bench',
    deps: () => ({}),
    commands: [
      defineCommand({
        id: 'bench slow',
        summary: 'One slow step (crash-resume benchmark)',
        examples: ['/flexvdi bench slow s1'],
        args,
        positionals: ['slot'],
        mutates: true,
        access: 'admin',
        pinned: NO_PINS,
        locks: (a) => [`bench:${a.slot}`],
        plan: (ctx) => ({ summary: md`Run a slow step for ${ctx.args.slot}`, sections: [], warnings: [] }),
        steps: [slow],
        result: (ctx) => ({ summary: md`done ${ctx.args.slot}`, sections: [] }),
      }),
    ],
  });
}

/* ---------- child role: a worker ---------- */

async function runWorker(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(
    { level: config.logLevel, name: 'bench-worker' },
    { write: (line: string) => void process.stderr.write(line) },
  );
  const redis = new Redis(config.redisUrl!, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const tuning = process.env.BENCH_TUNING
    ? (JSON.parse(process.env.BENCH_TUNING) as WorkerTuning)
    : undefined;
  const runtime = await startRuntime({
    config,
    log,
    roles: { bot: false, worker: true },
    plugins: [benchPlugin(redis, config.inventory.jobs.prefix)],
    ...(tuning ? { workerTuning: tuning } : {}),
  });
  process.send?.({ ready: process.pid });
  process.on('SIGTERM', () => {
    runtime
      .stop()
      .then(() => redis.quit())
      .finally(() => process.exit(0));
  });
}

/* ---------- measurement ---------- */

interface Scenario {
  name: string;
  describe: string;
  tuning?: WorkerTuning;
}

interface Outcome {
  scenario: Scenario;
  resumeMs: number[];
  doneMs: number[];
  missing: number;
}

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function confirmValue(blocks: unknown[]): string | undefined {
  for (const b of blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]) {
    if (b.type !== 'actions') continue;
    const el = b.elements?.find((e) => e.action_id === CONFIRM_ACTION);
    if (el?.value) return el.value;
  }
  return undefined;
}

async function runScenario(
  sc: Scenario,
  o: { redisUrl: string; double: SlackDouble; dir: string; jobs: number; stepMs: number; redis: Redis },
  children: Set<ChildProcess>,
  runtimes: Runtime[],
): Promise<Outcome> {
  const prefix = `cr${sc.name}${Date.now().toString(36)}`;
  const inventory = path.join(o.dir, `${sc.name}.yaml`);
  writeFileSync(
    inventory,
    `manager: { url: https://127.0.0.9, username: admin, password: { env: BENCH_PW } }
ssh: { privateKeyPath: ./k, knownHostsPath: ./kh }
hosts: [{ name: h1, fqdn: h1.bench.test, ip: 10.230.250.11 }]
slack: { admins: [${ADMIN}], channels: [${OPS}] }
jobs: { prefix: ${prefix}, concurrency: ${Math.max(8, o.jobs)} }
`,
  );
  const env = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: o.redisUrl,
    FLEXVDI_CONFIG: inventory,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: o.double.signingSecret,
    SLACK_API_URL: o.double.apiUrl,
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
  };
  const config = loadConfig(env);
  const log = createLogger(
    { level: config.logLevel, name: 'bench-bot' },
    { write: (line: string) => void process.stderr.write(line) },
  );
  const bot = await startRuntime({
    config,
    log,
    roles: { bot: true, worker: false },
    plugins: [benchPlugin(o.redis, prefix)],
  });
  runtimes.push(bot);
  const botUrl = `http://127.0.0.1:${bot.port}/slack/events`;
  const startWorker = async (): Promise<ChildProcess> => {
    const child = fork(here, [], {
      env: {
        ...env,
        BENCH_ROLE: 'worker',
        ...(sc.tuning ? { BENCH_TUNING: JSON.stringify(sc.tuning) } : {}),
      },
    });
    children.add(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, sig) => reject(new Error(`${sc.name} worker exited early (${code ?? sig})`)));
    });
    return child;
  };
  const trace = async () =>
    (await o.redis.lrange(traceKey(prefix), 0, -1)).map((l) => {
      const [slot, what, at, pid] = l.split(' ');
      return { slot: slot!, what: what!, at: Number(at), pid: Number(pid) };
    });

  const first = await startWorker();
  const slots = Array.from({ length: o.jobs }, (_, i) => `${sc.name}-${i + 1}`);
  for (const slot of slots) {
    const text = `bench slow ${slot} --step-ms ${o.stepMs}`;
    const r = await sendSlashCommand(botUrl, o.double.signingSecret, {
      text,
      userId: ADMIN,
      channelId: OPS,
      responseUrl: o.double.responseUrl(OPS, ADMIN),
    });
    if (r.status !== 200) throw new Error(`${text}: HTTP ${r.status} ${r.body}`);
  }
  // Confirm every plan (the Confirm button's value names the pending confirmation).
  for (const slot of slots) {
    const msg = await o.double.waitFor(
      () =>
        o.double
          .messages(OPS)
          .find((m) => m.text.startsWith(`/flexvdi bench slow ${slot} `) && confirmValue(m.blocks)),
      { timeoutMs: 30_000 },
    );
    const r = await clickButton(botUrl, o.double.signingSecret, {
      userId: ADMIN,
      channelId: OPS,
      responseUrl: o.double.responseUrl(OPS, ADMIN),
      messageTs: msg.ts,
      message: { ts: msg.ts, text: msg.text, blocks: msg.blocks },
      action: { actionId: CONFIRM_ACTION, value: confirmValue(msg.blocks)! },
    });
    if (r.status !== 200) throw new Error(`confirm ${slot}: HTTP ${r.status}`);
  }
  await until(
    async () => new Set((await trace()).filter((t) => t.what === 'start').map((t) => t.slot)).size === o.jobs,
    30_000,
    `${sc.name}: every job's step to start`,
  );
  // Mid-step: the steps take stepMs, and all of them have started.
  first.kill('SIGKILL');
  const killedAt = Date.now();
  children.delete(first);
  await startWorker();
  const timeoutMs = 150_000;
  try {
    await until(
      async () =>
        new Set((await trace()).filter((t) => t.what === 'done' && t.at > killedAt).map((t) => t.slot))
          .size === o.jobs,
      timeoutMs,
      `${sc.name}: every job to finish after the kill`,
    );
  } catch (err) {
    console.error(String(err));
  }
  const after = (await trace()).filter((t) => t.at > killedAt);
  const resumeMs: number[] = [];
  const doneMs: number[] = [];
  let missing = 0;
  for (const slot of slots) {
    const s = after.find((t) => t.slot === slot && t.what === 'start');
    const d = after.find((t) => t.slot === slot && t.what === 'done');
    if (!s || !d) missing++;
    if (s) resumeMs.push(s.at - killedAt);
    if (d) doneMs.push(d.at - killedAt);
  }
  return { scenario: sc, resumeMs, doneMs, missing };
}

async function main(): Promise<void> {
  if (process.env.BENCH_ROLE === 'worker') return runWorker();
  const jobs = arg('jobs', 5);
  const stepMs = arg('step-ms', 4000);
  const redisServer = await startPrivateRedis({ label: 'bench-crash', appendOnly: false });
  const double = await startSlackDouble({ botToken: BOT_TOKEN, signingSecret: 'bench-signing-secret' });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-crash-'));
  const children = new Set<ChildProcess>();
  const runtimes: Runtime[] = [];
  const t0 = Date.now();
  try {
    const scenarios: Scenario[] = [
      { name: 'ours', describe: 'defaults: lockDuration 10 s, stalledInterval 5 s' },
      {
        name: 'before',
        describe: 'before: lockDuration 30 s, stalledInterval 30 s',
        tuning: { lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      },
    ];
    const shared = { redisUrl: redisServer.url, double, dir, jobs, stepMs, redis };
    const outcomes = await Promise.all(scenarios.map((sc) => runScenario(sc, shared, children, runtimes)));
    const f = (x: number) => (x / 1000).toFixed(1).padStart(7);
    console.log(
      `\nSIGKILL of the worker running ${jobs} jobs mid-step (step ${stepMs / 1000} s) → a fresh worker started at once; seconds after the kill`,
    );
    console.log(
      `${''.padEnd(52)} ${'resume p50'.padStart(10)} ${'max'.padStart(7)}   ${'done p50'.padStart(8)} ${'max'.padStart(7)}`,
    );
    for (const o of outcomes)
      console.log(
        `${o.scenario.describe.padEnd(52)} ${f(pct(o.resumeMs, 50)).padStart(10)} ${f(pct(o.resumeMs, 100))}   ${f(pct(o.doneMs, 50)).padStart(8)} ${f(pct(o.doneMs, 100))}${o.missing ? `   (${o.missing} job(s) not finished)` : ''}`,
      );
    const [ours, before] = outcomes as [Outcome, Outcome];
    const ratio = (a: number[], b: number[], p: number) => (pct(b, p) / pct(a, p)).toFixed(2);
    console.log(
      `ratio before/ours: resume p50 ${ratio(ours.resumeMs, before.resumeMs, 50)}x, max ${ratio(ours.resumeMs, before.resumeMs, 100)}x; done p50 ${ratio(ours.doneMs, before.doneMs, 50)}x, max ${ratio(ours.doneMs, before.doneMs, 100)}x`,
    );
    console.log(
      `goal: resume within ~15 s of a live worker (lockDuration + stalledInterval) → ours max ${(pct(ours.resumeMs, 100) / 1000).toFixed(1)} s; total run ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      [...children].map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            const t = setTimeout(() => {
              c.kill('SIGKILL');
              r();
            }, 10_000);
            c.once('exit', () => {
              clearTimeout(t);
              r();
            });
          }),
      ),
    );
    for (const r of runtimes) await r.stop().catch(() => {});
    redis.disconnect();
    await double.close();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
if (process.env.BENCH_ROLE !== 'worker') process.exit(0);
