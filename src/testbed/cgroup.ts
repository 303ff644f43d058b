/**
 * One freezer cgroup per Host (and one for the Manager stand-in): every process a Host runs — its namespace
 * holder, sshd, the sessions sshd forks, the heartbeat agent — starts inside it and its children inherit it.
 * That gives `freeze` (stop the whole Host at once, like a hung machine), and lets `down` find and kill every
 * process a Host ever started, even ones that daemonised. cgroup v1 freezer where mounted (this machine),
 * else cgroup v2 (`cgroup.freeze`).
 *
 * Each Host is also in a cpu cgroup of the same name, unlimited until the `slow` fault sets its quota: the v1
 * cpu controller's own hierarchy where mounted (`/sys/fs/cgroup/cpu`, or `cpu,cpuacct`; this machine), else the
 * v2 group itself (`cpu.max`, the controller enabled in the parents' `cgroup.subtree_control`; written but
 * untested here).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './exec.js';

const V1 = '/sys/fs/cgroup/freezer';
const V2 = '/sys/fs/cgroup';

const v1 = existsSync(path.join(V1, 'cgroup.procs'));
const root = v1 ? V1 : V2;
/** The v1 cpu hierarchy (null: cgroup v2, where the cpu files are in the freezer's group). */
const cpuV1Root =
  ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'].find((d) =>
    existsSync(path.join(d, 'cpu.cfs_quota_us')),
  ) ?? null;
/** The CFS period the quota is a share of (the kernel's default, 100 ms). */
const CPU_PERIOD_US = 100_000;

/** Absolute cgroup folder of a testbed (`group`) or of one of its members. */
export const cgroupDir = (group: string, member?: string) =>
  member ? path.join(root, group, member) : path.join(root, group);

export function ensureCgroup(group: string, member: string): string {
  const dir = cgroupDir(group, member);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The cpu cgroup of a testbed member when it is a group of its own (v1); null on cgroup v2, where the
 * member's freezer group (`cgroupDir`) holds the cpu files too.
 */
export const cpuCgroupDir = (group: string, member?: string): string | null =>
  cpuV1Root === null ? null : member ? path.join(cpuV1Root, group, member) : path.join(cpuV1Root, group);

/** Makes the member's own cpu group (v1; null on v2: nothing to make, nothing more to join). */
export function ensureCpuCgroup(group: string, member: string): string | null {
  const dir = cpuCgroupDir(group, member);
  if (dir) mkdirSync(dir, { recursive: true });
  return dir;
}

/** The member's cpu limit, % of one core; null: unlimited (or no cpu controller). */
export function cpuLimit(group: string, member: string): number | null {
  try {
    const v1dir = cpuCgroupDir(group, member);
    const [quota, period] = v1dir
      ? [
          readFileSync(path.join(v1dir, 'cpu.cfs_quota_us'), 'utf8'),
          readFileSync(path.join(v1dir, 'cpu.cfs_period_us'), 'utf8'),
        ].map(Number)
      : readFileSync(path.join(cgroupDir(group, member), 'cpu.max'), 'utf8')
          .trim()
          .split(' ')
          .map(Number);
    return quota === undefined || period === undefined || !(quota > 0) || !(period > 0)
      ? null
      : Math.round((quota / period) * 1000) / 10;
  } catch {
    return null;
  }
}

/** Limits the member's processes to `percent` of one core together; null lifts the limit. */
export function setCpuLimit(group: string, member: string, percent: number | null): void {
  const quota = percent === null ? null : Math.round((CPU_PERIOD_US * percent) / 100);
  const v1dir = cpuCgroupDir(group, member);
  if (v1dir) {
    writeFileSync(path.join(v1dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeFileSync(path.join(v1dir, 'cpu.cfs_quota_us'), quota === null ? '-1' : String(quota));
    return;
  }
  const dir = cgroupDir(group, member);
  if (quota !== null) {
    // v2: the controller must be enabled for the group's children, at every level above it.
    for (const parent of [V2, cgroupDir(group)]) {
      const control = path.join(parent, 'cgroup.subtree_control');
      if (!readFileSync(control, 'utf8').trim().split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
    }
  }
  if (quota !== null || existsSync(path.join(dir, 'cpu.max'))) {
    writeFileSync(path.join(dir, 'cpu.max'), quota === null ? 'max' : `${quota} ${CPU_PERIOD_US}`);
  }
}

/** Throttling the kernel did in the member's cpu group so far (`cpu.stat`), or null without one. */
export function cpuThrottled(group: string, member: string): { periods: number; throttled: number } | null {
  const dir = cpuCgroupDir(group, member) ?? cgroupDir(group, member);
  try {
    const stat = Object.fromEntries(
      readFileSync(path.join(dir, 'cpu.stat'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    return { periods: Number(stat['nr_periods']), throttled: Number(stat['nr_throttled']) };
  } catch {
    return null;
  }
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

/**
 * Thaws the groups and SIGKILLs every process in them until they are empty (forks racing the kill too).
 * Thawed again every round: a frozen process does not die of SIGKILL until it is thawed. `thaw: false` for
 * groups without a freezer (the v1 cpu hierarchy).
 */
export async function killCgroups(dirs: readonly string[], timeoutMs = 5000, thaw = true): Promise<void> {
  const live = dirs.filter((d) => existsSync(d));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (thaw) for (const d of live) thawQuietly(d);
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

function thawQuietly(dir: string): void {
  try {
    setFrozen(dir, false);
  } catch {
    // removed meanwhile
  }
}

export const killCgroup = (dir: string) => killCgroups([dir]);

/** Kills every process in the group and removes it (a fault helper's own group). */
export async function removeCgroup(dir: string): Promise<void> {
  await killCgroups([dir]);
  await rmdirRetry(dir);
}

/**
 * The prefix of a fault helper's group (`jitter-host2`): a process outside the Host's group that freezes and
 * thaws it, so it must go before the Hosts are killed (it could freeze one again meanwhile).
 */
export const HELPER_GROUP_PREFIX = 'jitter-';

function subdirs(top: string): string[] {
  return readdirSync(top, { withFileTypes: true })
    .filter((m) => m.isDirectory())
    .map((m) => path.join(top, m.name));
}

/** Kills everything in the testbed's groups and removes them, in the freezer and the cpu hierarchies. */
export async function removeCgroupTree(group: string): Promise<void> {
  const top = cgroupDir(group);
  if (existsSync(top)) {
    const members = subdirs(top);
    const helpers = members.filter((m) => path.basename(m).startsWith(HELPER_GROUP_PREFIX));
    await killCgroups(helpers);
    await killCgroups([...members, top]);
    await Promise.all(members.map(rmdirRetry));
    await rmdirRetry(top);
  }
  const cpuTop = cpuCgroupDir(group);
  if (cpuTop && existsSync(cpuTop)) {
    const members = subdirs(cpuTop);
    // Empty once the freezer groups are (the same processes), unless something joined only this one.
    await killCgroups([...members, cpuTop], 5000, false);
    await Promise.all(members.map(rmdirRetry));
    await rmdirRetry(cpuTop);
  }
}

/** True while any of the testbed's groups exists (freezer or cpu hierarchy). */
export function cgroupTreeExists(group: string): boolean {
  const cpuTop = cpuCgroupDir(group);
  return existsSync(cgroupDir(group)) || (cpuTop !== null && existsSync(cpuTop));
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
