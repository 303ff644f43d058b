import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local-redis.js';
import { hashHostName, pinHostKey } from '../../src/ssh/index.js';
import { keygenFingerprint, poolFor, rejectsWith, run } from './helpers.js';
import { type PublicKeyInfo, type SshdFixture, startSshd } from './sshd-fixture.js';

let f: SshdFixture;
let keys: Record<'ed25519' | 'ecdsa' | 'rsa', PublicKeyInfo>;
let n = 0;
/** An ed25519 key the server does not have. */
let stranger: { keyType: string; keyBase64: string; pubPath: string };

/** A fresh known_hosts file with these lines. */
async function knownHosts(...lines: string[]): Promise<string> {
  const file = path.join(f.dir, `known_hosts_${++n}`);
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

const at = () => `[127.0.0.1]:${f.port}`;
const line = (k: PublicKeyInfo, host = at()) => `${host} ${k.keyType} ${k.keyBase64}`;

/** Runs one command through a fresh pool pinned by `file`; closes the pool. */
async function execWith(file: string, target = f.target()) {
  const pool = poolFor(f, file);
  try {
    return await pool.exec(target, 'echo ok');
  } finally {
    await pool.close();
  }
}

async function loadKeys() {
  const list = await f.hostKeys();
  keys = Object.fromEntries(list.map((k) => [k.kind, k])) as typeof keys;
}

beforeAll(async () => {
  f = await startSshd({ label: 'hostkeys', hostKeyKinds: ['ed25519', 'ecdsa', 'rsa'] });
  await loadKeys();
  const file = path.join(f.dir, 'stranger_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const [keyType, keyBase64] = (await readFile(`${file}.pub`, 'utf8')).split(' ') as [string, string];
  stranger = { keyType, keyBase64, pubPath: `${file}.pub` };
});

afterAll(async () => {
  await f?.stop();
});

describe('pinned host keys', () => {
  it('connects with the lines ssh-keyscan prints, comments included', async () => {
    const { stdout } = await run('ssh-keyscan', ['-p', String(f.port), '127.0.0.1']);
    const file = path.join(f.dir, 'keyscan_known_hosts');
    await writeFile(file, `# scanned\n${stdout}`);
    expect((await execWith(file)).stdout).toBe('ok\n');
  });

  it('presents the pinned key type only: rsa-only and ecdsa-only pins work', async () => {
    expect((await execWith(await knownHosts(line(keys.rsa)))).stdout).toBe('ok\n');
    expect((await execWith(await knownHosts(line(keys.ecdsa)))).stdout).toBe('ok\n');
  });

  it('matches hashed entries and FQDN pins', async () => {
    const hashed = await knownHosts(
      `${hashHostName(at())} ${keys.ed25519.keyType} ${keys.ed25519.keyBase64}`,
    );
    expect((await execWith(hashed)).stdout).toBe('ok\n');
    const byName = await knownHosts(line(keys.ed25519, `[host1.flexvdi.test]:${f.port}`));
    expect((await execWith(byName, { ...f.target(), fqdn: 'host1.flexvdi.test' })).stdout).toBe('ok\n');
  });

  it('refuses an unknown Host before sending anything: ssh.hostkey_unknown', async () => {
    const acceptedBefore = f.log().split('Accepted publickey').length;
    // A pin for port 22 does not cover another port; @cert-authority lines are not pins.
    const file = await knownHosts(
      line(keys.ed25519, '127.0.0.1'),
      `@cert-authority * ${keys.ed25519.keyType} ${keys.ed25519.keyBase64}`,
    );
    const err = await rejectsWith(execWith(file, f.target('host2')), 'ssh.hostkey_unknown');
    expect(err.message).toContain('host2');
    expect(err.userMessage).toMatch(/not pinned/);
    expect(f.log().split('Accepted publickey').length).toBe(acceptedBefore);
  });

  it('refuses a different key with ssh.hostkey_mismatch, both fingerprints given', async () => {
    const file = await knownHosts(`${at()} ${stranger.keyType} ${stranger.keyBase64}`);
    const err = await rejectsWith(execWith(file, f.target('host8')), 'ssh.hostkey_mismatch');
    expect(err.details).toMatchObject({
      target: 'host8',
      presented: await keygenFingerprint(keys.ed25519.pubPath),
      pinned: [await keygenFingerprint(stranger.pubPath)],
    });
    expect(err.userMessage).toMatch(/host8.*has changed/);
    expect(err.userMessage).toMatch(/re-pin/);
  });

  it('refuses a key listed under @revoked, and a stale FQDN pin next to a good IP pin', async () => {
    const revoked = await knownHosts(
      line(keys.ed25519),
      `@revoked * ${keys.ed25519.keyType} ${keys.ed25519.keyBase64}`,
    );
    expect((await rejectsWith(execWith(revoked), 'ssh.hostkey_mismatch')).details).toMatchObject({
      revoked: true,
    });

    const fqdn = `[h.flexvdi.test]:${f.port}`;
    const target = { ...f.target(), fqdn: 'h.flexvdi.test' };
    const stale = await knownHosts(line(keys.ed25519), `${fqdn} ${stranger.keyType} ${stranger.keyBase64}`);
    const err = await rejectsWith(execWith(stale, target), 'ssh.hostkey_mismatch');
    expect(err.details).toMatchObject({ knownHostsLines: [2] });
    // A pin of another key type under the FQDN does not contradict the ed25519 key.
    const otherType = await knownHosts(line(keys.ed25519), line(keys.ecdsa, fqdn));
    expect((await execWith(otherType, target)).stdout).toBe('ok\n');
  });
});

describe('probe, pin, key change', () => {
  it('probes without authenticating, pins after confirmation, then detects a regenerated key', async () => {
    const file = await knownHosts('# empty');
    const pool = poolFor(f, file);
    try {
      const acceptedBefore = f.log().split('Accepted publickey').length;
      const probe = await pool.probeHostKey(f.target());
      expect(probe).toMatchObject({
        keyType: 'ssh-ed25519',
        keyBase64: keys.ed25519.keyBase64,
        pinned: 'unknown',
      });
      expect(probe.fingerprint).toBe(await keygenFingerprint(keys.ed25519.pubPath));
      expect(f.log().split('Accepted publickey').length).toBe(acceptedBefore);

      await pinHostKey(file, ['127.0.0.1'], f.port, probe.keyType, probe.keyBase64);
      expect((await pool.probeHostKey(f.target())).pinned).toBe('match');
      expect((await pool.exec(f.target(), 'echo pinned')).stdout).toBe('pinned\n');
      // The log check above can tell: a real login shows up.
      expect(f.log().split('Accepted publickey').length).toBeGreaterThan(acceptedBefore);

      await f.restart({ newHostKeys: true });
      await loadKeys();
      const err = await rejectsWith(pool.exec(f.target('host1'), 'true'), 'ssh.hostkey_mismatch');
      expect(err.details).toMatchObject({
        presented: await keygenFingerprint(keys.ed25519.pubPath),
        pinned: [probe.fingerprint],
      });
      const again = await pool.probeHostKey(f.target());
      expect(again).toMatchObject({
        pinned: 'mismatch',
        fingerprint: await keygenFingerprint(keys.ed25519.pubPath),
      });
    } finally {
      await pool.close();
    }
  });

  it('probes an unreachable Host as ssh.connect_failed', async () => {
    const pool = poolFor(f, await knownHosts());
    const err = await rejectsWith(
      pool.probeHostKey({ name: 'host4', host: '127.0.0.1', port: await freePort() }),
      'ssh.connect_failed',
    );
    expect(err.message).toContain('host4');
    await pool.close();
  });
});
