import { chmod, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprintSha256,
  hashHostName,
  keyTypeOf,
  lookupPins,
  parseKnownHosts,
  pinHostKey,
  readKnownHosts,
  replacePin,
} from '../../src/ssh/index.js';
import { keygenFingerprint, rejectsWith, run } from '../ssh/helpers.js';

interface Key {
  type: string;
  b64: string;
  blob: Buffer;
  pub: string;
}

let dir: string;
let keys: { ed: Key; ed2: Key; ec: Key; rsa: Key };

async function genKey(name: string, kind: string): Promise<Key> {
  const file = path.join(dir, name);
  await run('ssh-keygen', [
    '-q',
    '-t',
    kind,
    ...(kind === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-f',
    file,
  ]);
  const [type, b64] = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/) as [string, string];
  return { type, b64, blob: Buffer.from(b64, 'base64'), pub: `${file}.pub` };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flexvdi-kh-test-'));
  keys = {
    ed: await genKey('ed', 'ed25519'),
    ed2: await genKey('ed2', 'ed25519'),
    ec: await genKey('ec', 'ecdsa'),
    rsa: await genKey('rsa', 'rsa'),
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);

describe('fingerprints and key types', () => {
  it('matches ssh-keygen -lf for ed25519, ecdsa and rsa keys', async () => {
    for (const k of [keys.ed, keys.ec, keys.rsa]) {
      expect(fingerprintSha256(k.blob)).toBe(await keygenFingerprint(k.pub));
      expect(fingerprintSha256(k.blob)).not.toContain('=');
    }
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOf(keys.ed.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(keys.ec.blob)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOf(keys.rsa.blob)).toBe('ssh-rsa');
    expect(() => keyTypeOf(Buffer.from([0, 0, 0, 50, 1]))).toThrow();
  });
});

describe('parsing and matching', () => {
  it('parses plain, bracketed, comma-list and marked entries; keeps invalid lines aside', () => {
    const { ed, ec } = keys;
    const text = [
      '# 10.0.0.11:22 SSH-2.0-OpenSSH_9.2p1 Debian-2',
      `10.0.0.11 ${ed.type} ${ed.b64}`,
      '',
      `[10.0.0.12]:2222,host2.flexvdi.test ${ec.type} ${ec.b64} some comment`,
      `@revoked 10.0.0.13 ${ed.type} ${ed.b64}`,
      `@cert-authority *.flexvdi.test ${ed.type} ${ed.b64}`,
      'garbage line',
      `10.0.0.14 ssh-ed25519 ${ec.b64}`,
    ].join('\n');
    const kh = parseKnownHosts(text);
    expect(kh.entries.map((e) => [e.line, e.marker, e.hostField])).toEqual([
      [2, undefined, '10.0.0.11'],
      [4, undefined, '[10.0.0.12]:2222,host2.flexvdi.test'],
      [5, '@revoked', '10.0.0.13'],
      [6, '@cert-authority', '*.flexvdi.test'],
    ]);
    expect(kh.entries[1]!.comment).toBe('some comment');
    // "garbage" and a key whose blob type disagrees with the stated type are not pins.
    expect(kh.invalidLines).toEqual([7, 8]);
    expect(lookupPins(kh.entries, '10.0.0.11', 22)).toHaveLength(1);
    expect(lookupPins(kh.entries, '10.0.0.11', 2222)).toHaveLength(0);
    expect(lookupPins(kh.entries, '10.0.0.12', 2222)).toHaveLength(1);
    expect(lookupPins(kh.entries, '10.0.0.12', 22)).toHaveLength(0);
    expect(lookupPins(kh.entries, 'HOST2.flexvdi.test', 22)).toHaveLength(1);
    // Markers are recognised and never returned as pins.
    expect(lookupPins(kh.entries, '10.0.0.13', 22)).toHaveLength(0);
    expect(lookupPins(kh.entries, 'x.flexvdi.test', 22)).toHaveLength(0);
  });

  it('honours wildcards and negation like OpenSSH', () => {
    const { ed } = keys;
    const kh = parseKnownHosts(`10.0.0.*,!10.0.0.13,host?.lab ${ed.type} ${ed.b64}\n`);
    expect(lookupPins(kh.entries, '10.0.0.12', 22)).toHaveLength(1);
    expect(lookupPins(kh.entries, '10.0.0.13', 22)).toHaveLength(0);
    expect(lookupPins(kh.entries, 'host7.lab', 22)).toHaveLength(1);
    expect(lookupPins(kh.entries, 'host77.lab', 22)).toHaveLength(0);
  });

  it('matches hashed entries written by ssh-keygen -H, and ssh-keygen finds ours', async () => {
    const { ed, ec } = keys;
    const f = file('hashed_known_hosts');
    await writeFile(f, `10.0.0.21 ${ed.type} ${ed.b64}\n[10.0.0.22]:2200 ${ec.type} ${ec.b64}\n`);
    await run('ssh-keygen', ['-q', '-H', '-f', f]);
    const kh = await readKnownHosts(f);
    expect(kh.entries.every((e) => e.hashed && e.hostField.startsWith('|1|'))).toBe(true);
    expect(lookupPins(kh.entries, '10.0.0.21', 22).map((e) => e.keyBase64)).toEqual([ed.b64]);
    expect(lookupPins(kh.entries, '10.0.0.22', 2200).map((e) => e.keyBase64)).toEqual([ec.b64]);
    expect(lookupPins(kh.entries, '10.0.0.22', 22)).toHaveLength(0);
    expect(lookupPins(kh.entries, '10.0.0.23', 22)).toHaveLength(0);

    const ours = file('ours_known_hosts');
    await writeFile(ours, `${hashHostName('[10.0.0.30]:2201')} ${ed.type} ${ed.b64}\n`);
    const { stdout } = await run('ssh-keygen', ['-F', '[10.0.0.30]:2201', '-f', ours]);
    expect(stdout).toContain(ed.b64);
  });

  it('checks a key against the pins of the IP and the FQDN', () => {
    const { ed, ed2, ec } = keys;
    const names = ['10.0.0.41', 'h41.flexvdi.test'];
    const kh = (text: string) => parseKnownHosts(text).entries;
    expect(checkHostKey(kh(''), names, 22, ed.blob).status).toBe('unknown');
    expect(checkHostKey(kh(`10.0.0.41 ${ed.type} ${ed.b64}`), names, 22, ed.blob).status).toBe('match');
    expect(checkHostKey(kh(`h41.flexvdi.test ${ed.type} ${ed.b64}`), names, 22, ed.blob).status).toBe(
      'match',
    );
    // Another key type pinned too: irrelevant for an ed25519 key that matches.
    expect(
      checkHostKey(kh(`10.0.0.41 ${ed.type} ${ed.b64}\n10.0.0.41 ${ec.type} ${ec.b64}`), names, 22, ed.blob)
        .status,
    ).toBe('match');
    const changed = checkHostKey(kh(`10.0.0.41 ${ed.type} ${ed.b64}`), names, 22, ed2.blob);
    expect(changed).toMatchObject({
      status: 'mismatch',
      revoked: false,
      expected: [fingerprintSha256(ed.blob)],
    });
    // IP pin right, FQDN pin stale: refused, the stale line named.
    const stale = checkHostKey(
      kh(`10.0.0.41 ${ed.type} ${ed.b64}\nh41.flexvdi.test ${ed2.type} ${ed2.b64}`),
      names,
      22,
      ed.blob,
    );
    expect(stale).toMatchObject({ status: 'mismatch', lines: [2] });
    const revoked = checkHostKey(
      kh(`10.0.0.41 ${ed.type} ${ed.b64}\n@revoked * ${ed.type} ${ed.b64}`),
      names,
      22,
      ed.blob,
    );
    expect(revoked).toMatchObject({ status: 'mismatch', revoked: true });
    expect(
      checkHostKey(kh(`@cert-authority 10.0.0.41 ${ed.type} ${ed.b64}`), names, 22, ed.blob).status,
    ).toBe('unknown');
  });
});

describe('pinHostKey', () => {
  it('pins, is idempotent, keeps other lines and the file mode, and replaces the file by rename', async () => {
    const { ed, ec } = keys;
    const f = file('pin_known_hosts');
    const before = `# managed by hand\n10.9.9.9 ${ec.type} ${ec.b64}\n`;
    await writeFile(f, before);
    await chmod(f, 0o600);
    const inode = (await stat(f)).ino;

    const first = await pinHostKey(f, ['10.0.0.51', 'h51.flexvdi.test'], 22, ed.type, ed.b64);
    expect(first).toEqual({ changed: true, added: ['10.0.0.51', 'h51.flexvdi.test'] });
    const text = await readFile(f, 'utf8');
    expect(text).toBe(`${before}10.0.0.51,h51.flexvdi.test ${ed.type} ${ed.b64}\n`);
    const st = await stat(f);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.ino).not.toBe(inode);

    const again = await pinHostKey(f, ['h51.flexvdi.test', '10.0.0.51'], 22, ed.type, ed.b64);
    expect(again).toEqual({ changed: false, added: [] });
    expect(await readFile(f, 'utf8')).toBe(text);

    // Only the missing name is added; a non-default port is written as [host]:port.
    const more = await pinHostKey(f, ['10.0.0.51', '10.0.0.52'], 22, ed.type, ed.b64);
    expect(more.added).toEqual(['10.0.0.52']);
    await pinHostKey(f, ['10.0.0.51'], 2222, ed.type, ed.b64);
    expect(await readFile(f, 'utf8')).toContain(`[10.0.0.51]:2222 ${ed.type} ${ed.b64}\n`);
    expect((await readdir(dir)).filter((n) => n.includes('pin_known_hosts.'))).toEqual([]);
  });

  it('refuses a different key of the same type and invalid input', async () => {
    const { ed, ed2, ec } = keys;
    const f = file('conflict_known_hosts');
    await pinHostKey(f, ['10.0.0.61'], 22, ed.type, ed.b64);
    const err = await rejectsWith(
      pinHostKey(f, ['10.0.0.61'], 22, ed2.type, ed2.b64),
      'ssh.hostkey_mismatch',
    );
    expect(err.userMessage).toContain(fingerprintSha256(ed.blob));
    // Another key type for the same Host is fine.
    expect((await pinHostKey(f, ['10.0.0.61'], 22, ec.type, ec.b64)).changed).toBe(true);
    await rejectsWith(pinHostKey(f, ['10.0.0.62'], 22, 'ssh-ed25519', ec.b64), 'ssh.key_invalid');
    await rejectsWith(pinHostKey(f, ['10.0.0.62'], 22, 'ssh-ed25519', 'not base64!'), 'ssh.key_invalid');
    await rejectsWith(pinHostKey(f, ['bad host,*'], 22, ed.type, ed.b64), 'ssh.known_hosts_invalid');
    await rejectsWith(pinHostKey(f, ['@revoked'], 22, ed.type, ed.b64), 'ssh.known_hosts_invalid');
  });

  it('accepts lines as ssh-keyscan prints them', async () => {
    const { ed } = keys;
    const scan = `# 10.0.0.71:22 SSH-2.0-OpenSSH_9.2p1\n10.0.0.71 ${ed.type} ${ed.b64}\n`;
    const [entry] = parseKnownHosts(scan).entries;
    const f = file('scan_known_hosts');
    await pinHostKey(f, ['10.0.0.71'], 22, entry!.keyType, entry!.keyBase64);
    expect(checkHostKey((await readKnownHosts(f)).entries, ['10.0.0.71'], 22, ed.blob).status).toBe('match');
  });

  it('serialises concurrent pins: every one lands, none twice, no temp or lock file left', async () => {
    const { ed } = keys;
    const f = file('many_known_hosts');
    const hosts = Array.from({ length: 25 }, (_, i) => `10.1.0.${i + 1}`);
    await Promise.all([...hosts, ...hosts].map((h) => pinHostKey(f, [h], 22, ed.type, ed.b64)));
    const kh = await readKnownHosts(f);
    expect(kh.entries).toHaveLength(25);
    expect(new Set(kh.entries.map((e) => e.hostField))).toEqual(new Set(hosts));
    expect(
      (await readdir(dir)).filter((n) => n.startsWith('.many_known_hosts') || n.endsWith('.lock')),
    ).toEqual([]);
  });

  it('breaks a stale lock left by a dead process', async () => {
    const { ed } = keys;
    const f = file('stale_known_hosts');
    await writeFile(`${f}.lock`, '999999\n');
    const old = new Date(Date.now() - 120_000);
    await utimes(`${f}.lock`, old, old);
    expect((await pinHostKey(f, ['10.0.0.81'], 22, ed.type, ed.b64)).changed).toBe(true);
  });
});

describe('replacePin', () => {
  it('removes the old pins (plain, in lists, hashed), adds the new key, keeps a backup; runs once', async () => {
    const { ed, ed2, ec } = keys;
    const f = file('replace_known_hosts');
    const original = [
      '# cluster hosts',
      `10.0.0.91,h91.flexvdi.test,10.0.0.99 ${ed.type} ${ed.b64}`,
      `${hashHostName('10.0.0.91')} ${ec.type} ${ec.b64}`,
      `10.0.0.92 ${ed.type} ${ed.b64}`,
      '',
    ].join('\n');
    await writeFile(f, original);
    const res = await replacePin(f, ['10.0.0.91', 'h91.flexvdi.test'], 22, {
      keyType: ed2.type,
      keyBase64: ed2.b64,
    });
    expect(res.changed).toBe(true);
    expect(res.removed).toBe(3);
    expect(await readFile(res.backupPath!, 'utf8')).toBe(original);
    const kh = await readKnownHosts(f);
    for (const n of ['10.0.0.91', 'h91.flexvdi.test']) {
      expect(lookupPins(kh.entries, n, 22).map((e) => e.keyBase64)).toEqual([ed2.b64]);
    }
    // Other hosts on the shared line and elsewhere keep their pins; the comment stays.
    expect(lookupPins(kh.entries, '10.0.0.99', 22).map((e) => e.keyBase64)).toEqual([ed.b64]);
    expect(lookupPins(kh.entries, '10.0.0.92', 22).map((e) => e.keyBase64)).toEqual([ed.b64]);
    expect(kh.lines[0]).toBe('# cluster hosts');

    const again = await replacePin(f, ['10.0.0.91', 'h91.flexvdi.test'], 22, {
      keyType: ed2.type,
      keyBase64: ed2.b64,
    });
    expect(again).toEqual({ changed: false, removed: 0, backupPath: undefined });
    expect((await readdir(dir)).filter((n) => n.startsWith('replace_known_hosts.bak.'))).toHaveLength(1);
  });

  it('refuses when a wildcard entry would keep pinning the Host', async () => {
    const { ed, ed2 } = keys;
    const f = file('wild_known_hosts');
    await writeFile(f, `10.0.7.* ${ed.type} ${ed.b64}\n`);
    await rejectsWith(
      replacePin(f, ['10.0.7.1'], 22, { keyType: ed2.type, keyBase64: ed2.b64 }),
      'ssh.known_hosts_invalid',
    );
    expect(await readFile(f, 'utf8')).toBe(`10.0.7.* ${ed.type} ${ed.b64}\n`);
  });
});
