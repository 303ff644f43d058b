/**
 * The stand-in as the testbed runs it: `main(argv)` (the process entry, in-process with a stand-in signal
 * source), its state file surviving a restart, and Host heartbeats over HTTPS through `createStandinAgent`.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.js';
import { createManagerClient, ManagerErrorCode } from '../../src/manager/index.js';
import { createStandinAgent } from '../../src/testbed/manager/agent.js';
import { main } from '../../src/testbed/manager/main.js';
import { startManagerStandin } from '../../src/testbed/manager/server.js';
import { captureLog, sshKeyLine, tempDir, waitFor } from './helpers.js';

const PASSWORD = 'Pw-for-standin-main-0e44';

describe('Manager stand-in process entry and persistence', () => {
  const tmp = tempDir('mgr-main');
  const { log, text } = captureLog();
  const passwordFile = path.join(tmp.dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });

  afterAll(() => tmp.remove());

  /** Starts main() the way the testbed would, and waits for its one stdout line. */
  async function runMain(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const signals = new EventEmitter();
    const exit = main(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), signals, log });
    const first = await Promise.race([
      waitFor('the stand-in line', async () => out[0]),
      exit.then((code) => {
        throw new Error(`main exited ${code}: ${err.join('\n')}`);
      }),
    ]);
    return {
      info: JSON.parse(first) as { url: string; fingerprint256: string; port: number },
      out,
      signals,
      exit,
    };
  }

  it('prints its URL and fingerprint as one JSON line, serves the API, and exits 0 on SIGTERM', async () => {
    const state = path.join(tmp.dir, 'main-state.json');
    const run = await runMain([
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--state',
      state,
      '--password-file',
      passwordFile,
    ]);
    expect(run.out).toHaveLength(1);
    expect(run.info.url).toBe(`https://127.0.0.1:${run.info.port}`);
    expect(run.info.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const client = createManagerClient({
      url: run.info.url,
      username: 'admin',
      password: () => new Secret(PASSWORD),
      tls: { fingerprint256: run.info.fingerprint256 },
      log,
    });
    expect(await client.listHosts()).toEqual([]);
    await client.logout();

    run.signals.emit('SIGTERM');
    expect(await run.exit).toBe(0);
    await expect(client.listHosts()).rejects.toMatchObject({ code: ManagerErrorCode.unreachable });
  });

  it('exits 2 with a usage line on bad arguments', async () => {
    const err: string[] = [];
    const io = { stdout: () => {}, stderr: (l: string) => err.push(l), signals: new EventEmitter(), log };
    expect(await main(['--port', '0'], io)).toBe(2);
    expect(err.join('\n')).toContain('--state and --password-file are required');
    expect(await main(['--state', 'x', '--password-file', passwordFile, '--port', 'many'], io)).toBe(2);
    expect(err.join('\n')).toContain('--port must be a whole number');
  });

  it('keeps Hosts, history, storages and its certificate across a restart', async () => {
    const stateFile = path.join(tmp.dir, 'persist.json');
    const first = await startManagerStandin({ stateFile, username: 'admin', password: PASSWORD, log });
    const mk = (url: string, fp: string | null) =>
      createManagerClient({
        url,
        username: 'admin',
        password: () => new Secret(PASSWORD),
        tls: { fingerprint256: fp ?? undefined },
        log,
      });
    const c1 = mk(first.url, first.fingerprint256);
    const keyA = sshKeyLine();
    const keyB = sshKeyLine();
    await c1.registerHost({ hostId: 'p1.lab.example', sshPubkey: sshKeyLine(), sshServerKey: keyA });
    const secret = (
      await c1.registerHost({ hostId: 'p1.lab.example', sshPubkey: sshKeyLine(), sshServerKey: keyB })
    ).message;
    await c1.createImageStorage({ name: 'vmstore', device: '/dev/vdb', cluster: 'flexvdi' });
    await first.close();

    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    const onDisk = readFileSync(stateFile, 'utf8');
    expect(onDisk).not.toContain(PASSWORD);

    // Restarted as a Host's guest from its image moved onto the Image Storage (the move is the Hosts' job).
    const second = await startManagerStandin({
      stateFile,
      username: 'admin',
      password: PASSWORD,
      runningOn: 'p1.lab.example',
      diskPath: '/var/lib/flexvdi/image-storages/vmstore/flexvdi-manager.img',
      log,
    });
    try {
      expect(second.fingerprint256).toBe(first.fingerprint256);
      const c2 = mk(second.url, first.fingerprint256);
      const h = await c2.getHost('p1.lab.example');
      expect(h?.registrations?.map((r) => [r.kind, r.sshServerKey])).toEqual([
        ['new', keyA],
        ['replacement', keyB],
      ]);
      expect((await c2.listImageStorages()).map((s) => s.name)).toEqual(['vmstore']);
      expect(await c2.getManagerDisk()).toMatchObject({
        path: '/var/lib/flexvdi/image-storages/vmstore/flexvdi-manager.img',
        onSharedStorage: true,
        imageStorage: 'vmstore',
        runningOn: 'p1.lab.example',
        movedAt: expect.any(String),
      });
      // Re-registering the same machine after the restart keeps its secret.
      const again = await c2.registerHost({
        hostId: 'p1.lab.example',
        sshPubkey: sshKeyLine(),
        sshServerKey: keyB,
      });
      expect(again.message.reveal()).toBe(secret.reveal());
      await c2.logout();
    } finally {
      await second.close();
    }
  });

  it('takes heartbeats over HTTPS from a testbed agent (createStandinAgent)', async () => {
    const standin = await startManagerStandin({
      stateFile: path.join(tmp.dir, 'agent.json'),
      username: 'admin',
      password: PASSWORD,
      failThresholdMs: 1500,
      log,
    });
    const tls = { fingerprint256: standin.fingerprint256 ?? undefined };
    const agent = createStandinAgent({ url: standin.url, username: 'admin', password: PASSWORD, tls, log });
    const client = createManagerClient({
      url: standin.url,
      username: 'admin',
      password: () => new Secret(PASSWORD),
      tls,
      log,
    });
    try {
      await expect(agent.heartbeat('ghost.lab.example')).rejects.toMatchObject({
        code: ManagerErrorCode.rejected,
      });
      await client.registerHost({
        hostId: 'a1.lab.example',
        sshPubkey: sshKeyLine(),
        sshServerKey: sshKeyLine(),
      });
      await agent.heartbeat('a1.lab.example');
      expect((await client.getHost('a1.lab.example'))?.status).toBe('running');
      await agent.heartbeat('a1.lab.example', 'incompatible');
      expect((await client.getHost('a1.lab.example'))?.status).toBe('incompatible');
      await waitFor('a1 unavailable', async () =>
        (await client.getHost('a1.lab.example'))?.status === 'unavailable' ? true : undefined,
      );
    } finally {
      await agent.close();
      await client.logout();
      await standin.close();
    }
  });

  it('never logged the password', () => {
    expect(text()).not.toContain(PASSWORD);
  });
});
