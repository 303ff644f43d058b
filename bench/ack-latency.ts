/**
 * bench/ack-latency: how fast does the bot ack a slash command, against the floor Bolt allows?
 *
 * Processes (each its own, so the load generator's event loop is not the servers'):
 *   - the Slack Web API double (the bot posts job messages to it),
 *   - our bot (`flexvdi-chatops bot`, real Redis), and a worker (`flexvdi-chatops worker`),
 *   - a bare Bolt app whose only listener acks,
 *   - this process: sends correctly signed `/flexvdi hosts` commands to both, interleaved so machine noise
 *     hits both alike — one at a time (alternating order), then bursts of 100 concurrent (alternating).
 * Prints ack p50/p99 for both, the ratios, and enqueue-to-first-progress p50 (job added → job
 * message posted by the worker, read from the double's record).
 *
 * Run: npm run build && node dist/bench/ack-latency.js [--single 300] [--bursts 6] [--burst-size 100]
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobRecordSchema } from '../src/jobs/job-state.js';
import { keys } from '../src/jobs/keys.js';
import { freePort, startPrivateRedis } from '../src/local-redis.js';
import { sendSlashCommand, startSlackDouble } from '../src/slack-double/index.js';

const here = fileURLToPath(import.meta.url);
const cli = path.resolve(path.dirname(here), '../src/cli.js');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
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
  process.send?.({ ready: true });
}

/* ---------- measurement ---------- */

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

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
    const bot = spawn(process.execPath, [cli, 'bot'], {
      env: { ...env, PORT: String(ourPort) },
      stdio: 'inherit',
    });
    const worker = spawn(process.execPath, [cli, 'worker'], {
      env: { ...env, PORT: String(workerPort) },
      stdio: 'inherit',
    });
    const bare = fork(self, [], {
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
    const send = async (url: string) => {
      n++;
      const r = await sendSlashCommand(
        url,
        secret,
        {
          text: 'hosts',
          userId: 'U0ADMIN01',
          channelId: 'C0OPS0001',
          responseUrl: `${apiUrl}../response/none`,
          triggerId: `bench.${n}.${Date.now()}`,
        },
        { agent },
      );
      if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body}`);
      return r.ms;
    };
    // warm-up: JIT, connections, Redis scripts
    for (let i = 0; i < 30; i++) {
      await send(ours);
      await send(floor);
    }
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
    // enqueue-to-first-progress: BullMQ's job timestamp vs the worker's post of the job message.
    const conn = new Redis(redis.url);
    const queue = new Queue('flexvdi', { connection: conn, prefix });
    const total = 30 + single + bursts * burstSize;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await queue.getJobCountByTypes('completed', 'failed')) < total)
      await new Promise((r) => setTimeout(r, 250));
    const jobs = await queue.getJobs(['completed'], 0, -1);
    dbl.send({ want: 'edits' });
    const { firsts } = await waitMessage<{ firsts: Record<string, number> }>(dbl, (m) => 'firsts' in m);
    // The job message's ts lives in the job's state record (a read-only job's record id is its job id).
    const e2p: number[] = [];
    for (const j of jobs) {
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
      `\nack latency (ms), /flexvdi hosts, ${single} one at a time each, ${bursts} bursts of ${burstSize} each, interleaved`,
    );
    console.log(
      `${''.padEnd(26)} ${'ours p50'.padStart(8)} ${'p99'.padStart(8)}   ${'bare p50'.padStart(8)} ${'p99'.padStart(8)}   ${'p50 ratio'.padStart(7)} ${'p99 ratio'}`,
    );
    console.log(row('one at a time', one.ours, one.bare));
    console.log(row(`bursts of ${burstSize}`, burst.ours, burst.bare));
    console.log(
      `\nenqueue → first progress (job message posted): p50 ${pct(e2p, 50).toFixed(1)} ms, p99 ${pct(e2p, 99).toFixed(1)} ms (${e2p.length} jobs)`,
    );
    console.log(
      `goals: one at a time p50 ≤ 1.1x bare → ${(pct(one.ours, 50) / pct(one.bare, 50)).toFixed(2)}x; bursts p99 ≤ 1.2x bare → ${(pct(burst.ours, 99) / pct(burst.bare, 99)).toFixed(2)}x; Slack's limit 3000 ms`,
    );
    agent.destroy();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
if (!process.env.BENCH_ROLE) process.exit(0);
