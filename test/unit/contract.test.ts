import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Config, loadConfig } from '../../src/config.js';
import {
  type BoundRun,
  type BoundStep,
  commandsFor,
  defineCommand,
  definePlugin,
  defineStep,
  findHost,
  hostLockId,
  NO_PINS,
  type NoDeps,
  type PluginServices,
  type StepContext,
  type StepEnv,
} from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { Md, md } from '../../src/core/text.js';
import { AppError } from '../../src/errors.js';
import type { ManagerClient } from '../../src/manager/index.js';
import type { MonitorBoard } from '../../src/monitor/board.js';
import type { SshPool } from '../../src/ssh/index.js';

// ------------------------------------------------------------------------------------------ fixtures

const dir = mkdtempSync(path.join(tmpdir(), 'contract-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function testConfig(): Config {
  const file = path.join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    `manager:
  url: https://10.230.9.2
  username: admin
  password: { env: TEST_MANAGER_PASSWORD }
ssh:
  privateKeyPath: ./id_ed25519
  knownHostsPath: ./known_hosts
hosts:
  - { name: Host1, fqdn: host1.flexvdi.test, ip: 10.230.9.11 }
  - { name: host2, fqdn: host2.flexvdi.test, ip: 10.230.9.12 }
`,
  );
  return loadConfig({ FLEXVDI_CONFIG: file, LOG_LEVEL: 'silent' });
}
const config = testConfig();

const warnings: unknown[] = [];
const log = {
  warn: (o: unknown) => void warnings.push(o),
  child: () => log,
} as unknown as Logger;
const base = () => ({
  config,
  log,
  ssh: {} as SshPool,
  manager: {} as ManagerClient,
  board: {} as MonitorBoard,
});
const services = (): PluginServices => createRegistry([]).services(base());

const signal = new AbortController().signal;
function stepEnv(s: PluginServices, results: ReadonlyMap<string, unknown>): StepEnv {
  const saved = new Map<string, unknown>();
  return {
    finding: () => {},
    requester: 'U0REQ1',
    isAdmin: true,
    services: s,
    signal,
    jobId: 'j-test',
    attempt: 1,
    progress: { step: () => {}, host: () => {} },
    checkpoint: {
      get: async (k, schema) => schema.parse(saved.get(k)),
      set: async (k, _schema, v) => void saved.set(k, v),
    },
    results,
  };
}

/** Runs the steps in order, as the engine does (each result is kept for the steps after it). */
async function runAll(run: BoundRun, s: PluginServices) {
  const results = new Map<string, unknown>();
  for (const step of run.steps) results.set(step.id, await step.run(stepEnv(s, results)));
  return { results, result: await run.result(stepEnv(s, results)) };
}

const args = z
  .object({
    host: z.string(),
    n: z.number().int().min(0).default(1),
    badOutput: z.boolean().default(false),
    readTooEarly: z.boolean().default(false),
  })
  .strict();
type Args = z.output<typeof args>;
const pins = z.object({ fingerprint: z.string().regex(/^SHA256:/, 'must be a SHA256 fingerprint') });
type Pins = z.output<typeof pins>;
type Ctx = StepContext<Args, Pins, NoDeps>;

const count = defineStep({
  id: 'count',
  title: 'Count',
  output: z.object({ count: z.number(), note: z.string().default('defaulted') }),
  run: async (ctx: Ctx) => {
    if (ctx.args.readTooEarly) ctx.result(label); // `label` runs after this step
    // A step that lies about its type (e.g. data passed through from a Host): caught by `output`.
    if (ctx.args.badOutput) return { count: 'many' } as unknown as { count: number };
    return { count: ctx.args.n * 2 };
  },
});
const label = defineStep({
  id: 'label',
  title: 'Label',
  output: z.string(),
  run: async (ctx: Ctx) => {
    const c: number = ctx.result(count).count; // typed: number
    return `${ctx.args.host}:${c}:${ctx.pinned.fingerprint}`;
  },
});

const command = defineCommand({
  id: 'test count',
  summary: 'Counts',
  examples: [],
  args,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  pinned: pins,
  locks: (a, cfg) => [findHost(cfg, a.host) ?? `name:${a.host}`, 'cluster:flexvdi'],
  plan: (ctx) => ({
    summary: md`count ${ctx.args.host} ×${ctx.args.n}`,
    sections: [],
    warnings: [],
    pinned: { fingerprint: `SHA256:${ctx.args.host}` },
  }),
  steps: [count, label],
  result: (ctx) => ({ summary: md`${ctx.result(label)} (${ctx.result(count).count})`, sections: [] }),
});

const bindOk = (raw: unknown) => {
  const b = command.bind(raw, {});
  if (!b.ok) throw b.error;
  return b.value;
};
const runOk = (raw: unknown, pinned: unknown = { fingerprint: 'SHA256:x' }) => {
  const r = bindOk(raw).withPinned(pinned);
  if (!r.ok) throw r.error;
  return r.value;
};
const stepOf = (run: BoundRun, id: string): BoundStep => {
  const s = run.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

// ------------------------------------------------------------------------------------------ commands

describe('Command.bind', () => {
  it('parses the args with the command’s own schema (defaults applied) before the plan sees them', async () => {
    const bound = bindOk({ host: 'h1' });
    expect(bound.info).toBe(command.info);
    const plan = await bound.plan({ requester: 'U1', isAdmin: true, services: services(), signal });
    expect(plan.summary).toBeInstanceOf(Md);
    expect(plan.summary.mrkdwn).toBe('count h1 ×1');
    expect(plan.pinned).toEqual({ fingerprint: 'SHA256:h1' });
  });

  it('refuses bad args with job.invalid_data (a Result, never a throw)', () => {
    for (const bad of [
      { host: 3 },
      { host: 'h1', n: 1.5 },
      { host: 'h1', extra: true },
      undefined,
      'h1',
      null,
    ]) {
      const b = command.bind(bad, {});
      expect(b.ok, JSON.stringify(bad)).toBe(false);
      if (!b.ok) {
        expect(b.error).toBeInstanceOf(AppError);
        expect(b.error.code).toBe('job.invalid_data');
      }
    }
    const b = command.bind({ host: 'h1', n: -1 }, {});
    expect(!b.ok && b.error.message).toContain('n:');
  });

  it('withPinned refuses pinned values that do not match the `pinned` schema', () => {
    const bound = bindOk({ host: 'h1' });
    for (const bad of [undefined, null, {}, { fingerprint: 'MD5:x' }, 'SHA256:x']) {
      const r = bound.withPinned(bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      expect(!r.ok && r.error.code).toBe('job.invalid_data');
    }
    const r = bound.withPinned({ fingerprint: 'SHA256:ok' });
    expect(r.ok && r.value.steps.map((s) => [s.id, s.title])).toEqual([
      ['count', 'Count'],
      ['label', 'Label'],
    ]);
  });

  it('NO_PINS accepts nothing pinned (null or absent) and refuses a value', () => {
    const noPins = defineCommand({
      id: 'test none',
      summary: 's',
      examples: [],
      args: z.object({}).strict(),
      positionals: [],
      mutates: false,
      access: 'anyone',
      pinned: NO_PINS,
      plan: () => ({ summary: md`x`, sections: [], warnings: [] }),
      steps: [{ id: 'a', title: 'a', output: z.null(), run: async (ctx) => ctx.pinned }],
      result: () => ({ summary: md`x`, sections: [] }),
    });
    const b = noPins.bind({}, {});
    if (!b.ok) throw b.error;
    expect(b.value.withPinned(null).ok).toBe(true);
    expect(b.value.withPinned(undefined).ok).toBe(true);
    expect(b.value.withPinned({ fingerprint: 'x' }).ok).toBe(false);
    expect(b.value.locks(config)).toEqual([]);
  });

  it('runs the steps in order; ctx.result gives each earlier step’s typed, validated result', async () => {
    const { results, result } = await runAll(
      runOk({ host: 'h1', n: 3 }, { fingerprint: 'SHA256:p' }),
      services(),
    );
    // The step's return value is parsed with its output schema: the default is filled in.
    expect(results.get('count')).toEqual({ count: 6, note: 'defaulted' });
    expect(results.get('label')).toBe('h1:6:SHA256:p');
    expect(result.summary).toBeInstanceOf(Md);
    expect(result.summary.mrkdwn).toBe('h1:6:SHA256:p (6)');
  });

  it('a step returning something its `output` schema refuses makes the bound step reject (internal)', async () => {
    const run = runOk({ host: 'h1', badOutput: true });
    const err = await stepOf(run, 'count')
      .run(stepEnv(services(), new Map()))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('internal.error');
    expect((err as AppError).message).toContain('step "count"');
  });

  it('ctx.result of a step that has not run throws an internal AppError (in a step and in the result)', async () => {
    const run = runOk({ host: 'h1', readTooEarly: true });
    await expect(stepOf(run, 'count').run(stepEnv(services(), new Map()))).rejects.toMatchObject({
      name: 'AppError',
      code: 'internal.error',
      message: expect.stringContaining('"label"'),
    });
    const fine = runOk({ host: 'h1' });
    await expect(stepOf(fine, 'label').run(stepEnv(services(), new Map()))).rejects.toMatchObject({
      code: 'internal.error',
    });
    await expect(fine.result(stepEnv(services(), new Map([['count', { count: 1 }]])))).rejects.toMatchObject({
      code: 'internal.error',
      message: expect.stringContaining('"label"'),
    });
  });

  it('ctx.result validates what it reads (a bad saved result is refused, not passed on)', async () => {
    const run = runOk({ host: 'h1' });
    const env = stepEnv(services(), new Map([['count', { count: 'two' }]]));
    await expect(stepOf(run, 'label').run(env)).rejects.toMatchObject({ code: 'job.invalid_data' });
  });

  it('accept(saved) validates a checkpoint with the step’s output schema', () => {
    const run = runOk({ host: 'h1' });
    const c = stepOf(run, 'count');
    expect(c.accept({ count: 2 })).toEqual({ ok: true, value: { count: 2, note: 'defaulted' } });
    for (const bad of [{ count: '2' }, undefined, null, 'x', []]) {
      const r = c.accept(bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      expect(!r.ok && r.error.code).toBe('job.invalid_data');
    }
    expect(stepOf(run, 'label').accept('a').ok).toBe(true);
    expect(stepOf(run, 'label').accept(1).ok).toBe(false);
  });

  it('locks(config) maps an inventory Host to host:<name>, whatever spelling was typed', () => {
    for (const typed of ['Host1', 'host1', 'HOST1.flexvdi.test', '10.230.9.11']) {
      expect(bindOk({ host: typed }).locks(config), typed).toEqual(['host:host1', 'cluster:flexvdi']);
    }
    expect(bindOk({ host: 'ghost' }).locks(config)).toEqual(['name:ghost', 'cluster:flexvdi']);
    const h2 = config.inventory.hosts.find((h) => h.name === 'host2');
    expect(h2 && hostLockId(h2)).toBe('host:host2');
  });
});

// ------------------------------------------------------------------------------------------ plugins

interface CounterApi {
  readonly services: PluginServices;
  readonly serial: number;
}

function counterPlugin(name = 'counter') {
  let serial = 0;
  return definePlugin<CounterApi>({
    name,
    deps: () => ({}),
    api: (s) => ({ services: s, serial: ++serial }),
    commands: [],
  });
}

type UserDeps = { counter: CounterApi };
function userPlugin(dep: ReturnType<typeof counterPlugin>, declared: boolean) {
  const { command: cmd, step } = commandsFor<UserDeps>();
  const read = step({
    id: 'read',
    title: 'Read',
    output: z.object({ serial: z.number(), same: z.boolean() }),
    run: async (ctx: StepContext<Record<string, never>, null, UserDeps>) => ({
      serial: ctx.deps.counter.serial,
      same: ctx.deps.counter.services === ctx.services,
    }),
  });
  return definePlugin<undefined, UserDeps>({
    name: 'user',
    dependsOn: declared ? [dep] : [],
    deps: (use) => ({ counter: use(dep) }),
    api: () => undefined,
    commands: [
      cmd({
        id: 'user read',
        summary: 's',
        examples: [],
        args: z.object({}).strict(),
        positionals: [],
        mutates: false,
        access: 'anyone',
        pinned: NO_PINS,
        plan: (ctx) => ({ summary: md`${ctx.deps.counter.serial}`, sections: [], warnings: [] }),
        steps: [read],
        result: (ctx) => ({ summary: md`${ctx.result(read).serial}`, sections: [] }),
      }),
    ],
    hostRoles: async (_s, deps, host) => [{ plugin: 'user', role: md`${host.name} #${deps.counter.serial}` }],
  });
}

describe('definePlugin: deps and use', () => {
  it('a dependant gets the dependency’s API object, the same instance per services object', async () => {
    const counter = counterPlugin();
    const user = userPlugin(counter, true);
    const registry = createRegistry([counter, user]);
    const s1 = registry.services(base());
    const s2 = registry.services(base());
    expect(counter.api(s1)).toBe(counter.api(s1));
    expect(counter.api(s1)).not.toBe(counter.api(s2));
    const cmd = registry.runnable(s1).get('user read');
    if (!cmd) throw new Error('user read not runnable');
    const bound = cmd.bind({});
    if (!bound.ok) throw bound.error;
    const plan = await bound.value.plan({ requester: 'U1', isAdmin: false, services: s1, signal });
    expect(plan.summary.mrkdwn).toBe(String(counter.api(s1).serial));
    const run = bound.value.withPinned(null);
    if (!run.ok) throw run.error;
    const { results } = await runAll(run.value, s1);
    expect(results.get('read')).toEqual({ serial: counter.api(s1).serial, same: true });
    // A second services object gets its own API; the first one's is not rebuilt.
    const again = registry.runnable(s2).get('user read')?.bind({});
    if (!again?.ok) throw new Error('bind failed');
    const run2 = again.value.withPinned(null);
    if (!run2.ok) throw run2.error;
    const r2 = await runAll(run2.value, s2);
    expect(r2.results.get('read')).toEqual({ serial: counter.api(s2).serial, same: true });
    expect(counter.api(s1).serial).not.toBe(counter.api(s2).serial);
  });

  it('use() refuses a plugin not declared in dependsOn (registry.invalid_command) when deps are built', () => {
    const counter = counterPlugin();
    const sneaky = userPlugin(counter, false);
    const s = createRegistry([counter, sneaky]).services(base());
    const refused = expect.objectContaining({
      code: 'registry.invalid_command',
      message: expect.stringContaining('"counter"'),
    });
    expect(() => sneaky.api(s)).toThrow(refused);
    expect(() => sneaky.runnable(createRegistry([counter, sneaky]).services(base()))).toThrow(refused);
  });

  it('api() of a plugin that offers none is a coded error', () => {
    const none = definePlugin({ name: 'none', deps: () => ({}), commands: [] });
    expect(() => none.api(services())).toThrow(expect.objectContaining({ code: 'registry.invalid_command' }));
  });
});

describe('registry.services(base).hostRoles', () => {
  it('collects the roles of every plugin and survives one plugin throwing', async () => {
    const counter = counterPlugin();
    const user = userPlugin(counter, true);
    const broken = definePlugin({
      name: 'broken',
      deps: () => ({}),
      commands: [],
      hostRoles: async () => {
        throw new Error('Manager unreachable');
      },
    });
    const syncBroken = definePlugin({
      name: 'sync-broken',
      deps: () => ({}),
      commands: [],
      hostRoles: () => {
        throw new Error('thrown before any await');
      },
    });
    const other = definePlugin({
      name: 'other',
      deps: () => ({}),
      commands: [],
      hostRoles: async (s, _d, host) => [
        {
          plugin: 'other',
          role: md`runs the Manager on ${host.fqdn}`,
          afterReplace: md`check ${s.config.inventory.cluster.name}`,
        },
      ],
    });
    const registry = createRegistry([counter, broken, user, syncBroken, other]);
    const s = registry.services(base());
    const host = config.inventory.hosts[0]!;
    warnings.length = 0;
    const roles = await s.hostRoles(host, signal);
    expect(roles.map((r) => [r.plugin, r.role.mrkdwn, r.afterReplace?.mrkdwn])).toEqual([
      ['user', `Host1 #${counter.api(s).serial}`, undefined],
      ['other', 'runs the Manager on host1.flexvdi.test', 'check flexvdi'],
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ plugin: 'broken', host: 'Host1', err: expect.stringContaining('Manager') }),
        expect.objectContaining({ plugin: 'sync-broken', host: 'Host1' }),
      ]),
    );
  });

  it('the services a plugin receives are the full services (hostRoles included)', async () => {
    let seen: PluginServices | undefined;
    const spy = definePlugin({
      name: 'spy',
      deps: () => ({}),
      commands: [],
      hostRoles: async (s) => {
        seen = s;
        return [];
      },
    });
    const s = createRegistry([spy]).services(base());
    await s.hostRoles(config.inventory.hosts[0]!, signal);
    expect(seen).toBe(s);
    expect(s.config).toBe(config);
  });
});
