/**
 * Redis unreachable at start: the runtime and the CLI fail at once with a message that names the URL (never
 * its password) and says what to do; the CLI exits non-zero. Nothing keeps running.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { AppError, ErrorCode } from '../../src/errors.js';
import { freePort } from '../../src/local-redis.js';
import { createLogger } from '../../src/log.js';
import { startRuntime } from '../../src/runtime.js';
import { writeInventory } from '../support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let dir: string;
let inventory: string;
let closedPort: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-redis-down-'));
  inventory = writeInventory(dir, { prefix: 'tredisdown' });
  closedPort = await freePort(); // nothing listens there
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const env = (redisUrl: string) => ({
  REDIS_URL: redisUrl,
  FLEXVDI_CONFIG: inventory,
  SLACK_BOT_TOKEN: 'xoxb-test-redis-down',
  SLACK_SIGNING_SECRET: 'test-signing-secret',
  SLACK_API_URL: 'http://127.0.0.1:9/api/',
  PORT: '0',
  LOG_LEVEL: 'error',
});

it('startRuntime rejects with redis.unavailable, naming the URL and the fixes', async () => {
  const url = `redis://127.0.0.1:${closedPort}`;
  const err = await startRuntime({
    config: loadConfig(env(url)),
    log: createLogger({ level: 'silent' }),
    roles: { bot: true, worker: true },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const e = err as AppError;
  expect(e.code).toBe(ErrorCode.redisUnavailable);
  expect(e.message).toContain(`cannot reach Redis at ${url}`);
  expect(e.message).toContain('Start redis-server, fix REDIS_URL, or unset REDIS_URL');
});

it('`flexvdi-chatops start` exits non-zero with a clear message, and never prints the Redis password', async () => {
  const url = `redis://flexvdi:s3cret-pw@127.0.0.1:${closedPort}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env(url) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(code).not.toBe(0);
  expect(code).toBe(1);
  expect(err).toContain(`flexvdi-chatops: cannot reach Redis at redis://***@127.0.0.1:${closedPort}`);
  expect(err).toContain('Start redis-server, fix REDIS_URL, or unset REDIS_URL');
  expect(out + err).not.toContain('s3cret-pw');
});
