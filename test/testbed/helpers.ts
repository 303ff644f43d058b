/** Shared bits of the testbed tests: OpenSSH as a client, the inventory, polling, and leftover detection. */

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { type Inventory, parseInventory } from '../../src/config.js';
import { tagOf } from '../../src/testbed/layout.js';
import { poll } from '../support/poll.js';

export const quietLog = pino({ level: 'silent' });

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command. `timeoutMs` only guards against a hang: it is far above what any command here takes, even on
 * a loaded machine (fsck.ocfs2 of a fresh 2 GB volume took over 30 s at load 11). A command killed by it
 * rejects saying so, instead of passing for a failure of its own.
 */
export function runCmd(cmd: string, args: string[], input?: string, timeoutMs = 180_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr!.on('data', (d) => {
      stderr += String(d);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === null)
        reject(
          new Error(
            `${cmd} ${args.join(' ').slice(0, 200)}: killed by ${signal} (over ${timeoutMs} ms?)\n${stderr}`,
          ),
        );
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

export function loadInventory(file: string): Inventory {
  return parseInventory(readFileSync(file, 'utf8'), file);
}

export interface SshOptions {
  knownHosts?: string;
  connectTimeoutS?: number;
  user?: string;
}

/** Real OpenSSH: product key, strict host key checking against the given known_hosts (the inventory's). */
export function ssh(inv: Inventory, host: string, command: string, o: SshOptions = {}): Promise<Ran> {
  const h = inv.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`no host ${host} in inventory`);
  return runCmd('ssh', [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${o.knownHosts ?? inv.ssh.knownHostsPath}`,
    '-o',
    `ConnectTimeout=${o.connectTimeoutS ?? 10}`,
    '-i',
    inv.ssh.privateKeyPath,
    `${o.user ?? inv.ssh.user}@${h.ip}`,
    command,
  ]);
}

export const waitFor = <T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> => poll(what, check, { timeoutMs, intervalMs: 200 });

/** Everything of testbed `name` still present on this machine (empty when `down` cleaned up). */
export async function leftovers(name: string, stateDir: string): Promise<string[]> {
  const tag = tagOf(name);
  const found: string[] = [];
  const netns = (await runCmd('ip', ['netns', 'list'])).stdout;
  for (const line of netns.split('\n')) if (line.startsWith(`fvtb-${tag}-`)) found.push(`netns ${line}`);
  const links = (await runCmd('ip', ['-o', 'link', 'show'])).stdout;
  for (const m of links.matchAll(/^\d+: (fvtb[0-9a-f]{4}[^:@\s]*)/gm)) {
    if (m[1]?.startsWith(`fvtb${tag}`)) found.push(`link ${m[1]}`);
  }
  for (const root of [
    '/sys/fs/cgroup/freezer',
    '/sys/fs/cgroup',
    '/sys/fs/cgroup/cpu',
    '/sys/fs/cgroup/cpu,cpuacct',
  ]) {
    if (existsSync(`${root}/fvtb-${tag}`)) found.push(`cgroup ${root}/fvtb-${tag}`);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const zombie = / Z /.test(stat.slice(stat.lastIndexOf(')')));
      if (cg.includes(`/fvtb-${tag}/`) && !zombie) found.push(`process ${pid}`);
    } catch {
      // exited while scanning
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mounts.split('\n')) {
    if (line.includes(stateDir) || line.includes(`/run/netns/fvtb-${tag}-`)) found.push(`mount ${line}`);
  }
  // loop devices of its disk images (losetup -a: `/dev/loop3: []: (/path/shared0.img)`, `(deleted)` once gone)
  for (const line of (await runCmd('losetup', ['-a'])).stdout.split('\n')) {
    if (line.includes(`${stateDir}/`)) found.push(`loop device ${line}`);
  }
  if (existsSync(`/run/flexvdi-testbed/${tag}.json`)) found.push('registry entry');
  if (existsSync(stateDir)) found.push(`state folder ${stateDir}`);
  return found;
}
