/**
 * bench/ack-latency: how fast does the bot ack a slash command, against the floor Bolt allows?
 *
 * Processes (each its own, so the load generator's event loop is not the servers'):
 *   - the Slack Web API double (the bot posts job messages to it),
 *   - our bot (`flexvdi-chatops bot`, real Redis), and a worker (`flexvdi-chatops worker`),
 *   - a bare Bolt app whose only listener acks,
 *   - this process: sends correctly signed `/flexvdi hosts` commands to both, interleaved so machine noise
 *     hits both alike — one at a time (alternating order), then bursts of 100 concurrent (alternating).
 * Prints ack p50/p99 for both, the ratios, the CPU each server process spent per command (Linux /proc; the
 * bot's includes its enqueues), ack → enqueued (the ack's arrival here → the job's creation in the bot) and
 * enqueue-to-first-progress p50 (job added → job message posted by the worker, read from the double's record).
 *
 * Run: npm run build && node dist/bench/ack-latency.js [--single 300] [--bursts 6] [--burst-size 100]
 *        [--text hosts] [--cpu-prof DIR]
 *   --text       the command text sent to both (e.g. `help`, which enqueues nothing)
 *   --cpu-prof   runs our bot under `node --cpu-prof --cpu-prof-dir=DIR` (DIR/bot.cpuprofile), and the bare app
 *                likewise (DIR/bare.cpuprofile); written when they exit at the end. Summarize one with
 *                `node dist/bench/cpuprofile-top.js DIR/bot.cpuprofile --from handleSlashCommand`
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobRecordSchema } from '../src/jobs/job-state.js';
import { keys } from '../src/jobs/keys.js';
import { deterministicId } from '../src/jobs/queue.js';
import { freePort, startPrivateRedis } from '../src/local-redis.js';
import { SLACK_DOUBLE_IDS, sendSlashCommand, startSlackDouble } from '../src/slack-double/index.js';
import { arg, pct } from './stats.js';

const here = fileURLToPath(import.meta.url);
const cli = path.resolve(path.dirname(here), '../src/cli.js');
const argText = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

/* ---------- child roles ---------- */

async function runDouble(): Promise<void> {
  const d = await startSlackDouble({
    botToken: process.env.BOT_TOKEN!,
    signingSecret: process.env.SIGNING_SECRET!,
  });
  process.send?.({ apiUrl: d.apiUrl, url: d.url });
  process.on('message', (m: { want: string }) => {
    if (m.want === 'edits') {
      const firsts: Record<string, number> = {};
      // The worker posts the job message when it first has something to show: that post is the first progress.
      for (const m2 of d.messages()) firsts[m2.ts] = m2.postedAt;
      process.send?.({ firsts, count: d.messages().length });
    }
  });
}

async function runBare(): Promise<void> {
  const receiver = new HTTPReceiver({
    signingSecret: process.env.SIGNING_SECRET!,
    endpoints: ['/slack/events'],
    logLevel: LogLevel.ERROR,
  });
  const app = new App({
    token: process.env.BOT_TOKEN!,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: process.env.SLACK_API_URL! },
  });
  app.command('/flexvdi', async ({ ack }) => {
    await ack();
  });
  await receiver.start(Number(process.env.PORT));
  // An orderly exit, so that a profiled bare app (--cpu-prof) writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ ready: true });
}

/* ---------- measurement ---------- */

/** CPU time (user + system) of a process so far, ms; undefined where /proc is not available. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime), counted after the ")" that ends field 2: indexes 11 and 12
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

function waitMessage<T>(child: ChildProcess, pred: (m: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: T) => {
      if (pred(m)) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function main(): Promise<void> {
  const role = process.env.BENCH_ROLE;
  if (role === 'double') return runDouble();
  if (role === 'bare') return runBare();

  const single = arg('single', 300);
  const bursts = arg('bursts', 6);
  const burstSize = arg('burst-size', 100);
  const text = argText('text') ?? 'hosts';
  const cpuProf = argText('cpu-prof');
  const children: ChildProcess[] = [];
  const redis = await startPrivateRedis({ label: 'bench', appendOnly: false });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-ack-'));
  const botToken = 'xoxb-bench';
  const secret = 'bench-signing-secret';
  const prefix = `bench${Date.now()}`;
  try {
    const inventory = path.join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      `manager: { url: https://127.0.0.9, username: admin, password: { env: BENCH_PW } }
ssh: { privateKeyPath: ./k, knownHostsPath: ./kh }
hosts: [{ name: h1, fqdn: h1.bench.test, ip: 10.230.250.11 }]
slack: { admins: [U0ADMIN01], channels: [C0OPS0001] }
jobs: { prefix: ${prefix}, concurrency: 8 }
`,
    );
    const self = here;
    const dbl = fork(self, [], {
      env: { ...process.env, BENCH_ROLE: 'double', BOT_TOKEN: botToken, SIGNING_SECRET: secret },
    });
    children.push(dbl);
    const { apiUrl } = await waitMessage<{ apiUrl: string }>(dbl, (m) => 'apiUrl' in m);
    const [ourPort, barePort, workerPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      ...process.env,
      REDIS_URL: redis.url,
      FLEXVDI_CONFIG: inventory,
      SLACK_BOT_TOKEN: botToken,
      SLACK_SIGNING_SECRET: secret,
      SLACK_API_URL: apiUrl,
      LOG_LEVEL: 'error',
    };
    const profArgs = (name: string) =>
      cpuProf
        ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProf)}`, `--cpu-prof-name=${name}.cpuprofile`]
        : [];
    const bot = spawn(process.execPath, [...profArgs('bot'), cli, 'bot'], {
      env: { ...env, PORT: String(ourPort) },
      stdio: 'inherit',
    });
    const worker = spawn(process.execPath, [cli, 'worker'], {
      env: { ...env, PORT: String(workerPort) },
      stdio: 'inherit',
    });
    const bare = fork(self, [], {
      execArgv: [...process.execArgv, ...profArgs('bare')],
      env: {
        ...env,
        BENCH_ROLE: 'bare',
        PORT: String(barePort),
        BOT_TOKEN: botToken,
        SIGNING_SECRET: secret,
      },
    });
    children.push(bot, worker, bare);
    await waitMessage(bare, (m: { ready?: boolean }) => m.ready === true);
    await waitHttp(`http://127.0.0.1:${ourPort}/healthz`);
    await waitHttp(`http://127.0.0.1:${workerPort}/healthz`);

    const ours = `http://127.0.0.1:${ourPort}/slack/events`;
    const floor = `http://127.0.0.1:${barePort}/slack/events`;
    // Fresh connections, as Slack delivers: keep-alive reuse races the servers' idle timeouts under load.
    const agent = new Agent({ keepAlive: false, maxSockets: burstSize * 2 });
    let n = 0;
    /** Our job id per request → when its ack arrived here (a read-only command's id: from the trigger id). */
    const ackedAt = new Map<string, number>();
    const send = async (url: string) => {
      n++;
      const triggerId = `bench.${n}.${Date.now()}`;
      const r = await sendSlashCommand(
        url,
        secret,
        {
          text,
          userId: 'U0ADMIN01',
          channelId: 'C0OPS0001',
          responseUrl: `${apiUrl}../response/none`,
          triggerId,
        },
        { agent },
      );
      if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body}`);
      if (url === ours)
        ackedAt.set(deterministicId('j', `${SLACK_DOUBLE_IDS.teamId}:${triggerId}`), Date.now());
      return r.ms;
    };
    // warm-up: JIT, connections, Redis scripts
    for (let i = 0; i < 30; i++) {
      await send(ours);
      await send(floor);
    }
    const cpu0 = { ours: cpuMs(bot.pid), bare: cpuMs(bare.pid) };
    const one = { ours: [] as number[], bare: [] as number[] };
    for (let i = 0; i < single; i++) {
      if (i % 2) {
        one.ours.push(await send(ours));
        one.bare.push(await send(floor));
      } else {
        one.bare.push(await send(floor));
        one.ours.push(await send(ours));
      }
    }
    const burst = { ours: [] as number[], bare: [] as number[] };
    for (let b = 0; b < bursts * 2; b++) {
      const target = b % 4 === 0 || b % 4 === 3 ? 'ours' : 'bare';
      const url = target === 'ours' ? ours : floor;
      const ms = await Promise.all(Array.from({ length: burstSize }, () => send(url)));
      burst[target].push(...ms);
      await new Promise((r) => setTimeout(r, 300));
    }
    const cpu1 = { ours: cpuMs(bot.pid), bare: cpuMs(bare.pid) };
    const perCommand = (k: 'ours' | 'bare') => {
      const a = cpu0[k];
      const b = cpu1[k];
      return a === undefined || b === undefined ? Number.NaN : (b - a) / (single + bursts * burstSize);
    };
    // enqueue-to-first-progress: BullMQ's job timestamp vs the worker's post of the job message.
    const conn = new Redis(redis.url);
    const queue = new Queue('flexvdi', { connection: conn, prefix });
    // Only commands that enqueue (not `help`) make jobs.
    const total = text === 'help' ? 0 : 30 + single + bursts * burstSize;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await queue.getJobCountByTypes('completed', 'failed')) < total)
      await new Promise((r) => setTimeout(r, 250));
    const jobs = await queue.getJobs(['completed'], 0, -1);
    dbl.send({ want: 'edits' });
    const { firsts } = await waitMessage<{ firsts: Record<string, number> }>(dbl, (m) => 'firsts' in m);
    // The job message's ts lives in the job's state record (a read-only job's record id is its job id).
    const e2p: number[] = [];
    const a2e: number[] = [];
    for (const j of jobs) {
      const acked = j.id ? ackedAt.get(j.id) : undefined;
      if (acked !== undefined) a2e.push(j.timestamp - acked);
      const raw = j.id ? await conn.get(keys(prefix).jobRecord(j.id)) : null;
      const rec = raw ? jobRecordSchema.safeParse(JSON.parse(raw)) : undefined;
      const first = rec?.success && rec.data.messageTs ? firsts[rec.data.messageTs] : undefined;
      if (first !== undefined) e2p.push(first - j.timestamp);
    }
    await queue.close();
    conn.disconnect();

    const f = (x: number) => x.toFixed(2).padStart(8);
    const row = (label: string, a: number[], b: number[]) =>
      `${label.padEnd(26)} ${f(pct(a, 50))} ${f(pct(a, 99))}   ${f(pct(b, 50))} ${f(pct(b, 99))}   ${(pct(a, 50) / pct(b, 50)).toFixed(2).padStart(6)}x ${(pct(a, 99) / pct(b, 99)).toFixed(2).padStart(6)}x`;
    console.log(
      `\nack latency (ms), /flexvdi ${text}, ${single} one at a time each, ${bursts} bursts of ${burstSize} each, interleaved`,
    );
    console.log(
      `${''.padEnd(26)} ${'ours p50'.padStart(8)} ${'p99'.padStart(8)}   ${'bare p50'.padStart(8)} ${'p99'.padStart(8)}   ${'p50 ratio'.padStart(7)} ${'p99 ratio'}`,
    );
    console.log(row('one at a time', one.ours, one.bare));
    console.log(row(`bursts of ${burstSize}`, burst.ours, burst.bare));
    console.log(
      `\nCPU per command (ms, whole process): ours ${perCommand('ours').toFixed(2)}, bare ${perCommand('bare').toFixed(2)}`,
    );
    console.log(
      `ack → enqueued (ack received → job created in the bot): p50 ${pct(a2e, 50).toFixed(1)} ms, p99 ${pct(a2e, 99).toFixed(1)} ms`,
    );
    console.log(
      `enqueue → first progress (job message posted): p50 ${pct(e2p, 50).toFixed(1)} ms, p99 ${pct(e2p, 99).toFixed(1)} ms (${e2p.length} jobs)`,
    );
    console.log(
      `goals: one at a time p50 ≤ 1.1x bare → ${(pct(one.ours, 50) / pct(one.bare, 50)).toFixed(2)}x; bursts p99 ≤ 1.2x bare → ${(pct(burst.ours, 99) / pct(burst.bare, 99)).toFixed(2)}x; Slack's limit 3000 ms`,
    );
    agent.destroy();
  } finally {
    const exits = children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) r();
          else c.once('exit', () => r());
        }),
    );
    for (const c of children) c.kill('SIGTERM');
    // A profiled bot writes its profile on exit: wait for it (bounded), before Redis goes away.
    await Promise.race([
      cpuProf ? Promise.all(exits) : new Promise((r) => setTimeout(r, 500)),
      new Promise((r) => setTimeout(r, 15_000)),
    ]);
    if (cpuProf)
      console.log(
        `\nCPU profiles of our bot and the bare app: ${path.resolve(cpuProf)}/{bot,bare}.cpuprofile`,
      );
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
if (!process.env.BENCH_ROLE) process.exit(0);
