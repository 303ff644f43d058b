/**
 * The built CLI as a process, driven over HTTP like a user would: `start --local-slack` with nothing
 * configured (private Redis, example inventory, built-in local Slack), a command through the local Slack
 * console, /healthz and /metrics, a clean SIGTERM; and the start-up errors an operator can meet.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local-redis.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli.js');

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'info',
    ...extra,
  };
  return env;
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { env, cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The newest modification time of any file under `dir` (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  // Never test a stale build: build when dist/ is missing or older than any source file.
  if (!existsSync(cli) || statSync(cli).mtimeMs < newest(path.join(root, 'src')))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  expect(statSync(cli).mtimeMs).toBeGreaterThanOrEqual(newest(path.join(root, 'src')));
});

describe('start --local-slack (nothing configured)', () => {
  let proc: ChildProcess;
  const lines: Record<string, unknown>[] = [];
  const plain: string[] = [];
  let slackUrl = '';
  let port = 0;

  beforeAll(async () => {
    port = await freePort();
    proc = spawn(process.execPath, [cli, 'start', '--local-slack'], {
      env: cleanEnv({ PORT: String(port) }),
      cwd: root,
    });
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        try {
          lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        } catch {
          plain.push(buf.slice(0, i)); // what it says to a person, beside its JSON log
        }
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
    });
    const deadline = Date.now() + 30_000;
    const told = () => plain.some((l) => l.startsWith('Local Slack workspace: open'));
    while ((!slackUrl || !told()) && Date.now() < deadline && proc.exitCode === null) {
      const l = lines.find((x) => typeof x['localSlack'] === 'string');
      if (l) slackUrl = l['localSlack'] as string;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(slackUrl, 'the log says where the local Slack is').toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGKILL');
    }
  });

  it('says plainly in its log that it runs a local Slack and a private Redis, and how to drive it', () => {
    const text = lines.map((l) => String(l['msg'])).join('\n');
    expect(text).toContain('LOCAL SLACK MODE');
    expect(text).toContain('REDIS_URL is not set: started a private redis-server');
    expect(plain).toContain(
      `Local Slack workspace: open ${slackUrl}/ in a browser (its console; curl how-to at ${slackUrl}/howto).`,
    );
  });

  it('serves the how-to for driving it with curl', async () => {
    const howto = await (await fetch(`${slackUrl}/howto`)).text();
    expect(howto).toContain(`curl -s ${slackUrl}/console/command`);
  });

  it('runs a command typed in the local Slack and shows the result in the channel', async () => {
    const res = await fetch(`${slackUrl}/console/command`, {
      method: 'POST',
      body: new URLSearchParams({ text: 'hosts', user: 'U0ADMIN01', channel: 'C0OPS0001' }),
    });
    expect(res.status).toBe(200);
    let found = '';
    const deadline = Date.now() + 20_000;
    while (!found && Date.now() < deadline) {
      const msgs = (await (await fetch(`${slackUrl}/console/messages?channel=C0OPS0001`)).json()) as {
        messages: { text: string; blocks: unknown[] }[];
      };
      const m = msgs.messages.find((x) => JSON.stringify(x.blocks).includes('3 Hosts in the inventory'));
      found = m ? JSON.stringify(m) : '';
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found).toContain('host1.flexvdi.test');
  });

  it('serves /healthz and /metrics on its port', async () => {
    const h = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ ok: true, redis: 'up' });
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(m).toMatch(/flexvdi_commands_total\{command="hosts",outcome="enqueued"\} 1/);
    expect(m).toMatch(/flexvdi_jobs\{state="completed"\} 1/);
    expect(m).toContain('flexvdi_step_duration_seconds_bucket');
  });

  it('stops cleanly on SIGTERM (exit 0) and takes its private Redis with it', async () => {
    const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.map((l) => String(l['msg']))).toContain('flexvdi-chatops stopped');
  });
});

describe('start-up errors are clear and non-zero', () => {
  it('missing Slack credentials without --local-slack', async () => {
    const r = await run(['start'], cleanEnv({ FLEXVDI_CONFIG: path.join(root, 'examples/inventory.yaml') }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing Slack credentials: SLACK_BOT_TOKEN');
    expect(r.stderr).toContain('--local-slack');
  });

  it('Redis down at start names the URL and what to do', async () => {
    const closed = await freePort();
    const r = await run(['start', '--local-slack'], cleanEnv({ REDIS_URL: `redis://127.0.0.1:${closed}` }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${closed}`);
    expect(r.stderr).toContain('Start redis-server, fix REDIS_URL');
  });

  it('an invalid inventory names the field and the reason', async () => {
    const r = await run(
      ['worker'],
      cleanEnv({
        FLEXVDI_CONFIG: path.join(root, 'test/fixtures/bad-inventory.yaml'),
        SLACK_BOT_TOKEN: 'xoxb-x',
      }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-inventory\.yaml: hosts\[1\]\.ip: must be an IPv4 address/);
  });

  it('an invalid LOG_LEVEL is a configuration error (exit 2) naming the valid levels, not a stack trace', async () => {
    const r = await run(['start', '--local-slack'], cleanEnv({ LOG_LEVEL: 'loud' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a Slack that cannot be reached at start fails cleanly: no token in the output, no redis-server left', async () => {
    const closed = await freePort();
    const token = 'xoxb-e2e-never-printed-4711';
    const r = await run(
      ['start'],
      cleanEnv({
        FLEXVDI_CONFIG: path.join(root, 'examples/inventory.yaml'),
        SLACK_BOT_TOKEN: token,
        SLACK_SIGNING_SECRET: 'e2e-signing-secret',
        SLACK_API_URL: `http://127.0.0.1:${closed}/api/`,
        PORT: '0',
      }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('flexvdi-chatops: Slack did not accept SLACK_BOT_TOKEN (auth.test)');
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // the private redis-server it had started was stopped with it
    const url = /"redis":"(redis:\/\/127\.0\.0\.1:\d+)"/.exec(r.stdout)?.[1];
    expect(url).toBeDefined();
    const port = Number(new URL(url!).port);
    await expect(
      new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1', () => resolve(sock.end()));
        sock.once('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });

  it('an unknown command prints usage and exits 2', async () => {
    const r = await run(['frobnicate'], cleanEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: flexvdi-chatops <command>');
  });
});
