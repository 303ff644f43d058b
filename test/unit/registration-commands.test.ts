/**
 * The registration commands' decisions that need no testbed: what they lock, what their plans pin (and how
 * a job's stored values are read back), and what `/flexvdi hosts` reports when the Manager does not answer.
 * Services are fakes; the commands run through the contract (`bind`, `withPinned`, each step, the result).
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { BoundCommand, HostRole, PluginServices, StepEnv } from '../../src/core/plugin.js';
import { md } from '../../src/core/text.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { HostInfo, HostSummary, ManagerClient } from '../../src/manager/index.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import { hostsCommand } from '../../src/plugins/registration/commands/hosts.js';
import { registerHostCommand } from '../../src/plugins/registration/commands/register-host.js';
import { replaceHostCommand } from '../../src/plugins/registration/commands/replace-host.js';
import { registrationPlugin } from '../../src/plugins/registration/index.js';
import type { HostKeyProbe, SshPool, SshTarget } from '../../src/ssh/index.js';
import { inspectionOutput, keyBlob } from '../support/ssh-keys.js';

const hosts = ['host1', 'host2', 'host3'].map((n, i) => ({
  name: n,
  fqdn: `${n}.example.com`,
  ip: `10.0.0.${i + 1}`,
  port: 22,
}));
const config = {
  inventoryPath: '/etc/flexvdi/inventory.yaml',
  inventory: { hosts, ssh: { concurrency: 4, knownHostsPath: '/nonexistent/known_hosts' } },
} as unknown as Config;

function services(
  listHosts: () => Promise<HostSummary[]>,
  more: { ssh?: Partial<SshPool>; manager?: Partial<ManagerClient>; roles?: HostRole[] } = {},
): PluginServices {
  return {
    config,
    log: createLogger({ level: 'silent' }),
    ssh: { ...more.ssh } as SshPool,
    manager: { listHosts, ...more.manager } as ManagerClient,
    board: {} as MonitorBoard,
    hostRoles: async () => more.roles ?? [],
  };
}

/** What the inspection script prints for an inventory Host of the fakes (no bridges, no key files). */
const inspection = (t: SshTarget) =>
  inspectionOutput(t.name, t.host, hosts.findIndex((h) => h.name === t.name) + 1);

function bound(c: typeof hostsCommand, args: unknown): BoundCommand {
  const r = c.bind(args, {});
  if (!r.ok) throw r.error;
  return r.value;
}

/** What the engine gives a step or a result: an admin's job, no checkpoints kept. */
const envFor = (s: PluginServices, results: ReadonlyMap<string, unknown>): StepEnv => ({
  finding: () => {},
  requester: 'U1',
  isAdmin: true,
  services: s,
  signal: new AbortController().signal,
  jobId: 'j-test',
  attempt: 1,
  progress: { step: () => {}, host: () => {} },
  checkpoint: { get: async () => undefined, set: async () => {} },
  results,
});

/** Runs every step then the result, as the engine would in one attempt. */
async function run(c: BoundCommand, s: PluginServices, pinned: unknown) {
  const r = c.withPinned(pinned);
  if (!r.ok) throw r.error;
  const results = new Map<string, unknown>();
  for (const step of r.value.steps) results.set(step.id, await step.run(envFor(s, results)));
  return { results, result: await r.value.result(envFor(s, results)) };
}

describe('locks', () => {
  it('lock the inventory Host however it is named, and the registration resource', () => {
    for (const c of [registerHostCommand, replaceHostCommand]) {
      for (const host of ['host2', 'HOST2.example.com', '10.0.0.2'])
        expect(bound(c, { host }).locks(config)).toEqual(['host:host2', 'registration']);
      expect(bound(c, { host: 'host9' }).locks(config)).toEqual(['registration']);
    }
  });
});

describe('pinned values', () => {
  const hostKey = { keyType: 'ssh-ed25519', keyBase64: 'AAAAC3NzaC1lZDI1NTE5AAAAIB==' };

  it('register-host pins the host key; anything else is refused with a coded error', () => {
    const c = bound(registerHostCommand, { host: 'host2' });
    expect(c.withPinned({ hostKey, firstContact: true }).ok).toBe(true);
    const bad = c.withPinned({ hostKey: { keyType: 'ssh-ed25519', keyBase64: '$(id)' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe('job.invalid_data');
    expect(c.withPinned(undefined).ok).toBe(false);
  });

  it('replace-host pins the roles too; a job planned before roles existed still reads', () => {
    const c = bound(replaceHostCommand, { host: 'host2' });
    expect(c.withPinned({ hostKey, roles: [{ plugin: 'ocfs2', role: 'node 1' }] }).ok).toBe(true);
    expect(c.withPinned({ hostKey, ocfs2: null }).ok).toBe(true);
    expect(c.withPinned({ hostKey, roles: [{ role: 'no plugin' }] }).ok).toBe(false);
  });
});

describe('/flexvdi hosts', () => {
  it('the Manager not answering: still lists the inventory, with findings, and says why', async () => {
    const s = services(async () => {
      throw new AppError('manager.unreachable', 'down', {
        userMessage: 'The Manager at https://m is unreachable.',
      });
    });
    const { results, result } = await run(bound(hostsCommand, {}), s, null);
    expect(results.get('manager')).toMatchObject({ from: 'inventory', registered: [] });
    expect(results.get('keys')).toEqual({ checked: false, hosts: {} });
    expect(result.outcome).toBe('findings');
    expect(result.summary.mrkdwn).toBe(
      '3 Hosts in the inventory; the Manager could not be read: The Manager at https://m is unreachable.',
    );
    expect(result.sections[0]?.lines.map(String)).toEqual(
      hosts.map((h) => `• *${h.name}* \`${h.fqdn}\` ${h.ip}:22`),
    );
  });

  it('nothing registered yet, a Host the inventory does not know: completed, the stranger listed', async () => {
    const s = services(async () => [{ hostId: 'Other.example.com', status: 'running', lastHeartbeat: null }]);
    const { result } = await run(bound(hostsCommand, {}), s, null);
    expect(result.outcome).toBe('completed');
    expect(result.summary.mrkdwn).toBe('3 Hosts in the inventory, 0 registered with the Manager');
    expect(result.sections[1]?.title?.mrkdwn).toBe('Known to the Manager, not in the inventory');
    expect(result.sections[1]?.lines.map(String)).toEqual(['• `Other.example.com` running']);
  });
});

describe('the plugin API', () => {
  it('registeredHosts: the Manager down throws by default, or falls back to the inventory and says so', async () => {
    const s = services(async () => {
      throw new AppError('manager.unreachable', 'down', { userMessage: 'unreachable' });
    });
    const api = registrationPlugin.api(s);
    await expect(api.registeredHosts()).rejects.toMatchObject({ code: 'manager.unreachable' });
    const r = await api.registeredHosts({ fallback: 'inventory' });
    expect(r).toMatchObject({ from: 'inventory', managerError: 'unreachable', outsideInventory: [] });
    expect(r.note.mrkdwn).toBe("the inventory's 3 Hosts — the Manager did not answer (unreachable)");
    expect(api.resolveHost('10.0.0.3')).toMatchObject({ ok: true, host: { name: 'host3' } });
    expect(api.resolveHost('host3', '10.0.0.9')).toMatchObject({ ok: false });
  });
});

describe('replace-host and what the old Host did', () => {
  const role: HostRole = {
    plugin: 'ocfs2',
    role: md`node 1 (\`host2\`) of OCFS2 cluster \`vdi\``,
    afterReplace: md`rejoin it: \`/flexvdi ocfs2 join host2\``,
  };
  const probe: HostKeyProbe = {
    keyType: 'ssh-ed25519',
    keyBase64: keyBlob(20),
    fingerprint: 'SHA256:new',
    pinned: 'match',
  };
  const old: HostInfo = {
    hostId: 'host2.example.com',
    status: 'unavailable',
    lastHeartbeat: null,
    desiredState: null,
    errorMsg: null,
    sshServerKey: null,
    registrations: null,
  };
  const s = services(
    async () => hosts.map((h) => ({ hostId: h.fqdn, status: 'running' as const, lastHeartbeat: null })),
    {
      manager: { getHost: async () => old },
      ssh: {
        probeHostKey: async () => probe,
        exec: async (t) => ({ code: 0, signal: null, stdout: inspection(t), stderr: '', ms: 1 }),
      },
      roles: [role],
    },
  );

  it('the plan warns with each role and pins them; the result shows each with what to do after', async () => {
    const c = bound(replaceHostCommand, { host: 'host2', force: true });
    const plan = await c.plan({
      requester: 'U1',
      isAdmin: true,
      services: s,
      signal: new AbortController().signal,
    });
    expect(plan.refused).toBeUndefined();
    expect(plan.warnings.map(String)).toContain(
      'host2 was node 1 (`host2`) of OCFS2 cluster `vdi`: the replacement starts without it. Afterwards, rejoin it: `/flexvdi ocfs2 join host2`.',
    );
    // what the plan pinned goes through Redis as JSON and comes back validated
    const r = c.withPinned(JSON.parse(JSON.stringify(plan.pinned)));
    if (!r.ok) throw r.error;
    const results = new Map<string, unknown>([
      ['repin-host-key', { fingerprint: 'SHA256:new', removed: 1, backup: null }],
      ['register', { hostId: 'host2.example.com', flexvdiKey: 'SHA256:f', hostKey: 'SHA256:new' }],
      [
        'distribute-keys',
        {
          members: ['host1', 'host2'],
          hosts: { host1: { earlier: false, changes: '+1 authorized_keys' }, host2: { earlier: true } },
        },
      ],
      ['verify', { checked: ['host1→host2', 'host2→host1'] }],
      ['manager-lists', { status: 'running', lastHeartbeat: null }],
    ]);
    const result = await r.value.result(envFor(s, results));
    expect(result.summary.mrkdwn).toContain('2 Host↔Host SSH connections verified');
    expect(result.sections.map((x) => ({ title: x.title?.mrkdwn, lines: x.lines.map(String) }))).toEqual([
      {
        title: 'Per Host',
        lines: ['• *host1*: +1 authorized_keys · ssh →✓←✓', '• *host2*: done in an earlier run'],
      },
      {
        title: 'What host2 was (the replacement starts without it)',
        lines: ['• node 1 (`host2`) of OCFS2 cluster `vdi` — rejoin it: `/flexvdi ocfs2 join host2`'],
      },
    ]);
  });
});
