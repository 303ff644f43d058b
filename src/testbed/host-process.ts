/**
 * Starting and stopping a Host's processes. A Host's first process joins the Host's freezer cgroup (and its
 * cpu cgroup, where that is a hierarchy of its own: see cgroup.ts), then
 * execs `ip netns exec <netns> unshare --mount --uts --pid --fork --mount-proc … bash host-init.sh` with this
 * machine's network namespace open as fd 3 (host-init keeps it for the Manager guest's NIC, see guest.ts);
 * host-init, PID 1 of the Host, builds the Host's private view, starts sshd and the heartbeat agent, prints
 * "ready" and becomes the holder of the namespaces (and reaper of the Host's orphans). Later commands enter
 * the Host through that holder (`nsenter -t <holder>`), also from inside the cgroup, so every process of the
 * Host stays findable and freezable, and `ps` on a Host shows that Host's processes only.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { cgroupDir, cgroupPids, cpuCgroupDir, ensureCgroup, ensureCpuCgroup, killCgroup } from './cgroup.js';
import { TestbedErrorCode } from './errors.js';
import { type RunResult, run } from './exec.js';
import type { HostLayout, TestbedLayout } from './layout.js';
import { scriptsDir } from './paths.js';

const READY_TIMEOUT_MS = 20_000;
const HOLDER_PREFIX = 'flexvdi-testbed-';

export interface HostRuntime {
  heartbeatMs: number;
}

function hostEnv(t: TestbedLayout, h: HostLayout, rt: HostRuntime): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    TB_DIR: h.dir,
    TB_NAME: h.name,
    TB_FQDN: h.fqdn,
    TB_SCRIPTS: scriptsDir(),
    TB_MANAGER_URL: `https://${t.managerIp}`,
    TB_AGENT_AUTH: t.files.agentAuth,
    TB_HB_MS: String(rt.heartbeatMs),
  };
}

/** Starts the Host and resolves once sshd listens and the holder is in place. */
export function startHost(t: TestbedLayout, h: HostLayout, rt: HostRuntime): Promise<void> {
  const cg = ensureCgroup(t.cgroup, h.name);
  const cpu = ensureCpuCgroup(t.cgroup, h.name) ?? '';
  const logFile = path.join(h.dir, 'init.log');
  const logFd = openSync(logFile, 'w');
  const script =
    'echo $$ > "$1/cgroup.procs" && { [ -z "$4" ] || echo $$ > "$4/cgroup.procs"; } && exec 3</proc/self/ns/net && exec ip netns exec "$2" ' +
    'unshare --mount --uts --pid --fork --mount-proc --propagation private -- bash "$3/host-init.sh"';
  const child = spawn('sh', ['-c', script, 'host-start', cg, h.netns, scriptsDir(), cpu], {
    stdio: ['ignore', 'pipe', logFd],
    env: hostEnv(t, h, rt),
    detached: true,
  });
  closeSync(logFd);
  const stdout = child.stdout!;
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      stdout.destroy();
      let log = '';
      try {
        log = readFileSync(logFile, 'utf8').trim().slice(-1500);
      } catch {
        // no log
      }
      reject(new AppError(TestbedErrorCode.startFailed, `Host ${h.name} did not start: ${why}\n${log}`));
    };
    const timer = setTimeout(() => fail(`no "ready" within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.once('exit', (code) => fail(`host-init exited ${code}`));
    stdout.on('data', (d) => {
      out += String(d);
      if (out.includes('ready\n')) {
        child.removeAllListeners('exit');
        stdout.destroy();
        child.unref();
        // host-init says ready just before it becomes the Host's holder process: resolve only once the holder
        // is there, so that running something in the Host right after start cannot find it "not running".
        const waitHolder = () => {
          if (holderPid(t, h) !== null) {
            clearTimeout(timer);
            resolve();
          } else setTimeout(waitHolder, 20);
        };
        waitHolder();
      }
    });
  });
}

/** The holder process (pid) of a running Host, found in its cgroup by name; null when it is not running. */
export function holderPid(t: TestbedLayout, h: HostLayout): number | null {
  for (const pid of cgroupPids(cgroupDir(t.cgroup, h.name))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith(`${HOLDER_PREFIX}${h.name}\0`)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

/**
 * Runs a command inside a running Host (its namespaces and cgroup), as a process of that Host: `bashScript`
 * runs with `bash -c`, `params` are its "$1"…, so callers never build shell text from values.
 */
export async function inHost(
  t: TestbedLayout,
  h: HostLayout,
  bashScript: string,
  params: string[] = [],
  timeoutMs = 15_000,
): Promise<RunResult> {
  const pid = holderPid(t, h);
  if (pid === null) throw new AppError(TestbedErrorCode.notRunning, `Host ${h.name} is not running`);
  const cg = cgroupDir(t.cgroup, h.name);
  const cpu = cpuCgroupDir(t.cgroup, h.name) ?? '';
  const wrapper =
    'cg=$1 cpu=$2 pid=$3 script=$4; shift 4; echo $$ > "$cg/cgroup.procs" && ' +
    '{ [ -z "$cpu" ] || echo $$ > "$cpu/cgroup.procs"; } && ' +
    'exec nsenter -t "$pid" -m -u -n -p -- bash -c "$script" host-cmd "$@"';
  return run('bash', ['-c', wrapper, 'enter', cg, cpu, String(pid), bashScript, ...params], {
    timeoutMs,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
  });
}

/** Kills every process of the Host (the namespaces go with the holder). */
export async function stopHost(t: TestbedLayout, h: HostLayout): Promise<void> {
  await killCgroup(cgroupDir(t.cgroup, h.name));
}
