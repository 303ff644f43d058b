import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local-redis.js';
import type { SshPool } from '../../src/ssh/index.js';
import { eventually, expectAppError, failure, poolFor, rejectsWith, run } from './helpers.js';
import { type SshdFixture, startSshd } from './sshd-fixture.js';

let f: SshdFixture;
let knownHosts: string;
let pool: SshPool;

beforeAll(async () => {
  f = await startSshd({ label: 'exec' });
  knownHosts = path.join(f.dir, 'known_hosts');
  await writeFile(knownHosts, await f.knownHostsText());
  pool = poolFor(f, knownHosts);
});

afterAll(async () => {
  await pool?.close();
  await f?.stop();
});

describe('exec', () => {
  it('runs a command and returns stdout, stderr, exit code and time', async () => {
    const res = await pool.exec(f.target(), 'echo out; echo err >&2; printf "%s" "$HOME"');
    expect(res).toMatchObject({ code: 0, signal: null, stdout: `out\n${f.home}`, stderr: 'err\n' });
    expect(Number.isInteger(res.ms)).toBe(true);
    // the time is the call's: a command that sleeps 200 ms cannot be reported faster
    const slow = await pool.exec(f.target(), 'sleep 0.2');
    expect(slow.ms).toBeGreaterThanOrEqual(195);
  });

  it('turns a non-zero exit into ssh.command_failed without leaking stdin', async () => {
    const err = await rejectsWith(
      pool.exec(f.target('host7'), 'cat >/dev/null; echo "disk full" >&2; exit 3', { stdin: 'TOKEN-s3cr3t' }),
      'ssh.command_failed',
    );
    expect(err.message).toContain('host7');
    expect(err.details).toMatchObject({ target: 'host7', code: 3, stderrTail: 'disk full\n' });
    expect(JSON.stringify({ m: err.message, u: err.userMessage, d: err.details })).not.toContain('s3cr3t');
  });

  it('returns non-zero results when allowed, and reports death by signal', async () => {
    expect((await pool.exec(f.target(), 'exit 7', { allowNonZero: true })).code).toBe(7);
    const killed = await pool.exec(f.target(), 'kill -TERM $$', { allowNonZero: true });
    expect(killed).toMatchObject({ code: null, signal: 'SIGTERM' });
  });

  it('gets the exit status of fast commands that finish within the channel-open round trip', async () => {
    // The exit status can arrive in the same TCP read as the open confirmation; it must not be lost.
    for (let round = 0; round < 5; round++) {
      const codes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pool.exec(f.target(), `exit ${i % 7}`, { allowNonZero: true })),
      );
      expect(codes.map((r) => r.code)).toEqual(Array.from({ length: 20 }, (_, i) => i % 7));
    }
  });

  it('feeds stdin (1 MiB) and returns a large stdout (5 MB) intact', async () => {
    const input = Buffer.alloc(1 << 20, 'x');
    expect((await pool.exec(f.target(), 'wc -c', { stdin: input })).stdout.trim()).toBe(String(1 << 20));
    expect((await pool.exec(f.target(), 'cat', { stdin: 'héllo\nwörld' })).stdout).toBe('héllo\nwörld');
    const big = await pool.exec(f.target(), "head -c 5000000 /dev/zero | tr '\\0' a; seq 1 3");
    expect(big.stdout.length).toBe(5_000_000 + 6);
    expect(big.stdout.endsWith('a1\n2\n3\n')).toBe(true);
  });

  it('times out with ssh.timeout and kills the remote command', async () => {
    const pidFile = path.join(f.dir, 'timeout.pid');
    const err = await rejectsWith(
      pool.exec(f.target('host3'), `echo $$ > ${pidFile}; sleep 60; echo never`, { timeoutMs: 700 }),
      'ssh.timeout',
    );
    expect(err.message).toContain('host3');
    const { stdout: pid } = await run('cat', [pidFile]);
    await eventually(
      async () => (await pool.exec(f.target(), `kill -0 ${pid.trim()}`, { allowNonZero: true })).code !== 0,
    );
  });

  it('cancels on abort: job.cancelled, remote command killed, slot freed', async () => {
    const pidFile = path.join(f.dir, 'abort.pid');
    const ctl = new AbortController();
    const p = failure(pool.exec(f.target(), `echo $$ > ${pidFile}; sleep 60`, { signal: ctl.signal }));
    await eventually(
      async () => (await run('sh', ['-c', `test -s ${pidFile} && echo y || echo n`])).stdout.trim() === 'y',
    );
    ctl.abort();
    expectAppError(await p, 'job.cancelled');
    const { stdout: pid } = await run('cat', [pidFile]);
    await eventually(
      async () => (await pool.exec(f.target(), `kill -0 ${pid.trim()}`, { allowNonZero: true })).code !== 0,
    );
    await eventually(() => pool.stats().every((c) => c.activeChannels === 0));
    // Already aborted: rejected before anything runs.
    await rejectsWith(pool.exec(f.target(), 'true', { signal: AbortSignal.abort() }), 'job.cancelled');
  });

  it('multiplexes 50 concurrent commands over one connection within the channel limit', async () => {
    let maxActive = 0;
    let maxQueued = 0;
    const sample = setInterval(() => {
      for (const c of pool.stats()) {
        maxActive = Math.max(maxActive, c.activeChannels);
        maxQueued = Math.max(maxQueued, c.queued);
      }
    }, 5);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => pool.exec(f.target(), `sleep 0.1; echo ${i}`)),
      );
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`));
    } finally {
      clearInterval(sample);
    }
    expect(pool.stats()).toHaveLength(1);
    expect(maxActive).toBeLessThanOrEqual(8);
    expect(maxActive).toBeGreaterThan(1);
    expect(maxQueued).toBeGreaterThan(0);
  });
});

describe('connections', () => {
  it('reconnects after sshd restarts, and fails a command cut off mid-way with ssh.connect_failed', async () => {
    await pool.exec(f.target(), 'true');
    const running = failure(pool.exec(f.target('host5'), 'sleep 30'));
    await eventually(() => pool.stats().some((c) => c.activeChannels > 0));
    await f.restart();
    const err = expectAppError(await running, 'ssh.connect_failed');
    expect(err.message).toContain('host5');
    expect((await pool.exec(f.target(), 'echo back')).stdout).toBe('back\n');
    expect(pool.stats()).toHaveLength(1);
  });

  it('closes idle connections and opens a new one on demand', async () => {
    const idle = poolFor(f, knownHosts, { idleTimeoutMs: 100 });
    try {
      await idle.exec(f.target(), 'true');
      await eventually(() => idle.stats().length === 0);
      expect((await idle.exec(f.target(), 'echo again')).stdout).toBe('again\n');
    } finally {
      await idle.close();
    }
    await rejectsWith(idle.exec(f.target(), 'true'), 'ssh.connect_failed');
  });

  it('queues over a server MaxSessions lower than the configured limit instead of failing', async () => {
    const small = await startSshd({ label: 'exec-small', maxSessions: 3 });
    const kh = path.join(small.dir, 'known_hosts');
    await writeFile(kh, await small.knownHostsText());
    const p = poolFor(small, kh, { maxChannelsPerConnection: 8 });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => p.exec(small.target(), `sleep 0.1; echo ${i}`)),
      );
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(p.stats()[0]!.channelLimit).toBeLessThanOrEqual(3);
    } finally {
      await p.close();
      await small.stop();
    }
  });

  it('reports auth failure, refused port, silent server and unusable key by code, naming the Host', async () => {
    const otherKey = path.join(f.dir, 'stranger_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const stranger = poolFor(f, knownHosts, { privateKey: otherKey });
    try {
      const auth = await rejectsWith(stranger.exec(f.target('host9'), 'true'), 'ssh.auth_failed');
      expect(auth.message).toContain('host9');
    } finally {
      await stranger.close();
    }

    const deadPort = await freePort();
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentPort = (silent.address() as { port: number }).port;
    const keyLine = (await f.knownHostsText()).split(' ').slice(1).join(' ');
    const kh = path.join(f.dir, 'known_hosts_more');
    await writeFile(kh, `[127.0.0.1]:${deadPort} ${keyLine}[127.0.0.1]:${silentPort} ${keyLine}`);
    const p = poolFor(f, kh, { connectTimeoutMs: 500 });
    try {
      const refused = await rejectsWith(
        p.exec({ name: 'host4', host: '127.0.0.1', port: deadPort }, 'true'),
        'ssh.connect_failed',
      );
      expect(refused.message).toMatch(/host4.*ECONNREFUSED/);
      const slow = await rejectsWith(
        p.exec({ name: 'host6', host: '127.0.0.1', port: silentPort }, 'true'),
        'ssh.timeout',
      );
      expect(slow.message).toContain('host6');
    } finally {
      await p.close();
      silent.close();
    }

    const noKey = poolFor(f, knownHosts, { privateKey: path.join(f.dir, 'missing_key') });
    await rejectsWith(noKey.exec(f.target(), 'true'), 'ssh.private_key_invalid');
    await noKey.close();
  });
});
