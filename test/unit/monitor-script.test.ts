/**
 * The heartbeat loop the monitor runs on each Host, run here by a real shell: a line per beat saying whether
 * something listens on the session's port; `hb ?` when grep is missing; the loop ends when its output is
 * gone (a failed write), whatever the shell's SIGPIPE disposition.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { heartbeatScript } from '../../src/monitor/probe.js';

const script = heartbeatScript(100);

/** The first `n` lines the loop writes, run as sshd would run it for a session on `port`. */
function lines(port: number, n: number, path = process.env['PATH'] ?? ''): Promise<string[]> {
  const child = spawn('/bin/bash', ['-c', script], {
    env: { PATH: path, SSH_CONNECTION: `10.0.0.1 50000 10.0.0.2 ${port}` },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const got = out.split('\n').filter(Boolean);
      if (got.length >= n) {
        child.kill();
        resolve(got.slice(0, n));
      }
    });
    child.once('exit', () => reject(new Error(`the loop ended after: ${JSON.stringify(out)}`)));
  });
}

/** A PATH with `sleep` but no `grep`. */
function pathWithoutGrep(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nogrep-'));
  const sleep = spawnSync('/bin/sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(sleep, path.join(dir, 'sleep'));
  return dir;
}

describe('heartbeat loop', () => {
  it('says hb 1 while something listens on the session port, hb 0 when nothing does', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    expect(await lines(port, 2)).toEqual(['hb 1', 'hb 1']);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await lines(port, 2)).toEqual(['hb 0', 'hb 0']);
  });

  it('says hb ? when it cannot tell (no grep)', async () => {
    expect(await lines(22, 2, pathWithoutGrep())).toEqual(['hb ?', 'hb ?']);
  });

  it('ends when its reader is gone, even with SIGPIPE ignored', async () => {
    // `trap '' PIPE` before the loop: writes then fail with EPIPE instead of killing the shell
    const child = spawn('bash', ['-c', `trap '' PIPE; ${script}`], {
      env: { PATH: process.env['PATH'] ?? '', SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    child.stdout!.destroy();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });
});
