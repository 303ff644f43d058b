/**
 * One freezer cgroup per Host (and one for the Manager stand-in): every process a Host runs — its namespace
 * holder, sshd, the sessions sshd forks, the heartbeat agent — starts inside it and its children inherit it.
 * That gives `freeze` (stop the whole Host at once, like a hung machine), and lets `down` find and kill every
 * process a Host ever started, even ones that daemonised. cgroup v1 freezer where mounted (this machine),
 * else cgroup v2 (`cgroup.freeze`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './exec.js';

const V1 = '/sys/fs/cgroup/freezer';
const V2 = '/sys/fs/cgroup';

const v1 = existsSync(path.join(V1, 'cgroup.procs'));
const root = v1 ? V1 : V2;

/** Absolute cgroup folder of a testbed (`group`) or of one of its members. */
export const cgroupDir = (group: string, member?: string) =>
  member ? path.join(root, group, member) : path.join(root, group);

export function ensureCgroup(group: string, member: string): string {
  const dir = cgroupDir(group, member);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function setFrozen(dir: string, frozen: boolean): void {
  if (v1) writeFileSync(path.join(dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
  else writeFileSync(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
}

export function isFrozen(dir: string): boolean {
  try {
    if (v1) return readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() !== 'THAWED';
    return readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** Thaws the groups and SIGKILLs every process in them until they are empty (forks racing the kill too). */
export async function killCgroups(dirs: readonly string[], timeoutMs = 5000): Promise<void> {
  const live = dirs.filter((d) => existsSync(d));
  for (const d of live) setFrozen(d, false);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = live.flatMap(cgroupPids);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(' ')} in ${live.join(' ')} do not die`);
    await sleep(20);
  }
}

export const killCgroup = (dir: string) => killCgroups([dir]);

/** Kills everything in the testbed's groups and removes them. */
export async function removeCgroupTree(group: string): Promise<void> {
  const top = cgroupDir(group);
  if (!existsSync(top)) return;
  const members = readdirSync(top, { withFileTypes: true })
    .filter((m) => m.isDirectory())
    .map((m) => path.join(top, m.name));
  await killCgroups([...members, top]);
  await Promise.all(members.map(rmdirRetry));
  await rmdirRetry(top);
}

async function rmdirRetry(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i > 100) throw err;
      await sleep(20);
    }
  }
}
