/**
 * The pure parts of registration: key file convergence (authorized_keys, known_hosts), the inspection
 * output parser, bridges and argument validation. Keys are real ones made by ssh-keygen.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArg, ipArg } from '../../src/plugins/registration/args.js';
import {
  bridgesOf,
  compareBridges,
  parseAddresses,
  subnetOf,
} from '../../src/plugins/registration/bridges.js';
import { parseInspection } from '../../src/plugins/registration/host-state.js';
import {
  convergeAuthorizedKeys,
  convergeKnownHosts,
  linesWithKey,
  type Member,
  type PublicKey,
  parseKeyLine,
} from '../../src/plugins/registration/key-files.js';
import { hashHostName } from '../../src/ssh/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rg-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function newKey(type: 'ed25519' | 'rsa' = 'ed25519'): PublicKey {
  const f = path.join(dir, `k${n++}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '1024'] : []),
    '-N',
    '',
    '-f',
    f,
  ]);
  const [keyType, keyBase64] = readFileSync(`${f}.pub`, 'utf8').trim().split(' ');
  return { keyType: keyType!, keyBase64: keyBase64! };
}
const line = (k: PublicKey) => `${k.keyType} ${k.keyBase64}`;

function member(name: string, i: number, flexvdiKey: PublicKey | null, hostKeys: PublicKey[]): Member {
  return { name, fqdn: `${name}.example.com`, ip: `10.0.0.${i}`, port: 22, flexvdiKey, hostKeys };
}

const [f1, f2, f3, h1, h2, h3, old] = Array.from({ length: 7 }, () => newKey());
const m1 = member('host1', 1, f1!, [h1!]);
const m2 = member('host2', 2, f2!, [h2!]);
const m3 = member('host3', 3, f3!, [h3!]);

describe('authorized_keys', () => {
  it('adds each missing key once with the FQDN as comment, keeps every other line byte for byte', () => {
    const before = `# admin notes\ncommand="/bin/true",no-pty ${line(old!)} backup@vault\n${line(f1!)} someone-else\n`;
    const r = convergeAuthorizedKeys(before, [m1, m2, m3]);
    expect(r.added).toBe(2);
    expect(r.removed).toBe(0);
    expect(r.text).toBe(
      `${before}${line(f2!)} flexvdi@host2.example.com\n${line(f3!)} flexvdi@host3.example.com\n`,
    );
    // a second pass changes nothing
    expect(convergeAuthorizedKeys(r.text, [m1, m2, m3])).toEqual({ text: r.text, added: 0, removed: 0 });
  });

  it('removes duplicates of a member key and the stale key of a replaced machine (same tag, other key)', () => {
    const text = [
      `${line(old!)} flexvdi@host2.example.com`,
      `${line(f1!)} flexvdi@host1.example.com`,
      `${line(f1!)} again`,
      'not a key at all',
    ].join('\n');
    const r = convergeAuthorizedKeys(text, [m1, m2]);
    expect(r.removed).toBe(2);
    expect(r.added).toBe(1);
    expect(linesWithKey(r.text, old!)).toBe(0);
    expect(linesWithKey(r.text, f1!)).toBe(1);
    expect(linesWithKey(r.text, f2!)).toBe(1);
    expect(r.text).toContain('not a key at all\n');
  });

  it('leaves the lines of a member whose key is unknown alone', () => {
    const text = `${line(old!)} flexvdi@host2.example.com\n`;
    const r = convergeAuthorizedKeys(text, [m1, { ...m2, flexvdiKey: null }]);
    expect(r.text).toBe(`${text}${line(f1!)} flexvdi@host1.example.com\n`);
  });

  it('parses key lines with options and refuses what is not a key', () => {
    expect(parseKeyLine(`from="10.0.0.1",no-pty ${line(f1!)} c d`)).toEqual({ key: f1, comment: 'c d' });
    expect(parseKeyLine('ssh-ed25519 AAAAnotbase64!!')).toBeUndefined();
    expect(parseKeyLine(`ssh-rsa ${f1!.keyBase64}`)).toBeUndefined(); // type inside the blob differs
    expect(parseKeyLine('# ssh-ed25519 x')).toBeUndefined();
  });
});

describe('known_hosts', () => {
  it('adds one line per member host key naming IP, FQDN and name; a second pass changes nothing', () => {
    const r = convergeKnownHosts('', [m1, m2], 'manage');
    expect(r.text).toBe(
      `10.0.0.1,host1.example.com,host1 ${line(h1!)}\n10.0.0.2,host2.example.com,host2 ${line(h2!)}\n`,
    );
    expect(convergeKnownHosts(r.text, [m1, m2], 'manage')).toEqual({ text: r.text, added: 0, removed: 0 });
  });

  it('a replaced machine: its names leave shared lines, its hashed and own lines go, other hosts stay', () => {
    const text = [
      `10.0.0.2,host2.example.com,host2,other.example.com ${line(old!)}`,
      `${hashHostName('10.0.0.2')} ${line(old!)}`,
      `[10.0.0.2]:2222 ${line(old!)}`,
      `10.0.0.1,host1.example.com,host1 ${line(h1!)}`,
      `*.example.com ${line(old!)}`,
    ].join('\n');
    const r = convergeKnownHosts(text, [m1, m2], 'manage');
    const lines = r.text.trim().split('\n');
    expect(lines).toEqual([
      `other.example.com ${line(old!)}`,
      `[10.0.0.2]:2222 ${line(old!)}`, // another port: another sshd
      `10.0.0.1,host1.example.com,host1 ${line(h1!)}`,
      `*.example.com ${line(old!)}`, // a wildcard is not ours to edit
      `10.0.0.2,host2.example.com,host2 ${line(h2!)}`,
    ]);
    expect(r.added).toBe(1);
    expect(r.removed).toBe(2);
  });

  it('an incomplete line for the right key is completed into one line', () => {
    const text = `host1.example.com ${line(h1!)}\n`;
    const r = convergeKnownHosts(text, [m1], 'manage');
    expect(r.text).toBe(`10.0.0.1,host1.example.com,host1 ${line(h1!)}\n`);
    expect(linesWithKey(r.text, h1!)).toBe(1);
  });

  it('clean mode only removes stale lines and never adds', () => {
    const text = `10.0.0.2 ${line(old!)}\n10.0.0.9 ${line(h3!)}\n`;
    const r = convergeKnownHosts(text, [m1, m2], 'clean');
    expect(r).toEqual({ text: `10.0.0.9 ${line(h3!)}\n`, added: 0, removed: 1 });
  });
});

describe('inspection output, bridges, arguments', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  it('parses what the inspection script prints (absent files, odd bytes in files)', () => {
    const addr =
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n' +
      '2: eth0@if9    inet 10.0.0.4/24 brd 10.0.0.255 scope global eth0\n' +
      '3: virbr0    inet 192.168.122.1/24 scope global virbr0\n' +
      '4: br-vdi    inet 172.30.0.1/24 scope global br-vdi\n';
    const field = (name: string, v: string | null) =>
      v === null ? `${name} -\n` : `${name} ${Buffer.byteLength(v)}\n${v}\n`;
    const out = b64(
      [
        field('hostname', 'host4'),
        field('fqdn', 'host4.example.com'),
        field('home', '/home/fl ex$(x)'),
        field('flexvdi_pub', `${line(f1!)} flexvdi@host4\n`),
        field('authorized_keys', null),
        field('user_known_hosts', ''),
        field('known_hosts', 'hostname x\nknown_hosts 9\néü\n'),
        field('links', '/home/x/.ssh\n'),
        field('bridges', ' br-vdi virbr0'),
        field('addr', addr),
      ].join(''),
    );
    const s = parseInspection(out);
    expect(s).toMatchObject({
      hostname: 'host4',
      fqdn: 'host4.example.com',
      home: '/home/fl ex$(x)',
      authorizedKeys: null,
      userKnownHosts: '',
      knownHosts: 'hostname x\nknown_hosts 9\néü\n',
      symlinks: ['/home/x/.ssh'],
      bridges: { 'br-vdi': ['172.30.0.0/24'], virbr0: ['192.168.122.0/24'] },
    });
    expect(s.flexvdiPub?.key).toEqual(f1);
    expect(s.addresses.map((a) => a.ifname)).toEqual(['lo', 'eth0', 'virbr0', 'br-vdi']);
  });

  it('subnets and bridge differences, by name', () => {
    expect(subnetOf('192.168.122.77', 24)).toBe('192.168.122.0/24');
    expect(subnetOf('10.1.2.3', 0)).toBe('0.0.0.0/0');
    expect(subnetOf('172.30.1.1', 23)).toBe('172.30.0.0/23');
    const a = bridgesOf(
      ['virbr0', 'br-vdi1'],
      parseAddresses('3: virbr0    inet 192.168.123.1/24 x\n4: br-vdi1    inet 172.30.1.1/24 x'),
    );
    const b = bridgesOf(
      ['virbr0', 'br-vdi'],
      parseAddresses('3: virbr0    inet 192.168.122.1/24 x\n4: br-vdi    inet 172.30.0.1/24 x'),
    );
    expect(compareBridges('new', a, 'ref', b).map(String)).toEqual([
      '`br-vdi`: missing on new (ref has it: 172.30.0.0/24)',
      '`br-vdi1`: on new (172.30.1.0/24) but not on ref',
      '`virbr0`: 192.168.123.0/24 on new, 192.168.122.0/24 on ref',
    ]);
    expect(compareBridges('new', b, 'ref', b)).toEqual([]);
  });

  it('arguments: names, FQDNs and IPv4 only; metacharacters and IPv6 refused', () => {
    for (const ok of ['host1', 'host1.example.com', 'HOST-2.example.com', '10.0.0.1'])
      expect(hostArg.safeParse(ok).success).toBe(true);
    for (const bad of ['host_1', '-host', 'a;b', '$(id)', 'a b', '`x`', 'fe80::1', '10.0.0.256', '']) {
      expect(hostArg.safeParse(bad).success, bad).toBe(false);
    }
    expect(ipArg.safeParse('::1').error?.issues[0]?.message).toContain('flexVDI needs IPv4');
    expect(ipArg.safeParse('10.0.0.1').success).toBe(true);
  });
});
