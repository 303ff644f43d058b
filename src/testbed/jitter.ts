/**
 * The jitter fault's pauser: a small detached `sh` loop that freezes the Host's freezer group for `pauseMs`,
 * thaws it, lets it run for the rest of `everyMs`, and again, until it is killed. It has to outlive the call
 * that starts it (`testbed fail h jitter` is a short-lived process), so it is a process of its own, in its own
 * group of the testbed's tree (`fvtb-<tag>/jitter-<host>`), never in the Host's group it freezes. `heal` and
 * `replace` kill it by that group and then thaw the Host; `down` kills the helper groups before the Hosts'
 * (cgroup.ts), so nothing is left frozen or running. Its pid is recorded in the testbed state.
 *
 * The pauses are timed by `sleep`: each cycle drifts by the few ms it takes to start two `sleep`s.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { cgroupDir, cgroupPids, ensureCgroup, HELPER_GROUP_PREFIX, removeCgroup } from './cgroup.js';
import { TestbedErrorCode } from './errors.js';
import { sleep } from './exec.js';
import type { JitterOptions } from './fault-options.js';
import type { HostLayout, TestbedLayout } from './layout.js';

const START_TIMEOUT_MS = 5000;

/** The freezer file and the values that freeze and thaw a group (v1 `freezer.state`, v2 `cgroup.freeze`). */
function freezeControl(dir: string): { file: string; on: string; off: string } {
  return existsSync(path.join(dir, 'freezer.state'))
    ? { file: path.join(dir, 'freezer.state'), on: 'FROZEN', off: 'THAWED' }
    : { file: path.join(dir, 'cgroup.freeze'), on: '1', off: '0' };
}

/**
 * $1 its own group, $2 the Host's freezer file, $3/$4 freeze/thaw values, $5/$6 pause/run seconds. Joins its
 * group first; ends when the Host's group is gone (the write fails); thaws the Host when told to stop (TERM):
 * `sleep … & wait` so the trap runs at once, not after the sleep.
 */
const PAUSER = [
  'echo $$ > "$1/cgroup.procs" || exit 1',
  'f=$2 on=$3 off=$4 pause=$5 run=$6',
  `trap 'echo "$off" > "$f"; exit 0' TERM INT HUP`,
  'while :; do',
  '  echo "$on" > "$f" || exit 0',
  '  sleep "$pause" & wait $!',
  '  echo "$off" > "$f" || exit 0',
  '  sleep "$run" & wait $!',
  'done',
].join('\n');

export const jitterGroupDir = (t: TestbedLayout, h: HostLayout) =>
  cgroupDir(t.cgroup, `${HELPER_GROUP_PREFIX}${h.name}`);

const secs = (ms: number) => (ms / 1000).toFixed(3);

/** Starts the Host's pauser (the first pause at once) and returns its pid once it is in its group. */
export async function startJitter(t: TestbedLayout, h: HostLayout, o: JitterOptions): Promise<number> {
  await stopJitter(t, h); // one left by a run that crashed before recording it
  const own = ensureCgroup(t.cgroup, `${HELPER_GROUP_PREFIX}${h.name}`);
  const c = freezeControl(cgroupDir(t.cgroup, h.name));
  const child = spawn(
    'sh',
    [
      '-c',
      PAUSER,
      `flexvdi-testbed-jitter-${h.name}`,
      own,
      c.file,
      c.on,
      c.off,
      secs(o.pauseMs),
      secs(o.everyMs - o.pauseMs),
    ],
    { detached: true, stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
  child.unref();
  const pid = child.pid;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (pid === undefined || !cgroupPids(own).includes(pid)) {
    if (exited !== null || pid === undefined || Date.now() > deadline) {
      await removeCgroup(own);
      throw new AppError(
        TestbedErrorCode.tool,
        `the jitter pauser of ${h.name} did not start (${exited === null ? 'not in its cgroup in time' : `exited ${exited}`})`,
      );
    }
    await sleep(10);
  }
  return pid;
}

/** Stops the Host's pauser, if any (its whole group, so a `sleep` it left goes too). Does not thaw the Host. */
export async function stopJitter(t: TestbedLayout, h: HostLayout): Promise<void> {
  const dir = jitterGroupDir(t, h);
  if (existsSync(dir)) await removeCgroup(dir);
}

/** Whether the Host's pauser is alive (recorded pid, still in its group and not a zombie). */
export function jitterRunning(t: TestbedLayout, h: HostLayout, pid: number | null | undefined): boolean {
  if (!pid || !cgroupPids(jitterGroupDir(t, h)).includes(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^ Z /.test(stat.slice(stat.lastIndexOf(')') + 1));
  } catch {
    return false;
  }
}
