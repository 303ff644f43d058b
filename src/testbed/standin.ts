/**
 * The Manager stand-in as the testbed runs it: its own network namespace at <subnet>.2, port 443, its own
 * freezer cgroup, state and certificate in <stateDir>/manager/, the admin password in a mode-600 file.
 * The stand-in itself (HTTP API, state) is src/testbed/manager/.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { cgroupDir, ensureCgroup, killCgroup } from './cgroup.js';
import { TestbedErrorCode } from './errors.js';
import type { TestbedLayout } from './layout.js';
import { standinEntry } from './standin-entry.js';
import { writeFileAtomic } from './state.js';

export const MANAGER_USERNAME = 'admin';
const START_TIMEOUT_MS = 30_000;

export interface StandinInfo {
  url: string;
  fingerprint256: string;
}

/** Makes the password file and the agents' login file once; later calls keep the password. */
export function ensureManagerCredentials(t: TestbedLayout): void {
  mkdirSync(path.dirname(t.files.managerPassword), { recursive: true, mode: 0o700 });
  if (!existsSync(t.files.managerPassword)) {
    writeFileAtomic(t.files.managerPassword, `${randomBytes(18).toString('base64url')}\n`, 0o600);
  }
  const password = readFileSync(t.files.managerPassword, 'utf8').trim();
  writeFileAtomic(t.files.agentAuth, JSON.stringify({ username: MANAGER_USERNAME, password }), 0o600);
}

export async function startStandin(t: TestbedLayout, failThresholdMs: number): Promise<StandinInfo> {
  const entry = await standinEntry();
  const cg = ensureCgroup(t.cgroup, 'manager');
  const logFd = openSync(t.files.managerLog, 'a');
  const script = 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"';
  const args = [
    t.managerNetns,
    process.execPath,
    entry,
    '--host',
    t.managerIp,
    '--port',
    '443',
    '--state',
    t.files.managerState,
    '--password-file',
    t.files.managerPassword,
    '--username',
    MANAGER_USERNAME,
    '--fail-threshold-ms',
    String(failThresholdMs),
  ];
  const child = spawn('sh', ['-c', script, 'manager-start', cg, ...args], {
    stdio: ['ignore', 'pipe', logFd],
    detached: true,
  });
  closeSync(logFd);
  const stdout = child.stdout!;
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      stdout.destroy();
      const log = readFileSync(t.files.managerLog, 'utf8').trim().slice(-1500);
      reject(new AppError(TestbedErrorCode.startFailed, `Manager stand-in did not start: ${why}\n${log}`));
    };
    const timer = setTimeout(() => fail(`no address line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('exit', (code) => fail(`exited ${code}`));
    stdout.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      stdout.destroy();
      child.unref();
      try {
        const info = JSON.parse(out.slice(0, nl)) as { url: string; fingerprint256: string };
        resolve({ url: info.url.replace(/:443$/, ''), fingerprint256: info.fingerprint256 });
      } catch {
        reject(new AppError(TestbedErrorCode.startFailed, `Manager stand-in printed ${out.slice(0, 200)}`));
      }
    });
  });
}

export async function stopStandin(t: TestbedLayout): Promise<void> {
  await killCgroup(cgroupDir(t.cgroup, 'manager'));
}
