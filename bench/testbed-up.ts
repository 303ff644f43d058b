/**
 * bench/testbed-up: how long does `testbed up` take for 3, 16 and 32 Hosts, and `testbed down`?
 * Goal (issue 3): 32 Hosts up in ≤ 20 s on a 2-core machine.
 *
 * Each size: up (timed; it returns once every Host's sshd listens and the Manager stand-in answers), then a
 * check that every Host answers a real SSH login with the inventory's key and pins (timed separately, all
 * Hosts at once), then down (timed). Median of --reps runs (default 1). Uses its own testbed name
 * ("bench-up"), so it does not touch a running testbed.
 *
 * Run (as root): npx tsc -p tsconfig.build.json && node dist/bench/testbed-up.js [--sizes 3,16,32] [--reps 1]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import pino from 'pino';
import { parseInventory } from '../src/config.js';
import { testbedDown, testbedUp } from '../src/testbed/index.js';

const NAME = 'bench-up';
const GOAL_HOSTS = 32;
const GOAL_S = 20;
const log = pino({ level: 'warn' });

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const sizes = arg('sizes', '3,16,32').split(',').map(Number);
const reps = Number(arg('reps', '1'));

function sshTrue(inventoryPath: string): Promise<number> {
  const inv = parseInventory(readFileSync(inventoryPath, 'utf8'), inventoryPath);
  return Promise.all(
    inv.hosts.map(
      (h) =>
        new Promise<number>((resolve) => {
          const args = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'];
          args.push('-o', `UserKnownHostsFile=${inv.ssh.knownHostsPath}`, '-i', inv.ssh.privateKeyPath);
          const p = spawn('ssh', [...args, `root@${h.ip}`, 'true'], { stdio: 'ignore' });
          p.on('close', (code) => resolve(code ?? 255));
        }),
    ),
  ).then((codes) => codes.filter((c) => c !== 0).length);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  await testbedDown({ name: NAME, log });
  const rows: Array<{ hosts: number; up: number; ssh: number; down: number; failed: number }> = [];
  for (const hosts of sizes) {
    const up: number[] = [];
    const login: number[] = [];
    const down: number[] = [];
    let failed = 0;
    for (let r = 0; r < reps; r++) {
      let t = performance.now();
      const info = await testbedUp({ name: NAME, hosts, log });
      up.push(performance.now() - t);
      t = performance.now();
      failed += await sshTrue(info.inventoryPath);
      login.push(performance.now() - t);
      t = performance.now();
      await testbedDown({ name: NAME, log });
      down.push(performance.now() - t);
    }
    rows.push({ hosts, up: median(up), ssh: median(login), down: median(down), failed });
    process.stderr.write(`  ${hosts} Hosts done\n`);
  }

  console.log(`testbed up/down — ${cpus().length} CPUs, median of ${reps} run(s)\n`);
  console.log('| Hosts | up (s) | SSH login to all Hosts (s) | down (s) | failed logins |');
  console.log('|------:|-------:|---------------------------:|---------:|--------------:|');
  for (const r of rows) {
    console.log(`| ${r.hosts} | ${secs(r.up)} | ${secs(r.ssh)} | ${secs(r.down)} | ${r.failed} |`);
  }
  const goal = rows.find((r) => r.hosts === GOAL_HOSTS);
  if (goal) {
    const ok = goal.up <= GOAL_S * 1000 && goal.failed === 0;
    console.log(
      `\ngoal: ${GOAL_HOSTS} Hosts up in ≤ ${GOAL_S} s → ${secs(goal.up)} s: ${ok ? 'met' : 'NOT met'}`,
    );
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await testbedDown({ name: NAME, log }).catch(() => undefined);
  process.exitCode = 1;
});
