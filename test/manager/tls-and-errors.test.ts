/**
 * How the client treats the certificate and broken Managers: pin mismatch refused before any byte of the
 * request is sent, CA file, system roots, insecure mode, plain HTTP, refused and silent ports, non-JSON,
 * wrong shapes and 5xx answers.
 */
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.js';
import { isRetryableCode } from '../../src/errors.js';
import { freePort } from '../../src/local-redis.js';
import { createManagerClient, ManagerErrorCode, type ManagerTlsOptions } from '../../src/manager/index.js';
import { type ManagerStandin, startManagerStandin } from '../../src/testbed/manager/server.js';
import { ensureStandinCertificate, fingerprintOf, type TlsMaterial } from '../../src/testbed/manager/tls.js';
import { captureLog, tempDir } from './helpers.js';

const PASSWORD = 'Pw-for-tls-tests-51c0';
const WRONG_PIN = Array.from({ length: 32 }, () => 'AB').join(':');

describe('Manager client: TLS and failures', () => {
  const tmp = tempDir('mgr-tls');
  const { log, text } = captureLog();
  let standin: ManagerStandin;
  let other: TlsMaterial;
  const servers: { close(): unknown }[] = [];

  const client = (url: string, tls: ManagerTlsOptions, timeoutMs = 5000) =>
    createManagerClient({
      url,
      username: 'admin',
      password: () => new Secret(PASSWORD),
      tls,
      timeoutMs,
      log,
    });

  /** An HTTPS server with the second certificate that answers every request with `status` and `body`. */
  async function fakeManager(status: number, body: string): Promise<string> {
    const srv = https.createServer({ key: other.key, cert: other.cert }, (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', 'set-cookie': 'sid=abc; Path=/' });
      res.end(body);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => srv.close() });
    return `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  }

  beforeAll(async () => {
    standin = await startManagerStandin({
      stateFile: path.join(tmp.dir, 'state.json'),
      username: 'admin',
      password: PASSWORD,
      log,
    });
    other = await ensureStandinCertificate(path.join(tmp.dir, 'other.json'), '127.0.0.1', log);
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    await standin?.close();
    tmp.remove();
  });

  it('refuses a certificate that does not match the pin, before sending the password', async () => {
    const before = standin.stats().requests;
    const err = await client(standin.url, { fingerprint256: WRONG_PIN })
      .listHosts()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.tlsMismatch });
    expect((err as Error).message).toContain(standin.fingerprint256);
    expect(isRetryableCode(ManagerErrorCode.tlsMismatch)).toBe(false);
    expect(standin.stats().requests).toBe(before);
    const report = await client(standin.url, { fingerprint256: WRONG_PIN }).ping();
    expect(report).toMatchObject({
      ok: false,
      reachable: true,
      authenticated: false,
      tls: { mode: 'pinned', verified: false, fingerprint256: standin.fingerprint256 },
    });
    expect(report.error?.code).toBe(ManagerErrorCode.tlsMismatch);
  });

  it('accepts the pin in lower case too', async () => {
    const pin = standin.fingerprint256?.toLowerCase();
    expect(await client(standin.url, { fingerprint256: pin }).listHosts()).toEqual([]);
  });

  it('verifies against a CA file, including the name in the URL', async () => {
    const caFile = path.join(tmp.dir, 'standin-ca.pem');
    writeFileSync(caFile, standin.certPem ?? '');
    expect(await client(standin.url, { caFile }).listHosts()).toEqual([]);
    const wrongCa = path.join(tmp.dir, 'other-ca.pem');
    writeFileSync(wrongCa, other.cert);
    await expect(client(standin.url, { caFile: wrongCa }).listHosts()).rejects.toMatchObject({
      code: ManagerErrorCode.tlsMismatch,
    });
    // A trusted certificate whose names do not include the URL's host is refused too.
    const elsewhere = await startManagerStandin({
      host: '127.0.0.2',
      stateFile: path.join(tmp.dir, 'state2.json'),
      username: 'admin',
      password: PASSWORD,
      tls: { key: other.key, cert: other.cert },
      log,
    });
    try {
      const err = await client(elsewhere.url, { caFile: wrongCa })
        .listHosts()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ManagerErrorCode.tlsMismatch });
      expect((err as Error).message).toMatch(/127\.0\.0\.2/);
      expect(elsewhere.stats().requests).toBe(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses a self-signed certificate when neither pin nor CA is configured', async () => {
    await expect(client(standin.url, {}).listHosts()).rejects.toMatchObject({
      code: ManagerErrorCode.tlsMismatch,
    });
  });

  it('insecure mode accepts any certificate and warns', async () => {
    const c = client(standin.url, { insecure: true });
    expect(await c.listHosts()).toEqual([]);
    expect((await c.ping()).tls).toMatchObject({ mode: 'insecure', verified: false });
    expect(text()).toContain('NOT verified');
  });

  it('speaks plain HTTP to a stand-in started without TLS', async () => {
    const plain = await startManagerStandin({
      stateFile: path.join(tmp.dir, 'plain.json'),
      username: 'admin',
      password: PASSWORD,
      tls: false,
      log,
    });
    try {
      expect(plain.url).toMatch(/^http:\/\//);
      const c = client(plain.url, {});
      expect(await c.listHosts()).toEqual([]);
      expect((await c.ping()).tls.mode).toBe('http');
    } finally {
      await plain.close();
    }
  });

  it('maps a closed port to manager.unreachable (retryable)', async () => {
    const port = await freePort();
    const err = await client(`https://127.0.0.1:${port}`, { insecure: true })
      .listHosts()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.unreachable });
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect(isRetryableCode(ManagerErrorCode.unreachable)).toBe(true);
    const report = await client(`https://127.0.0.1:${port}`, { insecure: true }).ping();
    expect(report).toMatchObject({ ok: false, reachable: false });
  });

  it('maps a server that never answers to manager.unreachable after the timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const err = await client(`https://127.0.0.1:${port}`, { insecure: true }, 300)
        .listHosts()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ManagerErrorCode.unreachable });
      expect((err as Error).message).toContain('300 ms');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('maps non-JSON and wrongly shaped answers to manager.bad_response', async () => {
    const pin = fingerprintOf(other.cert);
    const notJson = await fakeManager(200, '<html>login</html>');
    await expect(client(notJson, { fingerprint256: pin }).listHosts()).rejects.toMatchObject({
      code: ManagerErrorCode.badResponse,
    });
    const wrongShape = await fakeManager(200, '{"status":"OK","message":"s"}');
    // The login parses; the host list is not an array of Hosts.
    const err = await client(wrongShape, { fingerprint256: pin })
      .listHosts()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.badResponse });
    expect(isRetryableCode(ManagerErrorCode.badResponse)).toBe(false);
  });

  it('maps a 5xx to manager.http_error (retryable)', async () => {
    const broken = await fakeManager(503, '{"status":"Error","message":"database is starting"}');
    const err = await client(broken, { fingerprint256: fingerprintOf(other.cert) })
      .listHosts()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ManagerErrorCode.httpError });
    expect((err as { userMessage: string }).userMessage).toContain('database is starting');
    expect(isRetryableCode(ManagerErrorCode.httpError)).toBe(true);
  });

  it('never logged the password', () => {
    expect(text()).not.toContain(PASSWORD);
  });
});
