/**
 * The decisions of register-host and replace-host (src/plugins/registration/decide.ts) on hand-built facts:
 * every refusal code, the no-op, go with the exact host key pinned, which rule wins when two apply, and
 * where gathering stops. Pure: no Redis, no sshd, no Manager.
 */
import { describe, expect, it } from 'vitest';
import type { InventoryHost } from '../../src/config.js';
import type { HostRole, Unresolved } from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';
import type { HostInfo } from '../../src/manager/index.js';
import type { ClusterFacts } from '../../src/plugins/registration/cluster-preview.js';
import {
  decideRegister,
  decideReplace,
  type RegisterFacts,
  type ReplaceFacts,
  registerSoFar,
  replaceSoFar,
} from '../../src/plugins/registration/decide.js';
import type { HostState } from '../../src/plugins/registration/host-state.js';
import {
  convergeAuthorizedKeys,
  convergeKnownHosts,
  fingerprintOf,
  type PublicKey,
} from '../../src/plugins/registration/key-files.js';
import { memberOf } from '../../src/plugins/registration/members.js';
import type { HostKeyProbe } from '../../src/ssh/index.js';

const ed = (keyBase64: string): PublicKey => ({ keyType: 'ssh-ed25519', keyBase64 });
/** Real ed25519 keys (parsed by the key-file code): host keys and flexvdi user keys. */
const K = {
  host1: ed('AAAAC3NzaC1lZDI1NTE5AAAAINiiOJ+4oiYNNte0hHy8eXdUhVfqIC0tCl4GkY4ABcp2'),
  host4: ed('AAAAC3NzaC1lZDI1NTE5AAAAIK75/pAw0o+XJrSymXU4nf2SsJD0VHTSPbzIRZ7P7dht'),
  host4old: ed('AAAAC3NzaC1lZDI1NTE5AAAAIM6g6VMJgFB6MFS+1Whyf7boAHyxqocYtZ30l0gsarUQ'),
  user1: ed('AAAAC3NzaC1lZDI1NTE5AAAAICtXVx0rfgfyJx8YWb8m/0a3v3tYFV8YxLQcbFPLfLC8'),
  user4: ed('AAAAC3NzaC1lZDI1NTE5AAAAIFU/tLN0C3FcnGDy1ww5Pv0vIFKCseD988C2eX731Qqz'),
};

const host = (n: number): InventoryHost => ({
  name: `host${n}`,
  fqdn: `host${n}.example.com`,
  ip: `10.0.0.1${n}`,
  port: 22,
});
const host1 = host(1);
const host4 = host(4);

const probe = (pinned: HostKeyProbe['pinned'], k: PublicKey = K.host4): HostKeyProbe => ({
  ...k,
  fingerprint: fingerprintOf(k),
  pinned,
});

const BRIDGES = { virbr0: ['192.168.122.0/24'] };

function state(name: string, user: PublicKey | null, over: Partial<HostState> = {}): HostState {
  return {
    hostname: `${name}.example.com`,
    fqdn: `${name}.example.com`,
    home: '/home/flexvdi',
    flexvdiPub: user ? { line: `ssh-ed25519 ${user.keyBase64} flexvdi@${name}`, key: user } : null,
    authorizedKeys: null,
    userKnownHosts: null,
    knownHosts: null,
    symlinks: [],
    bridges: BRIDGES,
    addresses: [
      { ifname: 'lo', address: '127.0.0.1', prefixLength: 8 },
      { ifname: 'eth0', address: `10.0.0.1${name.slice(-1)}`, prefixLength: 24 },
    ],
    ...over,
  };
}

const info = (over: Partial<HostInfo> = {}): HostInfo => ({
  hostId: 'host4.example.com',
  status: 'unavailable',
  lastHeartbeat: null,
  desiredState: null,
  errorMsg: null,
  sshServerKey: null,
  registrations: null,
  ...over,
});

/** The cluster is host1 (answering, with `s`) besides the subject. */
const cluster = (s: HostState = state('host1', K.user1)): ClusterFacts => ({
  others: [host1],
  states: new Map([['host1', s]]),
  errors: new Map(),
  pins: new Map([['host1', [K.host1]]]),
});

/** host1's and host4's key files as the key exchange leaves them (host4 with `hostKey`). */
function inSync(hostKey: PublicKey): { one: HostState; four: HostState } {
  const members = [memberOf(host1, K.user1, [K.host1]), memberOf(host4, K.user4, [hostKey])];
  const files = {
    authorizedKeys: convergeAuthorizedKeys('', members).text,
    knownHosts: convergeKnownHosts('', members, 'manage').text,
  };
  return { one: state('host1', K.user1, files), four: state('host4', K.user4, files) };
}

const unresolved: Unresolved = {
  kind: 'unresolved',
  asked: 'host9',
  reason: '`host9` is not in the inventory.',
};

describe('register-host', () => {
  const full = (over: Partial<RegisterFacts> = {}): RegisterFacts => ({
    kind: 'host',
    host: host4,
    id: 'host4.example.com',
    probe: { ok: true, value: probe('unknown') },
    registered: [host1],
    outsideInventory: [],
    known: null,
    subject: { ok: true, value: state('host4', K.user4) },
    cluster: cluster(),
    ...over,
  });

  it('refuses a Host not in the inventory', () => {
    expect(decideRegister(unresolved)).toEqual({
      kind: 'refuse',
      code: 'inventory.unknown_host',
      reason: '`host9` is not in the inventory.',
    });
  });

  it('refuses a Host that does not answer SSH', () => {
    const f = full({ probe: { ok: false, error: 'connection refused' } });
    expect(decideRegister(f)).toEqual({
      kind: 'refuse',
      code: 'registration.unreachable',
      error: 'connection refused',
    });
  });

  it('refuses a Host presenting another key than the pinned one, before asking the Manager', () => {
    const f = full({ probe: { ok: true, value: probe('mismatch') } });
    expect(decideRegister(f)).toEqual({
      kind: 'refuse',
      code: 'registration.hostkey_mismatch',
      fingerprint: fingerprintOf(K.host4),
    });
    // the Manager also disagrees: the pinned key's refusal comes first
    const both = full({
      probe: { ok: true, value: probe('mismatch') },
      known: info({ sshServerKey: `ssh-ed25519 ${K.host4old.keyBase64}` }),
    });
    expect(decideRegister(both)).toMatchObject({ code: 'registration.hostkey_mismatch' });
  });

  it('refuses when the Manager knows the Host with another key (its comment does not count)', () => {
    const other = full({ known: info({ sshServerKey: `ssh-ed25519 ${K.host4old.keyBase64} root@old` }) });
    expect(decideRegister(other)).toEqual({
      kind: 'refuse',
      code: 'registration.manager_key_differs',
      fingerprint: fingerprintOf(K.host4),
    });
    const same = full({ known: info({ sshServerKey: `ssh-ed25519 ${K.host4.keyBase64} root@host4` }) });
    expect(decideRegister(same).kind).toBe('go');
  });

  it('refuses a Host that cannot be read', () => {
    const f = full({ subject: { ok: false, error: 'bash: not found' } });
    expect(decideRegister(f)).toEqual({
      kind: 'refuse',
      code: 'registration.unreadable',
      error: 'bash: not found',
    });
  });

  it('refuses a Host answering as another name; `hostname -f` matching is enough, in any case', () => {
    const wrong = state('host4', K.user4, { hostname: 'localhost', fqdn: '' });
    expect(decideRegister(full({ subject: { ok: true, value: wrong } }))).toEqual({
      kind: 'refuse',
      code: 'registration.hostname_mismatch',
      state: wrong,
    });
    const short = state('host4', K.user4, { hostname: 'host4', fqdn: 'HOST4.example.com' });
    expect(decideRegister(full({ subject: { ok: true, value: short } })).kind).toBe('go');
  });

  it('refuses a Host whose flexvdi user has no key pair, or does not exist', () => {
    const noKey = state('host4', null);
    expect(decideRegister(full({ subject: { ok: true, value: noKey } }))).toEqual({
      kind: 'refuse',
      code: 'registration.no_flexvdi_key',
      userExists: true,
    });
    const noUser = state('host4', null, { home: '' });
    expect(decideRegister(full({ subject: { ok: true, value: noUser } }))).toEqual({
      kind: 'refuse',
      code: 'registration.no_flexvdi_key',
      userExists: false,
    });
  });

  it('refuses bridges that differ from the first registered Host that answered, naming each', () => {
    const d = decideRegister(full({ cluster: cluster(state('host1', K.user1, { bridges: { br0: [] } })) }));
    expect(d).toMatchObject({ kind: 'refuse', code: 'registration.bridges_differ', reference: 'host1' });
    if (d.kind !== 'refuse' || d.code !== 'registration.bridges_differ') throw new Error('not refused');
    expect(d.differences.map((x) => x.mrkdwn)).toEqual([
      '`br0`: missing on host4 (host1 has it: no IPv4 address)',
      '`virbr0`: on host4 (192.168.122.0/24) but not on host1',
    ]);
  });

  it('is a no-op when the Host is registered, its key pinned and every key file in sync', () => {
    const { one, four } = inSync(K.host4);
    const f = full({
      probe: { ok: true, value: probe('match') },
      known: info({ status: 'running', sshServerKey: `ssh-ed25519 ${K.host4.keyBase64}` }),
      subject: { ok: true, value: four },
      cluster: cluster(one),
    });
    const d = decideRegister(f);
    expect(d.kind).toBe('noop');
    if (d.kind === 'noop')
      expect(d.preview.keys.lines.map((l) => l.mrkdwn)).toEqual([
        '• *host1*: already in sync',
        '• *host4*: already in sync',
      ]);
    // the same files, but first contact: the key is still to pin, so it goes
    expect(decideRegister({ ...f, probe: { ok: true, value: probe('unknown') } }).kind).toBe('go');
    // registered but a file out of sync: it goes, to bring the keys back
    expect(decideRegister({ ...f, cluster: cluster() }).kind).toBe('go');
  });

  it('goes with the probed key pinned, and previews the key changes', () => {
    const d = decideRegister(full());
    expect(d.kind).toBe('go');
    if (d.kind !== 'go') return;
    expect(d.pinned).toEqual({ hostKey: K.host4 });
    expect(d.known).toBeNull();
    expect(d.preview.keys.inSync).toBe(false);
    expect(d.preview.keys.lines.map((l) => l.mrkdwn)).toEqual([
      '• *host1*: +2 authorized_keys, +2 ssh_known_hosts',
      '• *host4*: +2 authorized_keys, +2 ssh_known_hosts',
    ]);
  });

  it('says a registered Host that did not answer is unreachable, and still goes', () => {
    const c: ClusterFacts = { ...cluster(), states: new Map(), errors: new Map([['host1', 'timed out']]) };
    const d = decideRegister(full({ cluster: c }));
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    expect(d.preview.bridges.reference).toBeUndefined();
    expect(d.preview.keys.lines[0]?.mrkdwn).toBe('• *host1*: unreachable now — timed out');
    expect(d.preview.unreachable).toHaveLength(1);
  });

  it('decides as soon as it can, so gathering stops; not before', () => {
    const { known: _k, subject: _s, cluster: _c, ...early } = full();
    expect(registerSoFar(early)).toBeUndefined();
    expect(registerSoFar({ ...early, probe: { ok: false, error: 'refused' } })?.kind).toBe('refuse');
    expect(registerSoFar({ ...early, known: null })).toBeUndefined();
    expect(() => decideRegister(early)).toThrow(/incomplete facts/);
  });
});

describe('replace-host', () => {
  const roles: HostRole[] = [
    { plugin: 'ocfs2', role: md`node 1 of cluster \`x\``, afterReplace: md`rejoin` },
  ];
  const full = (over: Partial<ReplaceFacts> = {}): ReplaceFacts => ({
    kind: 'host',
    asked: 'host4',
    host: host4,
    id: 'host4.example.com',
    givenIp: undefined,
    known: info({ status: 'unavailable' }),
    probe: { ok: true, value: probe('mismatch') },
    oldKeys: [K.host4old],
    subject: { ok: true, value: state('host4', K.user4) },
    cluster: cluster(),
    roles,
    ...over,
  });
  const admin = { force: false, isAdmin: true };

  it('refuses a Host not in the inventory, and an IP other than the failed Host’s', () => {
    expect(decideReplace(unresolved, admin)).toMatchObject({ code: 'inventory.unknown_host' });
    expect(decideReplace(full({ givenIp: '10.0.0.99' }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.ip_differs',
      expected: '10.0.0.14',
      given: '10.0.0.99',
    });
    expect(decideReplace(full({ givenIp: '10.0.0.14' }), admin).kind).toBe('go');
  });

  it('refuses a Host the Manager does not know', () => {
    expect(decideReplace(full({ known: null }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.not_registered',
    });
  });

  it('refuses when nothing answers SSH', () => {
    expect(decideReplace(full({ probe: { ok: false, error: 'no route to host' } }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.unreachable',
      error: 'no route to host',
    });
  });

  it('refuses an old Host that still answers, saying why', () => {
    const pinned = full({ probe: { ok: true, value: probe('match') } });
    expect(decideReplace(pinned, admin)).toMatchObject({
      code: 'registration.host_alive',
      alive: { pinnedKey: true, heartbeat: false },
    });
    for (const status of ['running', 'stopped', 'incompatible'] as const)
      expect(decideReplace(full({ known: info({ status }) }), admin)).toMatchObject({
        code: 'registration.host_alive',
        alive: { pinnedKey: false, heartbeat: true },
      });
    expect(decideReplace(full({ known: info({ status: 'unknown' }) }), admin).kind).toBe('go');
  });

  it('--force overrides for an admin only; without --force, "alive" wins over "not an admin"', () => {
    const alive = full({ probe: { ok: true, value: probe('match') } });
    expect(decideReplace(alive, { force: true, isAdmin: false })).toEqual({
      kind: 'refuse',
      code: 'registration.force_needs_admin',
    });
    expect(decideReplace(alive, { force: false, isAdmin: false })).toMatchObject({
      code: 'registration.host_alive',
    });
    const forced = decideReplace(alive, { force: true, isAdmin: true });
    expect(forced).toMatchObject({ kind: 'go', alive: { pinnedKey: true, heartbeat: false } });
    // a failed Host needs no --force, so no admin check either
    expect(decideReplace(full(), { force: true, isAdmin: false }).kind).toBe('go');
  });

  it('refuses a machine that cannot be read, answers as another name, or lacks the IP', () => {
    expect(decideReplace(full({ subject: { ok: false, error: 'auth failed' } }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.unreadable',
      error: 'auth failed',
    });
    const named = state('host4', K.user4, { hostname: 'host5.example.com', fqdn: 'host5.example.com' });
    expect(decideReplace(full({ subject: { ok: true, value: named } }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.hostname_mismatch',
      state: named,
    });
    const elsewhere = state('host4', K.user4, {
      addresses: [
        { ifname: 'lo', address: '127.0.0.1', prefixLength: 8 },
        { ifname: 'eth0', address: '10.0.0.99', prefixLength: 24 },
      ],
    });
    expect(decideReplace(full({ subject: { ok: true, value: elsewhere } }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.ip_not_carried',
      addresses: ['10.0.0.99'],
    });
  });

  it('refuses a replacement without the flexvdi key pair, and with other bridges', () => {
    expect(decideReplace(full({ subject: { ok: true, value: state('host4', null) } }), admin)).toEqual({
      kind: 'refuse',
      code: 'registration.no_flexvdi_key',
    });
    const d = decideReplace(full({ cluster: cluster(state('host1', K.user1, { bridges: {} })) }), admin);
    expect(d).toMatchObject({ kind: 'refuse', code: 'registration.bridges_differ', reference: 'host1' });
  });

  it('goes with the new host key and the old Host’s roles pinned', () => {
    const d = decideReplace(full(), admin);
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    expect(d.pinned).toEqual({ hostKey: K.host4, roles });
    expect(d.alive).toEqual({ pinnedKey: false, heartbeat: false });
    expect(d.oldKeys).toEqual([K.host4old]);
  });

  it('decides as soon as it can, so gathering stops; not before', () => {
    const base: ReplaceFacts = {
      kind: 'host',
      asked: 'host4',
      host: host4,
      id: 'host4.example.com',
      givenIp: undefined,
    };
    expect(replaceSoFar(base, admin)).toBeUndefined();
    expect(replaceSoFar({ ...base, known: null }, admin)?.kind).toBe('refuse');
    const { roles: _r, ...noRoles } = full();
    expect(replaceSoFar(noRoles, admin)).toBeUndefined();
    expect(() => decideReplace(noRoles, admin)).toThrow(/incomplete facts/);
  });
});
