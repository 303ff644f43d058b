/**
 * bench/demo-ready: how long a newcomer waits. `bash scripts/run.sh` is the set-up then `demo`; this times
 * both parts, side by side with their peers:
 * - the set-up when nothing changed (stamps of the build inputs: no build) against the set-up that rebuilds
 *   (the server with tsc and the console with Vite, what every start did before the stamps: a forced
 *   rebuild here, the stamps removed first);
 * - `demo` from start to the printed URL (3-Host testbed with the Manager guest, private Redis, bot + worker
 *   + monitor, console), and its clean-up (everything removed), against the goal of issue 13 (≤ 60 s).
 * Rounds interleave; medians and maxima printed.
 * Run (as root, after the set-up): npx tsx bench/demo-ready.ts [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDemo } from '../src/demo.js';
import { createLogger } from '../src/log.js';
import { testbedStatus } from '../src/testbed/index.js';
import { arg, median } from './stats.js';

const ROUNDS = arg('rounds', 3);
const GOAL_MS = 60_000;
const root = path.resolve(import.meta.dirname, '..');
const log = createLogger({ level: 'warn' });

function setupMs(): number {
  const t0 = performance.now();
  execFileSync('bash', ['scripts/setup.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return performance.now() - t0;
}

async function main() {
  const noChange: number[] = [];
  const rebuild: number[] = [];
  const ready: number[] = [];
  const cleanup: number[] = [];
  setupMs(); // stamps up to date before the first "nothing changed" round
  for (let r = 0; r < ROUNDS; r++) {
    noChange.push(setupMs());
    rmSync(path.join(root, 'dist/.build.sha256'), { force: true });
    rmSync(path.join(root, 'dist/console.sha256'), { force: true });
    rebuild.push(setupMs());
    const demo = await startDemo({ name: 'bench-demo', port: 0, log });
    ready.push(demo.readyMs);
    const t0 = performance.now();
    await demo.stop();
    cleanup.push(performance.now() - t0);
    if ((await testbedStatus({ name: 'bench-demo', log })).exists)
      throw new Error('the demo left its testbed');
    console.log(
      `round ${r + 1}: set-up ${(noChange.at(-1)! / 1000).toFixed(2)} s (nothing changed) / ${(rebuild.at(-1)! / 1000).toFixed(1)} s (rebuild); ` +
        `demo ready ${(demo.readyMs / 1000).toFixed(1)} s, removed in ${(cleanup.at(-1)! / 1000).toFixed(1)} s`,
    );
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\n${ROUNDS} rounds, medians (max)`);
  console.log(
    `set-up, nothing changed   ${s(median(noChange))} (${s(Math.max(...noChange))})   vs rebuild on every start ${s(median(rebuild))}: ${(median(rebuild) / median(noChange)).toFixed(0)}× less waiting`,
  );
  console.log(
    `demo start → URL          ${s(median(ready))} (${s(Math.max(...ready))})   vs the goal ${s(GOAL_MS)}: ${(GOAL_MS / Math.max(...ready)).toFixed(1)}× under it (worst round)`,
  );
  console.log(`demo clean-up (all gone)  ${s(median(cleanup))} (${s(Math.max(...cleanup))})`);
  console.log(
    `run.sh to the URL         ${s(median(noChange) + median(ready))} (set-up, nothing changed + demo)   vs ${s(median(rebuild) + median(ready))} rebuilding each time`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
