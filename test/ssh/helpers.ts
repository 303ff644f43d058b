import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { expect } from 'vitest';
import type { AppError } from '../../src/errors.js';
import { createSshPool, type SshPool, type SshPoolOptions } from '../../src/ssh/index.js';
import { poll } from '../support/poll.js';
import type { SshdFixture } from './sshd-fixture.js';

export const run = promisify(execFile);
export const silentLog = pino({ level: 'silent' });

export function poolFor(f: SshdFixture, knownHostsPath: string, over: Partial<SshPoolOptions> = {}): SshPool {
  return createSshPool({
    privateKey: f.clientKeyPath,
    knownHostsPath,
    user: 'root',
    connectTimeoutMs: 8000,
    commandTimeoutMs: 20_000,
    log: silentLog,
    ...over,
  });
}

/**
 * Attaches to `p` at once (so a rejection that happens while the test does something else is not reported
 * as unhandled) and resolves with the rejection reason, or with an Error saying it succeeded.
 */
export function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('expected a rejection, but the call succeeded'),
    (e: unknown) => e,
  );
}

/** Checks that `err` is an AppError with this code; returns it for more checks. */
export function expectAppError(err: unknown, code: string): AppError {
  expect((err as AppError)?.name, String(err)).toBe('AppError');
  expect((err as AppError).code).toBe(code);
  return err as AppError;
}

export async function rejectsWith(p: Promise<unknown>, code: string): Promise<AppError> {
  return expectAppError(await failure(p), code);
}

/** `ssh-keygen -lf` of a file: the SHA256 fingerprint of its first key. */
export async function keygenFingerprint(file: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file]);
  return stdout.split(/\s+/)[1]!;
}

/** Polls `check` until it returns true (or fails the test after `ms`). For effects that happen "soon". */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  await poll('condition', check, { timeoutMs: ms });
}
