/**
 * A private redis-server child process: used by `start` when REDIS_URL is not given and by the tests.
 * Listens on 127.0.0.1 on a free port, keeps its data in a temporary folder, dies with its parent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError, ErrorCode } from './errors.js';

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateRedisOptions {
  label?: string;
  port?: number;
  dir?: string;
  /** AOF on (production-like durability); default off for speed. */
  appendOnly?: boolean;
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), `flexvdi-redis-${opts.label ?? 'x'}-`));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    opts.appendOnly ? 'yes' : 'no',
    '--dir',
    dir,
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  // It dies with its parent, however the parent ends (a crash included): 'exit' handlers run synchronously.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('error', (err) => resolve(err));
    child.once('spawn', () => resolve(undefined));
  });
  if (spawnError) {
    throw new AppError(
      ErrorCode.redisUnavailable,
      `cannot start redis-server (${spawnError.message}); install it (apt-get install redis-server) or set REDIS_URL`,
    );
  }
  await waitForPort(port, 10_000, () => child.exitCode !== null);
  if (child.exitCode !== null) {
    throw new AppError(ErrorCode.redisUnavailable, `redis-server exited: ${stderr.trim()}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          if (ownDir) rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}

async function waitForPort(port: number, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!gaveUp()) throw new AppError(ErrorCode.redisUnavailable, `redis-server did not listen on ${port}`);
}
