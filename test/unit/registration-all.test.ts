/**
 * `register-host --all` without a testbed: its decision (src/plugins/registration/decide-all.ts) on
 * hand-built facts — Hosts to register, left out with register-host's own refusal, skipped as registered,
 * nothing to do, the batch's bridges with and without a registered Host to compare with — how chat text is
 * parsed (one Host or --all, never both), how the command binds either form, and its plan rendered through
 * fake services.
 */
import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/bot/help.js';
import type { Config, InventoryHost } from '../../src/config.js';
import { parseArgs, usage } from '../../src/core/args.js';
import type { BoundCommand, PluginServices } from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { HostSummary, ManagerClient } from '../../src/manager/index.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import type { ClusterFacts } from '../../src/plugins/registration/cluster-preview.js';
import { registerHostCommand } from '../../src/plugins/registration/commands/register-host.js';
import {
  type Candidate,
  decideRegisterAll,
  type RegisterAllFacts,
} from '../../src/plugins/registration/decide-all.js';
import type { HostState } from '../../src/plugins/registration/host-state.js';
import { registrationPlugin } from '../../src/plugins/registration/index.js';
import { fingerprintOf, type PublicKey } from '../../src/plugins/registration/key-files.js';
import type { HostKeyProbe, SshPool, SshTarget } from '../../src/ssh/index.js';
import { inspectionOutput, keyBlob } from '../support/ssh-keys.js';

/** A valid ed25519 public key (framing checked by the key-file code; the key bytes are `seed`). */
const key = (seed: number): PublicKey => ({ keyType: 'ssh-ed25519', keyBase64: keyBlob(seed) });
const hostKey = (n: number) => key(n);
const userKey = (n: number) => key(100 + n);

const host = (n: number): InventoryHost => ({
  name: `host${n}`,
  fqdn: `host${n}.example.com`,
  ip: `10.0.0.${n}`,
  port: 22,
});
const BRIDGES = { virbr0: ['192.168.122.0/24'] };

function state(n: number, over: Partial<HostState> = {}): HostState {
  const u = userKey(n);
  return {
    hostname: `host${n}.example.com`,
    fqdn: `host${n}.example.com`,
    home: '/home/flexvdi',
    flexvdiPub: { line: `ssh-ed25519 ${u.keyBase64} flexvdi@host${n}`, key: u },
    authorizedKeys: null,
    userKnownHosts: null,
    knownHosts: null,
    symlinks: [],
    bridges: BRIDGES,
    addresses: [{ ifname: 'eth0', address: `10.0.0.${n}`, prefixLength: 24 }],
    ...over,
  };
}

const probe = (n: number, pinned: HostKeyProbe['pinned'] = 'unknown'): HostKeyProbe => ({
  ...hostKey(n),
  fingerprint: fingerprintOf(hostKey(n)),
  pinned,
});

/** A candidate that answers with `s` (host `n`, first contact unless said). */
const ready = (
  n: number,
  s: HostState = state(n),
  pinned: HostKeyProbe['pinned'] = 'unknown',
): Candidate => ({
  host: host(n),
  id: `host${n}.example.com`,
  probe: { ok: true, value: probe(n, pinned) },
  subject: { ok: true, value: s },
});

/** The registered Hosts `ns`, each answering (or, in `down`, not). */
function cluster(ns: number[], down: number[] = []): ClusterFacts {
  return {
    others: ns.map(host),
    states: new Map(ns.filter((n) => !down.includes(n)).map((n) => [`host${n}`, state(n)])),
    errors: new Map(down.map((n) => [`host${n}`, 'connection timed out'])),
    pins: new Map(ns.map((n) => [`host${n}`, [hostKey(n)]])),
  };
}

function facts(registered: number[], candidates: Candidate[], down: number[] = []): RegisterAllFacts {
  return {
    registered: registered.map(host),
    manager: new Map(
      registered.map((n) => [
        `host${n}.example.com`,
        { hostId: `host${n}.example.com`, status: 'running' as const, lastHeartbeat: null },
      ]),
    ),
    outsideInventory: [],
    candidates,
    ...(candidates.length ? { cluster: cluster(registered, down) } : {}),
  };
}

describe('decideRegisterAll', () => {
  it('every inventory Host registered: a no-op naming them, nothing read from any Host', () => {
    const d = decideRegisterAll(facts([1, 2, 3], []));
    expect(d).toEqual({ kind: 'noop', registered: [host(1), host(2), host(3)] });
  });

  it('mixed: registers the Hosts that can be, leaves out each one that cannot with its register-host refusal', () => {
    const odd = state(4, { bridges: { virbr0: ['192.168.123.0/24'] } });
    const d = decideRegisterAll(
      facts(
        [1],
        [
          ready(2),
          { host: host(3), id: 'host3.example.com', probe: { ok: false, error: 'connection refused' } },
          ready(4, odd),
          { host: host(5), id: 'host5.example.com', probe: { ok: true, value: probe(5, 'mismatch') } },
          ready(6, state(6, { flexvdiPub: null })),
          ready(7, state(7), 'match'),
        ],
      ),
    );
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    expect(d.accepted.map((a) => a.host.name)).toEqual(['host2', 'host7']);
    // the plan pins exactly the keys it showed, in inventory order
    expect(d.pinned).toEqual({
      hosts: [
        { name: 'host2', hostKey: hostKey(2) },
        { name: 'host7', hostKey: hostKey(7) },
      ],
    });
    expect(d.leftOut.map((l) => [l.host.name, l.refusal.code])).toEqual([
      ['host3', 'registration.unreachable'],
      ['host4', 'registration.bridges_differ'],
      ['host5', 'registration.hostkey_mismatch'],
      ['host6', 'registration.no_flexvdi_key'],
    ]);
    expect(d.accepted[0]?.bridges.mrkdwn).toBe('same as on host1: `virbr0` 192.168.122.0/24');
    // the key exchange: the registered Host and both new ones, with every key
    expect(d.keys.lines.map(String)).toEqual([
      '• *host1*: +3 authorized_keys, +3 ssh_known_hosts',
      '• *host2*: +3 authorized_keys, +3 ssh_known_hosts',
      '• *host7*: +3 authorized_keys, +3 ssh_known_hosts',
    ]);
  });

  it('nothing that is not registered can be: the whole plan is refused, each Host with its reason', () => {
    const d = decideRegisterAll(
      facts(
        [1],
        [{ host: host(2), id: 'host2.example.com', probe: { ok: false, error: 'no route to host' } }],
      ),
    );
    expect(d).toMatchObject({ kind: 'refuse', code: 'registration.none_registrable' });
    if (d.kind !== 'refuse') return;
    expect(d.leftOut.map((l) => l.refusal)).toEqual([
      { kind: 'refuse', code: 'registration.unreachable', error: 'no route to host' },
    ]);
  });

  it('a fresh cluster: the new Hosts agree on their bridges, so all go, compared with the first', () => {
    const d = decideRegisterAll(facts([], [ready(1), ready(2), ready(3)]));
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    expect(d.accepted.map((a) => a.bridges.mrkdwn)).toEqual([
      'no registered Host answered to compare with',
      'same as on host1, the first Host of this plan (no registered Host answered to compare with)',
      'same as on host1, the first Host of this plan (no registered Host answered to compare with)',
    ]);
    expect(d.leftOut).toEqual([]);
  });

  it('new Hosts whose bridges differ among themselves, with no registered Host to tell which are right: refused', () => {
    const odd = state(3, { bridges: { br0: [] } });
    const fresh = decideRegisterAll(facts([], [ready(1), ready(2), ready(3, odd)]));
    expect(fresh).toMatchObject({
      kind: 'refuse',
      code: 'registration.bridges_disagree',
      reference: 'host1',
    });
    if (fresh.kind !== 'refuse' || fresh.code !== 'registration.bridges_disagree') return;
    expect(fresh.differences.map((x) => [x.host, x.lines.map(String)])).toEqual([
      [
        'host3',
        [
          '`br0`: on host3 (no IPv4 address) but not on host1',
          '`virbr0`: missing on host3 (host1 has it: 192.168.122.0/24)',
        ],
      ],
    ]);
    // the same when the registered Hosts exist but none answered
    const silent = decideRegisterAll(facts([9], [ready(1), ready(3, odd)], [9]));
    expect(silent).toMatchObject({ kind: 'refuse', code: 'registration.bridges_disagree' });
    // with a registered Host that answered, it is the reference: the odd one is only left out
    const held = decideRegisterAll(facts([9], [ready(1), ready(3, odd)]));
    expect(held).toMatchObject({ kind: 'go', accepted: [{ host: host(1) }], leftOut: [{ host: host(3) }] });
  });

  it('a registered Host that does not answer is warned about, and the others still go', () => {
    const d = decideRegisterAll(facts([1, 2], [ready(3)], [2]));
    if (d.kind !== 'go') throw new Error(`expected go, got ${d.kind}`);
    expect(d.unreachable.map(String)).toEqual([
      expect.stringContaining('host2 does not answer (connection timed out)'),
    ]);
    expect(d.keys.lines.map(String)[1]).toBe('• *host2*: unreachable now — connection timed out');
  });

  it('needs the registered Hosts read once there is a Host to register', () => {
    const { cluster: _c, ...noCluster } = facts([1], [ready(2)]);
    expect(() => decideRegisterAll(noCluster)).toThrow(/incomplete facts/);
  });
});

// ------------------------------------------------------------------------------------- the command

const hosts = [1, 2, 3].map(host);
const config = {
  inventoryPath: '/etc/flexvdi/inventory.yaml',
  inventory: { hosts, ssh: { concurrency: 4, knownHostsPath: '/nonexistent/known_hosts' } },
} as unknown as Config;

const parse = (text: string) => parseArgs(registerHostCommand.info, text.split(' ').filter(Boolean));
const failure = (text: string): string => {
  const r = parse(text);
  if (r.ok) throw new Error(`${text}: parsed as ${JSON.stringify(r.value)}`);
  return r.error.userMessage;
};

function bound(args: unknown): BoundCommand {
  const r = registerHostCommand.bind(args, {});
  if (!r.ok) throw r.error;
  return r.value;
}

describe('register-host [--all]: parsing and binding', () => {
  it('one Host as before, or --all; the usage line shows both', () => {
    expect(parse('host2')).toEqual({ ok: true, value: { host: 'host2', all: false } });
    expect(parse('host2.example.com 10.0.0.2')).toEqual({
      ok: true,
      value: { host: 'host2.example.com', ip: '10.0.0.2', all: false },
    });
    expect(parse('--all')).toEqual({ ok: true, value: { all: true } });
    expect(usage(registerHostCommand.info)).toBe('/flexvdi register-host [<host>] [<ip>] [--all]');
  });

  it('a Host with --all, in any order, is a usage error saying what each form does', () => {
    for (const text of ['--all host1', 'host1 --all', 'host1 10.0.0.1 --all']) {
      const msg = failure(text);
      expect(msg).toContain('`--all` takes no Host');
      expect(msg).toContain(
        '`/flexvdi register-host --all` registers every inventory Host not registered yet',
      );
      expect(msg).toContain('Usage: `/flexvdi register-host [<host>] [<ip>] [--all]`');
    }
  });

  it('neither a Host nor --all: the Host is required, and --all is offered', () => {
    expect(failure('')).toContain('`host`: is required: a Host (inventory name, FQDN or IPv4), or `--all`');
    // the Host's own checks are unchanged
    expect(failure('host_1')).toContain('`host`: must be a Host name or FQDN');
    expect(failure('--all=maybe')).toContain('`all`');
  });

  it('help names --all: in the list and in the command’s own help', () => {
    const registry = createRegistry([registrationPlugin]);
    expect(helpText(registry, [])).toContain('`--all`: every inventory Host not registered yet, in one plan');
    const one = helpText(registry, [], 'register-host');
    expect(one).toContain('Usage: `/flexvdi register-host [<host>] [<ip>] [--all]`');
    expect(one).toContain('• `/flexvdi register-host --all`');
  });

  it('binds the form given: its own steps and locks; a job whose data mixes both is refused', () => {
    const one = bound({ host: 'host2', all: false });
    expect(one.locks(config)).toEqual(['host:host2', 'registration']);
    const oneRun = one.withPinned({ hostKey: hostKey(2) });
    expect(oneRun.ok && oneRun.value.steps.map((s) => s.id)).toEqual([
      'pin-host-key',
      'register',
      'distribute-keys',
      'verify',
      'manager-lists',
    ]);
    // a job queued before --all existed (no `all` in its data) still binds
    expect(bound({ host: 'host2' }).locks(config)).toEqual(['host:host2', 'registration']);

    const all = bound({ all: true });
    expect(all.info.id).toBe('register-host');
    expect(all.locks(config)).toEqual(['host:host1', 'host:host2', 'host:host3', 'registration']);
    const allRun = all.withPinned({ hosts: [{ name: 'host2', hostKey: hostKey(2) }], leftOut: [] });
    expect(allRun.ok && allRun.value.steps.map((s) => s.id)).toEqual([
      'pin-host-keys',
      'register-hosts',
      'distribute-keys',
      'verify',
      'manager-lists',
    ]);
    expect(all.withPinned({ hosts: [], leftOut: [] }).ok).toBe(false);
    expect(all.withPinned({ hostKey: hostKey(2) }).ok).toBe(false);

    const mixed = registerHostCommand.bind({ all: true, host: 'host2' }, {});
    expect(mixed.ok).toBe(false);
    if (!mixed.ok) expect(mixed.error.code).toBe('job.invalid_data');
  });
});

// ------------------------------------------------------------------------------------- the plan

/** What the inspection script prints for host `t` (its bridges `bridges`, no key files). */
const inspection = (t: SshTarget, bridges = 'virbr0', addr = '192.168.122.1/24') =>
  inspectionOutput(t.name, t.host, 100 + Number(t.name.slice(4)), { name: bridges, addr }); // its userKey;

function services(registered: string[], probeOf: (t: SshTarget) => Promise<HostKeyProbe>): PluginServices {
  const list: HostSummary[] = registered.map((n) => ({
    hostId: `${n}.example.com`,
    status: 'running',
    lastHeartbeat: null,
  }));
  return {
    config,
    log: createLogger({ level: 'silent' }),
    ssh: {
      probeHostKey: probeOf,
      exec: async (t) => ({ code: 0, signal: null, stdout: inspection(t), stderr: '', ms: 1 }),
    } as Partial<SshPool> as SshPool,
    manager: { listHosts: async () => list } as Partial<ManagerClient> as ManagerClient,
    board: {} as MonitorBoard,
    hostRoles: async () => [],
  };
}

const planOf = (s: PluginServices) =>
  bound({ all: true }).plan({
    requester: 'U1',
    isAdmin: true,
    services: s,
    signal: new AbortController().signal,
  });

describe('register-host --all: the plan', () => {
  it('lists the Hosts to register, the one left out with why, the registered one as skipped', async () => {
    const s = services(['host1'], async (t) => {
      if (t.name === 'host3')
        throw new AppError('ssh.unreachable', 'refused', {
          userMessage: 'connection refused on 10.0.0.3:22',
        });
      return probe(Number(t.name.slice(4)), 'match');
    });
    const plan = await planOf(s);
    expect(plan.refused).toBeUndefined();
    expect(plan.noop).toBeUndefined();
    expect(plan.summary.mrkdwn).toBe(
      'Register 1 Host with the Manager (host2) and exchange SSH keys among all 2 Hosts; *1 Host left out* (host3): not registered by this plan',
    );
    const sections = Object.fromEntries(plan.sections.map((x) => [x.title?.mrkdwn, x.lines.map(String)]));
    expect(sections['To register (1)']).toEqual([
      expect.stringMatching(
        /^• \*host2\* \(`host2\.example\.com`, 10\.0\.0\.2\): host key SHA256:\S+ \(ssh-ed25519\) matches the pinned one; answers as `host2\.example\.com` ✓; bridges same as on host1: `virbr0` 192\.168\.122\.0\/24; flexvdi user key SHA256:\S+$/,
      ),
    ]);
    expect(sections['Left out — cannot be registered now (1)']).toEqual([
      '• *host3* (`host3.example.com`, 10.0.0.3): host3 is not reachable over SSH: connection refused on 10.0.0.3:22',
    ]);
    expect(sections['Already registered — skipped (1)']).toEqual([
      '• *host1* (`host1.example.com`): already registered (running, no heartbeat yet)',
    ]);
    expect(plan.warnings.map(String)).toContain(
      'Left out, NOT registered by this plan: host3. Fix what is said for each, then run `/flexvdi register-host --all` again: it registers what is left.',
    );
    // what the plan pinned goes through Redis as JSON and comes back validated
    const r = bound({ all: true }).withPinned(JSON.parse(JSON.stringify(plan.pinned)));
    expect(r.ok).toBe(true);
    expect(JSON.parse(JSON.stringify(plan.pinned))).toEqual({
      hosts: [{ name: 'host2', hostKey: hostKey(2) }],
      leftOut: [
        { name: 'host3', reason: 'host3 is not reachable over SSH: connection refused on 10.0.0.3:22' },
      ],
    });
  });

  it('every Host registered: a no-op that says so, without reading any Host', async () => {
    const s = services(['host1', 'host2', 'host3'], async () => {
      throw new Error('no Host should be probed');
    });
    const plan = await planOf(s);
    expect(plan.noop).toBe(true);
    expect(plan.summary.mrkdwn).toContain(
      'Every Host in the inventory is already registered with the Manager (3 of 3): nothing to register.',
    );
    expect(plan.sections[0]?.title?.mrkdwn).toBe('Already registered — skipped (3)');
    expect(plan.pinned).toBeUndefined();
  });

  it('no Host can be registered: refused, each named with why', async () => {
    const s = services(['host1'], async (t) => probe(Number(t.name.slice(4)), 'mismatch'));
    const plan = await planOf(s);
    expect(plan.refused?.mrkdwn).toBe(
      'None of the 2 Hosts not registered yet can be registered now: each one says why below. Fix them, then run `/flexvdi register-host --all` again.',
    );
    expect(plan.sections[0]?.lines.map(String)).toEqual([
      expect.stringContaining('*host2* (`host2.example.com`, 10.0.0.2): The SSH host key of host2'),
      expect.stringContaining('*host3* (`host3.example.com`, 10.0.0.3): The SSH host key of host3'),
    ]);
  });
});
