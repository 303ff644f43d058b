/**
 * The product's Manager client against the real stand-in over HTTPS on loopback, certificate pinned.
 */
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.js';
import { isRetryableCode } from '../../src/errors.js';
import { createManagerClient, type ManagerClient, ManagerErrorCode } from '../../src/manager/index.js';
import { type ManagerStandin, startManagerStandin } from '../../src/testbed/manager/server.js';
import { type CapturedLog, captureLog, sshKeyLine, tempDir, waitFor } from './helpers.js';

const PASSWORD = 'Pw-for-client-standin-7d1f';
const THRESHOLD_MS = 1500;
const SESSION_TTL_MS = 700;

describe('Manager client ↔ stand-in', () => {
  const tmp = tempDir('mgr-client');
  const standinLog = captureLog();
  const clientLog = captureLog();
  let standin: ManagerStandin;
  let client: ManagerClient;
  const clients: ManagerClient[] = [];

  const makeClient = (password: string, log: CapturedLog = clientLog) => {
    const c = createManagerClient({
      url: standin.url,
      username: 'admin',
      password: () => new Secret(password),
      tls: { fingerprint256: standin.fingerprint256 ?? undefined },
      timeoutMs: 5000,
      log: log.log,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    standin = await startManagerStandin({
      stateFile: path.join(tmp.dir, 'state.json'),
      username: 'admin',
      password: PASSWORD,
      failThresholdMs: THRESHOLD_MS,
      sessionTtlMs: SESSION_TTL_MS,
      log: standinLog.log,
    });
    client = makeClient(PASSWORD);
  });

  afterAll(async () => {
    for (const c of clients) await c.logout();
    await standin?.close();
    tmp.remove();
  });

  it('logs in with the right password and lists (no) Hosts', async () => {
    expect(await client.listHosts()).toEqual([]);
    expect(standin.stats().logins).toBe(1);
  });

  it('refuses a wrong password with manager.auth_failed, not retryable, password never shown', async () => {
    const wrong = 'Wrong-pw-never-print-93b2';
    const bad = makeClient(wrong);
    const err = await bad.listHosts().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.authFailed });
    const e = err as { code: string; message: string; userMessage: string };
    expect(isRetryableCode(e.code)).toBe(false);
    for (const text of [e.message, e.userMessage, JSON.stringify(err), String(err)]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(PASSWORD);
    }
    expect(standin.stats().failedLogins).toBeGreaterThanOrEqual(1);
  });

  it('rejects requests without a session cookie (401)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(`${standin.url}/hosts`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(401);
  });

  it('logs in again by itself when the session expired', async () => {
    const before = standin.stats().logins;
    await client.listHosts();
    await new Promise((r) => setTimeout(r, SESSION_TTL_MS + 300));
    expect(await client.listHosts()).toBeInstanceOf(Array);
    expect(standin.stats().logins).toBe(before + 1);
    expect(clientLog.text()).toContain('logging in again');
  });

  it('registers a Host, returns the agent secret wrapped, and gets it back by id', async () => {
    const serverKey = sshKeyLine();
    const r = await client.registerHost({
      hostId: 'H1.Lab.Example',
      sshPubkey: sshKeyLine('flexvdi@h1'),
      sshServerKey: serverKey,
    });
    expect(r.status).toBe('OK');
    expect(r.message).toBeInstanceOf(Secret);
    expect(String(r.message)).toBe('[redacted]');
    expect(JSON.stringify(r)).not.toContain(r.message.reveal());
    expect(r.message.reveal()).toMatch(/^[0-9a-f-]{36}$/);

    const hosts = await client.listHosts();
    expect(hosts).toEqual([{ hostId: 'h1.lab.example', status: 'unknown', lastHeartbeat: null }]);
    const h = await client.getHost('h1.lab.example');
    expect(h).toMatchObject({ hostId: 'h1.lab.example', status: 'unknown', sshServerKey: serverKey });
    expect(h?.registrations?.map((x) => x.kind)).toEqual(['new']);
    expect(await client.getHost('nobody.lab.example')).toBeNull();

    // Same server key again (a retried job): same secret, recorded as a refresh.
    const again = await client.registerHost({
      hostId: 'h1.lab.example',
      sshPubkey: sshKeyLine('flexvdi@h1'),
      sshServerKey: serverKey,
    });
    expect(again.message.reveal()).toBe(r.message.reveal());
  });

  it('records a replacement (same id, new server key) and keeps the history', async () => {
    const hostId = 'h2.lab.example';
    const oldKey = sshKeyLine();
    const newKey = sshKeyLine();
    const first = await client.registerHost({ hostId, sshPubkey: sshKeyLine(), sshServerKey: oldKey });
    expect(standin.heartbeat(hostId)).toBe(true);
    expect((await client.getHost(hostId))?.status).toBe('running');

    const second = await client.registerHost({ hostId, sshPubkey: sshKeyLine(), sshServerKey: newKey });
    expect(second.message.reveal()).not.toBe(first.message.reveal());
    const h = await client.getHost(hostId);
    expect(h?.sshServerKey).toBe(newKey);
    expect(h?.registrations?.map((r) => [r.kind, r.sshServerKey])).toEqual([
      ['new', oldKey],
      ['replacement', newKey],
    ]);
    // The replacement machine has not sent a heartbeat yet.
    expect(h?.lastHeartbeat).toBeNull();
    expect(h?.status).toBe('unknown');
  });

  it('refuses a malformed registration with manager.rejected (not retryable)', async () => {
    const err = await client
      .registerHost({ hostId: 'bad host; rm -rf /', sshPubkey: sshKeyLine(), sshServerKey: sshKeyLine() })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.rejected });
    expect((err as Error).message).toContain('host_id');
    expect(isRetryableCode((err as { code: string }).code)).toBe(false);
  });

  it('flips a Host to unavailable without heartbeats and back to running on one', async () => {
    const hostId = 'h3.lab.example';
    await client.registerHost({ hostId, sshPubkey: sshKeyLine(), sshServerKey: sshKeyLine() });
    standin.heartbeat(hostId);
    const status = async () => (await client.listHosts()).find((h) => h.hostId === hostId)?.status;
    expect(await status()).toBe('running');
    await waitFor('h3 unavailable', async () => ((await status()) === 'unavailable' ? true : undefined));
    standin.heartbeat(hostId);
    expect(await status()).toBe('running');
    const listed = (await client.listHosts()).find((h) => h.hostId === hostId);
    expect(Date.parse(listed?.lastHeartbeat ?? '')).not.toBeNaN();
    standin.heartbeat(hostId, 'stopped');
    expect(await status()).toBe('stopped');
  });

  it('creates Image Storages and Volumes idempotently and refuses conflicts', async () => {
    const s1 = await client.createImageStorage({
      name: 'shared1',
      device: '/dev/disk/by-id/shared1',
      cluster: 'flexvdi',
    });
    expect(s1.created).toBe(true);
    const s2 = await client.createImageStorage({
      name: 'shared1',
      device: '/dev/disk/by-id/shared1',
      cluster: 'flexvdi',
    });
    expect(s2).toEqual({ created: false, imageStorage: s1.imageStorage });
    await expect(
      client.createImageStorage({ name: 'shared1', device: '/dev/sdz', cluster: 'flexvdi' }),
    ).rejects.toMatchObject({ code: ManagerErrorCode.rejected, details: { status: 409 } });
    expect((await client.listImageStorages()).map((s) => s.name)).toEqual(['shared1']);

    const v = await client.createVolume({ name: 'win10-base', imageStorage: 'shared1', sizeGb: 40 });
    expect(v.created).toBe(true);
    expect(v.volume).toMatchObject({ name: 'win10-base', imageStorage: 'shared1', sizeGb: 40 });
    expect(
      (await client.createVolume({ name: 'win10-base', imageStorage: 'shared1', sizeGb: 40 })).created,
    ).toBe(false);
    await expect(client.createVolume({ name: 'x', imageStorage: 'nope', sizeGb: 1 })).rejects.toMatchObject({
      code: ManagerErrorCode.rejected,
    });
    expect(await client.listVolumes()).toEqual([v.volume]);
  });

  it("reports the Manager's own disk: on local storage, not a Host's guest", async () => {
    expect(await client.getManagerDisk()).toEqual({
      path: '/var/lib/flexvdi/manager/flexvdi-manager.img',
      onSharedStorage: false,
      imageStorage: null,
      movedAt: null,
      runningOn: null,
    });
  });

  it('ping reports reachability, the pinned certificate and the login', async () => {
    const report = await client.ping();
    expect(report).toMatchObject({
      ok: true,
      reachable: true,
      authenticated: true,
      error: null,
      tls: { mode: 'pinned', verified: true, fingerprint256: standin.fingerprint256 },
    });
    expect(report.hostCount).toBe((await client.listHosts()).length);
    const bad = await makeClient('not-the-password-55').ping();
    expect(bad).toMatchObject({ ok: false, reachable: true, authenticated: false, tls: { verified: true } });
    expect(bad.error?.code).toBe(ManagerErrorCode.authFailed);
  });

  it('logout ends the session: the next call logs in again', async () => {
    const c = makeClient(PASSWORD);
    await c.listHosts();
    const logins = standin.stats().logins;
    await c.logout();
    await c.listHosts();
    expect(standin.stats().logins).toBe(logins + 1);
  });

  it('never logs a password, session id or agent secret (client and stand-in logs)', async () => {
    const secret = (
      await client.registerHost({
        hostId: 'h9.lab.example',
        sshPubkey: sshKeyLine(),
        sshServerKey: sshKeyLine(),
      })
    ).message;
    const logs = standinLog.text() + clientLog.text();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('logged in to the Manager');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain('Wrong-pw-never-print-93b2');
    expect(logs).not.toContain(secret.reveal());
    expect(logs).not.toMatch(/flexvdi_session=/);
  });
});
