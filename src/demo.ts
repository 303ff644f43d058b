/**
 * `flexvdi-chatops demo`: the whole product on one machine, for a newcomer. A 3-Host testbed (network
 * namespaces with real sshd and ocfs2-tools, the Manager stand-in as host1's guest), a private Redis,
 * bot + worker + monitor against the local Slack workspace, and its browser console with a cluster panel
 * (Fail / Heal each Host). `stop()` removes everything it made. Needs root (namespaces); the CLI falls back
 * to the local workspace with the example inventory otherwise.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from './config.js';
import { DEMO_PORT, type LocalSlack, withLocalSlack } from './local-slack.js';
import type { Logger } from './log.js';
import { type Runtime, startRuntime } from './runtime.js';
import type { ClusterPanel } from './slack-double/console-state.js';
import type { FaultMode } from './testbed/state.js';

export interface DemoOptions {
  /** Testbed name (default "demo"): namespaces, addresses and state folder derive from it. */
  name?: string;
  /** Parent of the testbed's state folder (default `<repo>/.state/testbed`). */
  stateRoot?: string;
  /** The console's port (default 8080; a free one when taken; 0: a free one). */
  port?: number;
  log: Logger;
}

export interface Demo {
  /** The console's address. */
  url: string;
  /** The testbed's name and inventory. */
  testbed: { name: string; inventoryPath: string };
  /** From the call to ready, in ms. */
  readyMs: number;
  stop(): Promise<void>;
}

/**
 * The faults the cluster panel offers: the ones that make a Host lost (jitter and slow must not). link-down
 * first: it works the same everywhere, while the freezer's cgroup v2 path is not tested here (src/testbed/README.md).
 */
export const DEMO_FAULTS: readonly FaultMode[] = ['link-down', 'freeze', 'sshd-stop'];

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const started = performance.now();
  const tb = await import('./testbed/index.js');
  const ref = { name: o.name ?? 'demo', log: o.log, ...(o.stateRoot ? { stateRoot: o.stateRoot } : {}) };
  const undo: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of undo.reverse().splice(0)) {
      await step().catch((err: Error) => o.log.error({ err: err.message }, 'demo: clean-up step failed'));
    }
  };
  try {
    // A testbed of this name left by a demo that was killed is taken down first: the demo starts clean.
    const before = await tb.testbedStatus(ref);
    if (before.exists) {
      o.log.warn({ testbed: ref.name }, 'demo: removing the testbed a previous demo left behind');
      await tb.testbedDown(ref);
    }
    undo.push(() => tb.testbedDown(ref));
    const info = await tb.testbedUp({ ...ref, hosts: 3, manager: { on: 'host1' } });
    const env: NodeJS.ProcessEnv = { ...process.env, FLEXVDI_CONFIG: info.inventoryPath, PORT: '0' };
    delete env['REDIS_URL']; // a private Redis, always: the demo never writes into someone's Redis
    const base = loadConfig(env);
    const local: LocalSlack = await withLocalSlack(base, o.log, {
      port: o.port ?? DEMO_PORT,
      cluster: clusterPanel(tb, ref),
    });
    undo.push(() => local.close());
    const runtime: Runtime = await startRuntime({
      config: local.cfg,
      log: o.log,
      roles: { bot: true, worker: true, monitor: true },
    });
    // A job stuck on a frozen Host must not keep the testbed up: its wait is capped, then the rest goes.
    undo.push(() => capped(runtime.stop(), RUNTIME_STOP_MS, o.log));
    local.setBotUrl(`http://127.0.0.1:${runtime.port}/slack/events`);
    return {
      url: `${local.url}/`,
      testbed: { name: info.name, inventoryPath: info.inventoryPath },
      readyMs: performance.now() - started,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** How long stopping waits for running jobs to reach a safe point before the testbed is removed anyway. */
const RUNTIME_STOP_MS = 20_000;

async function capped(p: Promise<void>, ms: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ms);
  });
  const r = await Promise.race([p.then(() => 'done' as const), late]);
  clearTimeout(timer);
  if (r === 'late') log.warn({ waitedMs: ms }, 'demo: jobs still running; removing the testbed under them');
}

type TestbedApi = typeof import('./testbed/index.js');

function clusterPanel(tb: TestbedApi, ref: { name: string; log: Logger; stateRoot?: string }): ClusterPanel {
  return {
    async status() {
      const s = await tb.testbedStatus(ref);
      const on = s.manager?.runningOn ?? null;
      const hosts = s.hosts.map((h) => ({
        name: h.name,
        fqdn: h.fqdn,
        ip: h.ip,
        state: h.fault ? 'failed' : h.running && h.linkUp && !h.frozen && h.sshd ? 'up' : 'down',
        ...(h.fault ? { fault: h.fault } : {}),
        runsManager: on === h.name || on === h.fqdn,
      }));
      return { hosts, modes: DEMO_FAULTS };
    },
    fail: (host, mode) => tb.failHost({ ...ref, host, mode: mode as FaultMode }),
    heal: (host) => tb.healHost({ ...ref, host }),
  };
}
