/**
 * bench/create-volume: the wall time of `storage create-volume` on 16 Hosts (plan + format + Manager records
 * + fstab and mount on every Host + verify), side by side with the same procedure done Host by Host — the
 * way the seed's text UI has an administrator do it, one Host after the other (here: the same command with
 * the SSH fan-out limited to one Host at a time). Each round formats a fresh shared disk; rounds interleave
 * the two ways so machine noise hits both alike; medians printed.
 *
 * Set-up: its own testbed ("bench-cv", 16 Hosts, 2 × rounds shared disks of 8 GiB, sparse), every Host registered with
 * the Manager stand-in and joined to one OCFS2 cluster with the product's own commands, torn down at the end
 * (--keep leaves it).
 * Run (as root): npx tsx bench/create-volume.ts [--hosts 16] [--rounds 3] [--keep]
 */
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { MonitorBoard } from '../src/monitor/board.js';
import { createServices } from '../src/services.js';
import { diskPaths, testbedDown, testbedUp } from '../src/testbed/index.js';
import { layoutFor } from '../src/testbed/layout.js';
import { registry, runCommand } from './run-command.js';
import { arg, median } from './stats.js';

const HOSTS = arg('hosts', 16);
const ROUNDS = arg('rounds', 3);
const KEEP = process.argv.includes('--keep');
const NAME = 'bench-cv';
const log = createLogger({ level: 'warn' });

async function main() {
  console.log(`testbed "${NAME}" with ${HOSTS} Hosts and ${2 * ROUNDS} shared disks…`);
  await testbedDown({ name: NAME, log });
  // 8 GiB (sparse): the journals of 16 slots (16 × 128 MiB) need more than the default 2 GiB disk allows.
  const tb = await testbedUp({
    name: NAME,
    hosts: HOSTS,
    disks: 2 * ROUNDS,
    diskSize: '8G',
    heartbeatIntervalMs: 10_000,
    log,
  });
  const layout = layoutFor(NAME, '/', 0, 0);
  try {
    const config = loadConfig({ FLEXVDI_CONFIG: tb.inventoryPath });
    // The same procedure Host by Host: the fan-out limited to one Host at a time.
    const oneByOne = {
      ...config,
      inventory: { ...config.inventory, ssh: { ...config.inventory.ssh, concurrency: 1 } },
    };
    const live = createServices(config, log);
    const services = (c: typeof config) =>
      registry.services({ config: c, log, board: {} as MonitorBoard, ...live });
    const t0 = performance.now();
    for (const h of config.inventory.hosts)
      await runCommand('register-host', { host: h.name }, services(config));
    await runCommand('ocfs2 first-node', { host: 'host1', clusterName: 'benchcv' }, services(config));
    await runCommand('ocfs2 join', { all: true }, services(config));
    console.log(
      `set-up (register ${HOSTS} Hosts, OCFS2 cluster): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const times: Record<string, number[]> = { product: [], 'Host by Host': [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [way, c, disk] of [
        ['product', config, 2 * r],
        ['Host by Host', oneByOne, 2 * r + 1],
      ] as const) {
        const id = path.basename(diskPaths(layout, disk).byId);
        const res = await runCommand(
          'storage create-volume',
          { imageStorage: `is${disk}`, volume: `vol${disk}`, device: id },
          services(c),
        );
        times[way]!.push(res.totalMs);
        const steps = Object.entries(res.stepMs).map(([k, v]) => `${k} ${v} ms`);
        console.log(
          `  round ${r + 1} ${way.padEnd(13)} ${(res.totalMs / 1000).toFixed(2)} s — plan ${res.planMs} ms, ${steps.join(', ')}`,
        );
      }
    }
    const p = median(times['product']!);
    const h = median(times['Host by Host']!);
    console.log(`\n== storage create-volume on ${HOSTS} Hosts, median of ${ROUNDS} ==`);
    console.log(
      `  ${`product (fan-out ${config.inventory.ssh.concurrency})`.padEnd(24)} ${(p / 1000).toFixed(2)} s`,
    );
    console.log(`  ${'Host by Host'.padEnd(24)} ${(h / 1000).toFixed(2)} s`);
    console.log(`  ratio: ${(h / p).toFixed(1)}× faster than Host by Host`);
    await live.ssh.close();
    await live.manager.logout();
  } finally {
    if (!KEEP) await testbedDown({ name: NAME, log });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
