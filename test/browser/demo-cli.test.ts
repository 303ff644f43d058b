/**
 * `flexvdi-chatops demo` as a person runs it (the built CLI, a child process): as root, the 3-Host testbed,
 * the product and the console at the one URL it prints, and Ctrl-C removing everything it made; not root,
 * the one-sentence fallback to the local workspace with the example inventory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testbedStatus } from '../../src/testbed/index.js';
import { quietLog } from '../ocfs2/helpers.js';
import { poll } from '../support/poll.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli.js');
const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' };

/** Starts the CLI; `out()` is what it has printed on stdout so far. */
function start(argv: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(argv[0]!, argv.slice(1), { env, cwd: root });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.resume();
  const exit = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  return { proc, out: () => out, exit };
}

describe('flexvdi-chatops demo', () => {
  it('as root: prints the console URL, serves the cluster there, and Ctrl-C removes everything', async () => {
    const name = 'dm-cli';
    const demo = start([process.execPath, cli, 'demo', '--name', name, '--port', '0']);
    try {
      const url = await poll(
        'the demo to say it is ready',
        () =>
          /demo: ready in [\d.]+ s\. Open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(demo.out())?.[1],
        { timeoutMs: 120_000 },
      );
      const page = await (await fetch(url)).text();
      expect(page).toMatch(/<div id="root">/);
      const state = (await (await fetch(`${url}console/state`)).json()) as {
        cluster: { hosts: { name: string; state: string; runsManager: boolean }[] };
      };
      expect(state.cluster.hosts.map((h) => [h.name, h.state, h.runsManager])).toEqual([
        ['host1', 'up', true],
        ['host2', 'up', false],
        ['host3', 'up', false],
      ]);
      expect((await testbedStatus({ name, log: quietLog })).exists).toBe(true);
      demo.proc.kill('SIGINT');
      expect(await demo.exit).toBe(0);
      expect((await testbedStatus({ name, log: quietLog })).exists).toBe(false);
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      if (demo.proc.exitCode === null) demo.proc.kill('SIGKILL');
    }
  }, 180_000);

  it('not root: says why in one sentence and runs the local workspace with the example inventory', async () => {
    const demo = start([
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'env',
      'HOME=/tmp',
      process.execPath,
      cli,
      'demo',
      '--port',
      '0',
    ]);
    try {
      const url = await poll(
        'the local workspace to start',
        () => /Local Slack workspace: open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(demo.out())?.[1],
        { timeoutMs: 60_000 },
      );
      expect(demo.out().split('\n')[0]).toBe(
        'demo: the 3-Host testbed needs root (network namespaces), so this is the local Slack workspace with the example inventory, whose Hosts do not exist.',
      );
      const state = (await (await fetch(`${url}console/state`)).json()) as {
        cluster: unknown;
        users: unknown[];
      };
      expect(state.cluster).toBeNull();
      expect(state.users).toHaveLength(2);
      demo.proc.kill('SIGTERM');
      expect(await demo.exit).toBe(0);
    } finally {
      if (demo.proc.exitCode === null) demo.proc.kill('SIGKILL');
    }
  }, 120_000);
});
