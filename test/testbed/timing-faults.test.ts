/**
 * The timing faults, measured from inside and outside the Host (never inferred from a sleep):
 * - jitter: a ticker inside the Host stops for about a pause, about every period, and the Host's freezer is
 *   frozen part of the time, thawed most of it; the Manager keeps seeing the Host's heartbeats; heal stops the
 *   pauser and leaves the Host thawed, even in the middle of a pause;
 * - slow: the same CPU-bound loop inside the Host (run through the testbed and over SSH) gets about the limit
 *   of one core and takes several times longer than on an unthrottled Host at the same time; heal restores it;
 * - the CLI's options and refusals; `down` removes the pauser and the cpu cgroups.
 * Test-scoped testbed "vt-tim".
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Inventory, Secret } from '../../src/config.js';
import { createManagerClient, type ManagerClient } from '../../src/manager/index.js';
import { cgroupDir, cpuCgroupDir, cpuThrottled, isFrozen } from '../../src/testbed/cgroup.js';
import {
  failHost,
  healHost,
  runOnHost,
  type TestbedInfo,
  testbedCli,
  testbedDown,
  testbedStatus,
  testbedUp,
} from '../../src/testbed/index.js';
import { tagOf } from '../../src/testbed/layout.js';
import { readState } from '../../src/testbed/state.js';
import { poll } from '../support/poll.js';
import { leftovers, loadInventory, quietLog, ssh } from './helpers.js';

const NAME = 'vt-tim';
const ref = { name: NAME, log: quietLog };
const group = `fvtb-${tagOf(NAME)}`;
let tb: TestbedInfo;
let inv: Inventory;
let manager: ManagerClient;

const fqdn = (host: string) => `${host}.flexvdi.test`;

beforeAll(async () => {
  tb = await testbedUp({ ...ref, hosts: 3, failThresholdMs: 2000, heartbeatIntervalMs: 500 });
  inv = loadInventory(tb.inventoryPath);
  manager = createManagerClient({
    url: inv.manager.url,
    username: inv.manager.username,
    password: () => new Secret(readFileSync(inv.manager.password.file!, 'utf8').trim()),
    tls: { fingerprint256: inv.manager.tls.fingerprint256 },
    log: quietLog,
  });
  for (const host of ['host1', 'host2']) {
    const keys = await runOnHost(
      { ...ref, host },
      'cat /home/flexvdi/.ssh/id_ed25519.pub /etc/ssh/ssh_host_ed25519_key.pub',
    );
    const [sshPubkey, sshServerKey] = keys.stdout.trim().split('\n');
    await manager.registerHost({ hostId: fqdn(host), sshPubkey: sshPubkey!, sshServerKey: sshServerKey! });
  }
  for (const host of ['host1', 'host2']) {
    await poll(
      `the Manager seeing ${host} running`,
      async () => (await manager.getHost(fqdn(host)))?.status === 'running',
      { intervalMs: 200 },
    );
  }
});

afterAll(async () => {
  await manager?.logout();
  await testbedDown(ref);
});

/**
 * A ticker inside the Host for `ms` of its wall clock: a timestamp (ms) about every 20 ms, as the Host's own
 * processes see time pass. A pause of the Host is a gap between two ticks.
 */
async function ticks(host: string, ms: number): Promise<number[]> {
  const r = await runOnHost(
    { ...ref, host },
    'end=$(( $(date +%s%3N) + $1 )); while :; do t=$(date +%s%3N); echo "$t"; [ "$t" -ge "$end" ] && break; sleep 0.02; done',
    [String(ms)],
  );
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n').map(Number);
}

/** Samples, while `during` runs: the Host's freezer state every 10 ms, the Manager's status every 300 ms. */
async function watch<T>(host: string, during: Promise<T>) {
  const frozen: boolean[] = [];
  const managerSaid: string[] = [];
  let done = false;
  const freezer = setInterval(() => frozen.push(isFrozen(cgroupDir(group, host))), 10);
  const polling = (async () => {
    while (!done) {
      managerSaid.push((await manager.getHost(fqdn(host)))?.status ?? 'missing');
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  try {
    const value = await during;
    return { value, frozen, managerSaid };
  } finally {
    done = true;
    clearInterval(freezer);
    await polling;
  }
}

const gapsOf = (t: number[]) => t.slice(1).map((x, i) => ({ at: t[i]!, ms: x - t[i]! }));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^ Z /.test(stat.slice(stat.lastIndexOf(')') + 1));
  } catch {
    return false;
  }
};
const helperPid = () => readState(`${tb.stateDir}/state.json`)!.hosts[0]!.helperPid ?? null;

describe('jitter', () => {
  const PAUSE = 400;
  const EVERY = 1200;

  it('pauses the Host for about a pause, about every period, and only that; the Manager keeps it running', async () => {
    await failHost({ ...ref, host: 'host1', mode: 'jitter', pauseMs: PAUSE, everyMs: EVERY });
    const s = (await testbedStatus(ref)).hosts[0]!;
    expect(s).toMatchObject({
      fault: 'jitter',
      faultOptions: { pauseMs: PAUSE, everyMs: EVERY },
      jitterRunning: true,
    });

    const { value: t, frozen, managerSaid } = await watch('host1', ticks('host1', 6000));
    const long = gapsOf(t).filter((g) => g.ms >= PAUSE * 0.6);
    // ~5 pauses in 6 s; each about a pause long (slack for a loaded machine), never two in a row
    expect(long.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...long.map((g) => g.ms))).toBeLessThan(PAUSE + 300);
    for (let i = 1; i < long.length; i++) {
      expect(long[i]!.at - long[i - 1]!.at).toBeGreaterThan(EVERY - 300);
      expect(long[i]!.at - long[i - 1]!.at).toBeLessThan(EVERY + 300);
    }
    // seen from outside: frozen some of the time (a third, by the options), thawed most of it
    const share = frozen.filter(Boolean).length / frozen.length;
    expect(frozen.length).toBeGreaterThan(200);
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.55);
    // the Host's agent still reaches the Manager (heartbeats delayed by at most a pause, threshold 2 s)
    expect(managerSaid.length).toBeGreaterThan(10);
    expect(new Set(managerSaid)).toEqual(new Set(['running']));
  });

  it('heal during a pause stops the pauser and leaves the Host thawed: the ticker runs without a gap', async () => {
    const pid = helperPid();
    expect(pid).not.toBeNull();
    expect(alive(pid!)).toBe(true);
    // wait for a pause (the freezer says so), then heal in the middle of it
    await poll('host1 frozen', () => isFrozen(cgroupDir(group, 'host1')), { timeoutMs: 5000, intervalMs: 5 });
    await healHost({ ...ref, host: 'host1' });
    expect(isFrozen(cgroupDir(group, 'host1'))).toBe(false);
    expect(alive(pid!)).toBe(false);
    expect(existsSync(cgroupDir(group, 'jitter-host1'))).toBe(false);
    const { value: t, frozen } = await watch('host1', ticks('host1', 2500));
    expect(frozen.filter(Boolean)).toEqual([]);
    expect(Math.max(...gapsOf(t).map((g) => g.ms))).toBeLessThan(200);
    expect((await testbedStatus(ref)).hosts[0]).toMatchObject({
      fault: null,
      faultOptions: null,
      jitterRunning: false,
      frozen: false,
    });
  });
});

describe('slow', () => {
  /** A fixed amount of CPU-bound work inside the Host: wall seconds and CPU seconds it took. */
  const LOOP = `TIMEFORMAT='%R %U %S'; time (i=0; while ((i < 200000)); do ((i++)); done)`;
  const parse = (stderr: string) => {
    const [real, user, sys] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    return { wall: real!, cpuShare: (user! + sys!) / real! };
  };
  const viaTestbed = async (host: string) => parse((await runOnHost({ ...ref, host }, LOOP)).stderr);
  const viaSsh = async (host: string) =>
    parse((await ssh(inv, host, `bash -c '${LOOP.replace(/'/g, `'\\''`)}'`)).stderr);

  // Wall-time ratios are taken between the slowed Host and an unslowed one running the same loop AT THE SAME
  // TIME: both see the same machine load (ratios of runs seconds apart measured the load, and flaked).
  const side = async (run: (host: string) => ReturnType<typeof viaTestbed>) => {
    const [slowed, peer] = await Promise.all([run('host2'), run('host3')]);
    return { slowed, peer };
  };

  it('gives the Host about its share of one core: the same work takes several times longer, then heal restores it', async () => {
    const throttled0 = cpuThrottled(group, 'host2')!;
    await failHost({ ...ref, host: 'host2', mode: 'slow', cpuPercent: 10 });
    expect((await testbedStatus(ref)).hosts[1]).toMatchObject({
      fault: 'slow',
      faultOptions: { cpuPercent: 10 },
      cpuLimitPercent: 10,
    });
    const { value: slow, managerSaid } = await watch('host2', side(viaTestbed));
    const slowSsh = await side(viaSsh); // a session sshd forked: the Host's own processes are limited
    const throttled1 = cpuThrottled(group, 'host2')!;
    await healHost({ ...ref, host: 'host2' });
    const after = await side(viaTestbed);

    // 10 % of a core makes the loop ~10× slower than on the unslowed Host beside it
    expect(slow.slowed.wall / slow.peer.wall).toBeGreaterThan(4);
    expect(slowSsh.slowed.wall / slowSsh.peer.wall).toBeGreaterThan(4);
    expect(slow.slowed.cpuShare).toBeLessThan(0.2);
    expect(slowSsh.slowed.cpuShare).toBeLessThan(0.2);
    expect(throttled1.throttled - throttled0.throttled).toBeGreaterThan(5);
    // healed: the two Hosts are alike again (two loops on two cores, whatever else the machine runs)
    expect(after.slowed.wall / after.peer.wall).toBeLessThan(2);
    expect(after.peer.wall / after.slowed.wall).toBeLessThan(2);
    // slowed, not stopped: the agent's heartbeats still reach the Manager
    expect(new Set(managerSaid)).toEqual(new Set(['running']));
    expect((await testbedStatus(ref)).hosts[1]).toMatchObject({ fault: null, cpuLimitPercent: null });
  });
});

describe('the CLI', () => {
  it('takes the mode as a word or --mode, with its options; refuses bad ones; a second, different fault conflicts', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const deps = { log: quietLog, out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    const cli = (...args: string[]) => testbedCli([...args, '--name', NAME], deps);
    expect(await cli('fail', 'host3', 'jitter', '--pause-ms', '3000')).toBe(1);
    expect(err.pop()).toBe(
      'testbed fail: pauseMs (3000) must be at least 100 ms less than everyMs (3000): the Host has to run ' +
        'between pauses (for a Host that never runs, use the freeze fault)',
    );
    expect(await cli('fail', 'host3', 'slow', '--every-ms', '500')).toBe(1);
    expect(err.pop()).toMatch(/everyMs \(--every-ms\) is not an option of fault slow/);
    expect(await cli('fail', 'host3', '--mode', 'slow', '--cpu-percent', 'lots')).toBe(2);
    expect(await cli('fail', 'host3', 'jitter', '--mode', 'slow')).toBe(2);

    expect(await cli('fail', 'host3', 'slow', '--cpu-percent', '25')).toBe(0);
    expect(out.pop()).toBe('host3: slow (25 % of one core)');
    expect(await cli('fail', 'host3', '--mode', 'slow', '--cpu-percent', '25')).toBe(0); // the same: no-op
    expect(await cli('fail', 'host3', 'slow', '--cpu-percent', '30')).toBe(1);
    expect(err.pop()).toBe(
      'testbed fail: host3 already has fault slow (25 % of one core); heal it first (testbed heal host3)',
    );
    expect(await cli('status')).toBe(0);
    expect(out.pop()).toMatch(/^host3 .* slow \(25 % of one core\)$/m);
    expect(await cli('heal', 'host3')).toBe(0);
    expect((await testbedStatus(ref)).hosts[2]).toMatchObject({ fault: null, cpuLimitPercent: null });
  });
});

describe('down', () => {
  it('removes the pauser of a jittering Host and the cpu cgroups of a slowed one', async () => {
    await failHost({ ...ref, host: 'host1', mode: 'jitter', pauseMs: 200, everyMs: 400 });
    await failHost({ ...ref, host: 'host2', mode: 'slow' });
    const pid = helperPid()!;
    expect(alive(pid)).toBe(true);
    expect(cpuCgroupDir(group, 'host2')).not.toBeNull(); // this machine has the v1 cpu hierarchy
    await testbedDown(ref);
    expect(alive(pid)).toBe(false);
    expect(await leftovers(NAME, tb.stateDir)).toEqual([]);
  });
});
