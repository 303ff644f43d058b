/**
 * The monitor plugin's pure parts: `--for` durations and their bounds, the `maintenance` arguments as the bot
 * parses them (errors naming the flag and how to fix it), the maintenance decision on hand-built facts, close
 * Host names for an unknown Host, and what `diagnose` reads from a Host's answer. No Redis, no sshd.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandText } from '../../src/bot/parse.js';
import type { Config, InventoryHost } from '../../src/config.js';
import type { StepEnv, Unresolved } from '../../src/core/plugin.js';
import { createRegistry } from '../../src/core/registry.js';
import { closeHostNames } from '../../src/core/suggest.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import type { ManagerClient } from '../../src/manager/index.js';
import type { Maintenance, MonitorBoard } from '../../src/monitor/board.js';
import type { Incident } from '../../src/monitor/incidents.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import {
  decideMaintenance,
  type MaintenanceFacts,
  type MaintenancePinned,
} from '../../src/plugins/monitor/decide-maintenance.js';
import { factLines, parseDiagnosis } from '../../src/plugins/monitor/diagnose-probes.js';
import {
  DEFAULT_WINDOW_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  parseDuration,
  windowLength,
} from '../../src/plugins/monitor/duration.js';
import { overviewOf } from '../../src/plugins/ocfs2/commands/status.js';
import { resolveHost } from '../../src/plugins/registration/args.js';
import type { SshPool } from '../../src/ssh/index.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');
const host = (n: number): InventoryHost => ({
  name: `host${n}`,
  fqdn: `host${n}.example.com`,
  ip: `10.0.0.1${n}`,
  port: 22,
});
const [host1, host2] = [host(1), host(2)];
const registry = createRegistry(builtinPlugins);

describe('durations', () => {
  it('reads 30m, 2h, 1h30m, 90s and 1d, in any case and with spaces around', () => {
    expect(parseDuration('30m')).toEqual({ ok: true, ms: 1_800_000 });
    expect(parseDuration('2h')).toEqual({ ok: true, ms: 7_200_000 });
    expect(parseDuration('1h30m')).toEqual({ ok: true, ms: 5_400_000 });
    expect(parseDuration('90s')).toEqual({ ok: true, ms: 90_000 });
    expect(parseDuration(' 1D ')).toEqual({ ok: true, ms: 86_400_000 });
    expect(parseDuration('1d2h3m4s')).toEqual({ ok: true, ms: 93_784_000 });
  });

  it('refuses what is not one, saying how to write it', () => {
    for (const bad of ['', '30', 'm', '30x', '1m2h', '-5m', '1.5h', '30 m', '1h1h'])
      expect(parseDuration(bad)).toMatchObject({
        ok: false,
        error: expect.stringContaining('`30m`, `2h`, `1h30m`'),
      });
  });

  it('bounds a window to 1 min – 7 days, naming the flag; no --for is an hour', () => {
    expect(windowLength(undefined)).toEqual({ ok: true, ms: DEFAULT_WINDOW_MS });
    expect(windowLength('1m')).toEqual({ ok: true, ms: MIN_WINDOW_MS });
    expect(windowLength('7d')).toEqual({ ok: true, ms: MAX_WINDOW_MS });
    expect(windowLength('59s')).toEqual({
      ok: false,
      error: '`--for 59s` is too short: a maintenance window lasts at least 1 min (e.g. `--for 30m`)',
    });
    expect(windowLength('7d1s')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^`--for 7d1s` is too long: .*at most 7 days \(`--for 7d`\)/),
    });
  });
});

describe('`maintenance` as typed', () => {
  const parse = (text: string) => {
    const r = parseCommandText(registry, text);
    if (!r.ok) return { error: r.error.userMessage };
    return r.value.kind === 'command' ? { args: r.value.args } : { error: 'built-in' };
  };

  it('takes a Host, --for, a quoted --reason and --end; nothing lists the windows', () => {
    expect(parse('maintenance host1 --for 2h --reason "disk swap"')).toEqual({
      args: { host: 'host1', for: '2h', reason: 'disk swap', end: false },
    });
    expect(parse('maintenance host1 --end')).toEqual({ args: { host: 'host1', end: true } });
    expect(parse('maintenance')).toEqual({ args: { end: false } });
  });

  it('says which flag is wrong and how to fix it, with the usage line', () => {
    const short = parse('maintenance host1 --for 5s').error ?? '';
    expect(short).toContain('`--for 5s` is too short');
    expect(short).toContain('Usage: `/flexvdi maintenance [<host>] [--for FOR] [--reason REASON] [--end]`');
    expect(parse('maintenance host1 --for soon').error).toContain('`soon` is not a duration');
    expect(parse('maintenance --end').error).toContain(
      'name the Host, e.g. `/flexvdi maintenance host1 --for 30m`',
    );
    expect(parse('maintenance host1 --end --for 1h').error).toContain(
      '`--end` ends the window now: leave out `--for` and `--reason`',
    );
    expect(parse('maintenance host1 --reason ""').error).toContain('`reason`: must not be empty');
  });
});

const windowOf = (over: Partial<Maintenance> = {}): Maintenance => ({
  id: 'mw-1',
  host: 'host2',
  by: 'U0ADMIN01',
  reason: null,
  since: NOW - 60_000,
  until: NOW + 600_000,
  endedBy: null,
  ...over,
});
const facts = (over: Partial<Extract<MaintenanceFacts, { kind: 'host' }>> = {}): MaintenanceFacts => ({
  kind: 'host',
  host: host2,
  windows: [],
  incident: null,
  now: NOW,
  end: false,
  lengthMs: 1_800_000,
  reason: 'disk swap',
  ...over,
});

describe('the maintenance decision', () => {
  it('lists the running windows when no Host is named (nothing to do)', () => {
    const running = windowOf();
    const over = windowOf({ id: 'mw-0', host: 'host1', until: NOW });
    expect(decideMaintenance({ kind: 'list', windows: [running, over], now: NOW })).toEqual({
      kind: 'noop',
      why: 'list',
      windows: [running],
    });
  });

  it('refuses a Host that is not in the inventory, with the reason the inventory gives', () => {
    const u: Unresolved = { kind: 'unresolved', asked: 'hots2', reason: '`hots2` is not in the inventory.' };
    expect(decideMaintenance(u)).toEqual({
      kind: 'refuse',
      code: ErrorCode.inventoryUnknownHost,
      reason: '`hots2` is not in the inventory.',
    });
  });

  it('sets a window that ends `--for` after the plan, replacing the one running', () => {
    const current = windowOf();
    const incident = { id: 'host2-x' } as Incident;
    expect(decideMaintenance(facts({ windows: [current], incident }))).toEqual({
      kind: 'go',
      action: 'set',
      pinned: { action: 'set', host: 'host2', until: NOW + 1_800_000, reason: 'disk swap' },
      current,
      incident,
      lengthMs: 1_800_000,
    });
  });

  it('ends the running window, pinned by its id; nothing to end when none runs', () => {
    const current = windowOf();
    expect(decideMaintenance(facts({ windows: [current], end: true }))).toMatchObject({
      kind: 'go',
      action: 'end',
      pinned: { action: 'end', host: 'host2', windowId: 'mw-1' },
    });
    const ended = windowOf({ until: NOW - 1, endedBy: 'U0ADMIN01' });
    expect(decideMaintenance(facts({ windows: [ended], end: true }))).toEqual({
      kind: 'noop',
      why: 'nothing-to-end',
      windows: [],
    });
    // another Host's window is not this one's
    expect(decideMaintenance(facts({ windows: [windowOf({ host: 'host1' })], end: true }))).toMatchObject({
      kind: 'noop',
    });
  });
});

describe('an unknown Host', () => {
  it('gets the close inventory names suggested, never a Host that differs only in its digits', () => {
    const hosts = [host1, host2, { ...host(3), name: 'storage-a', fqdn: 'stor-a.example.com' }];
    expect(closeHostNames('hots2', hosts)).toEqual(['host2']);
    expect(closeHostNames('host2.exmaple.com', hosts)).toEqual(['host2']);
    expect(closeHostNames('storage-b', hosts)).toEqual(['storage-a']);
    expect(closeHostNames('host9', hosts)).toEqual([]);
    expect(closeHostNames('web1', hosts)).toEqual([]);
    const config = {
      inventory: { hosts },
      inventoryPath: '/etc/flexvdi/inventory.yaml',
    } as unknown as Config;
    const r = resolveHost(config, 'hots1');
    expect(r.ok ? '' : r.reason).toBe(
      '`hots1` is not in the inventory. Did you mean `host1`? The inventory is the list of Hosts this bot manages: add the Host (name, fqdn, ip) to /etc/flexvdi/inventory.yaml, restart the workers so they read it, then run the command again.',
    );
  });
});

describe('what diagnose reads on a Host', () => {
  const answer = [
    'uptime 273600.51',
    'load 0.42 0.30 0.21',
    'cpus 4',
    'mem 8061200 3012400',
    'rootfs 30832548 28519108 1511632',
    'sshd-listening yes',
    'sshd-procs 1',
    "o2cb Cluster 'flexvdi' is online",
  ].join('\n');

  it('parses every fact, and flags a full root filesystem', () => {
    const f = parseDiagnosis(answer);
    expect(f).toEqual({
      uptimeS: 273600.51,
      load: [0.42, 0.3, 0.21],
      cpus: 4,
      memTotalKb: 8061200,
      memAvailableKb: 3012400,
      rootfs: { sizeKb: 30832548, usedKb: 28519108, availKb: 1511632 },
      sshdListening: true,
      sshdProcs: 1,
      o2cb: "Cluster 'flexvdi' is online",
    });
    const { lines, warnings } = factLines(f, 22);
    expect(lines.map((l) => l.mrkdwn)).toEqual([
      '• up 76 h, load 0.42 0.3 0.21 on 4 CPUs',
      '• Memory: 2.9 GiB available of 7.7 GiB (37 %)',
      '• :warning: Root filesystem: 92 % used (27 GiB of 29 GiB, 1.4 GiB free)',
      '• sshd: listening on port 22 (1 sshd process)',
      "• o2cb: `Cluster 'flexvdi' is online`",
    ]);
    expect(warnings).toEqual(['root filesystem']);
  });

  it('says what the Host could not tell, flags sshd not listening, and escapes what it printed', () => {
    const f = parseDiagnosis('uptime -\nload \nsshd-listening no\nsshd-procs -\no2cb <!channel> `x` *y*\n');
    expect(f).toMatchObject({
      uptimeS: null,
      load: null,
      rootfs: null,
      sshdListening: false,
      sshdProcs: null,
    });
    const { lines, warnings } = factLines(f, 2222);
    const text = lines.map((l) => l.mrkdwn).join('\n');
    expect(text).toContain('uptime unknown');
    expect(text).toContain('Memory: unknown');
    expect(text).toContain(':warning: sshd: nothing listens on port 2222: new connections are refused');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
    expect(warnings).toEqual(['sshd']);
    expect(parseDiagnosis('o2cb -').o2cb).toBeNull();
    expect(factLines(parseDiagnosis('o2cb -'), 22).lines.at(-1)?.mrkdwn).toBe('• o2cb: not installed');
  });
});

describe('the maintenance step', () => {
  /** The board's windows, in memory (the step uses maintenance, setMaintenance and endMaintenance). */
  function fakeBoard() {
    const windows = new Map<string, Maintenance>();
    const writes: Maintenance[] = [];
    const board = {
      maintenance: async () => [...windows.values()],
      setMaintenance: async (m: Maintenance) => {
        writes.push(m);
        windows.set(m.host, m);
      },
      endMaintenance: async (h: string, by: string, now: number) => {
        const cur = windows.get(h);
        if (cur && cur.until > now) windows.set(h, { ...cur, until: now, endedBy: by });
        return cur ?? null;
      },
    };
    return { windows, writes, board: board as unknown as MonitorBoard };
  }

  const config = { inventory: { hosts: [host1, host2] } } as unknown as Config;

  /** The `maintenance` command's step with `pinned`, and an environment whose checkpoints outlive a run. */
  function stepFor(board: MonitorBoard, pinned: MaintenancePinned) {
    const services = createRegistry(builtinPlugins).services({
      config,
      log: createLogger({ level: 'silent' }),
      ssh: {} as SshPool,
      manager: {} as ManagerClient,
      board,
    });
    const bound = createRegistry(builtinPlugins)
      .runnable(services)
      .get('maintenance')
      ?.bind({ host: 'host2' });
    if (!bound?.ok) throw new Error('maintenance does not bind');
    const run = bound.value.withPinned(pinned);
    if (!run.ok) throw run.error;
    const saved = new Map<string, unknown>();
    const findings: string[] = [];
    const env: StepEnv = {
      requester: 'U0ADMIN01',
      isAdmin: true,
      services,
      signal: new AbortController().signal,
      jobId: 'j-run1',
      attempt: 1,
      progress: { step: () => {}, host: () => {} },
      checkpoint: {
        get: async (k, schema) => (saved.has(k) ? schema.parse(saved.get(k)) : undefined),
        set: async (k, _schema, v) => void saved.set(k, v),
      },
      finding: (t) => void findings.push(t),
      results: new Map(),
    };
    return { step: run.value.steps[0]!, env, findings };
  }

  const until = () => Date.now() + 1_800_000;

  it('writes one window whose id comes from the job, and the same window when the job runs again', async () => {
    const b = fakeBoard();
    const { step, env } = stepFor(b.board, {
      action: 'set',
      host: 'host2',
      until: until(),
      reason: 'disk swap',
    });
    await step.run(env);
    await step.run(env); // a worker died after writing, before the step's checkpoint: the job runs it again
    expect(b.writes).toHaveLength(2);
    expect(b.writes[1]).toEqual(b.writes[0]);
    expect(b.writes[0]).toMatchObject({
      id: 'mw-j-run1',
      host: 'host2',
      by: 'U0ADMIN01',
      reason: 'disk swap',
    });
  });

  it('keeps a window someone set meanwhile instead of writing an old one back, and says so', async () => {
    const b = fakeBoard();
    const { step, env, findings } = stepFor(b.board, {
      action: 'set',
      host: 'host2',
      until: until(),
      reason: null,
    });
    await step.run(env);
    const newer = windowOf({ id: 'mw-other', until: until() + 60_000 });
    b.windows.set('host2', newer);
    expect(await step.run(env)).toMatchObject({ done: false, window: newer });
    expect(b.windows.get('host2')).toEqual(newer);
    expect(findings[0]).toContain('another window was set since');
  });

  it('ends only the window the plan showed; a window whose end passed before Confirm is not set', async () => {
    const b = fakeBoard();
    b.windows.set('host2', windowOf({ id: 'mw-newer', until: until() }));
    const end = stepFor(b.board, { action: 'end', host: 'host2', windowId: 'mw-planned' });
    expect(await end.step.run(end.env)).toMatchObject({ done: false });
    expect(b.windows.get('host2')?.endedBy).toBeNull();
    const right = stepFor(b.board, { action: 'end', host: 'host2', windowId: 'mw-newer' });
    expect(await right.step.run(right.env)).toMatchObject({ done: true, window: { endedBy: 'U0ADMIN01' } });
    expect(b.windows.get('host2')?.until).toBeLessThanOrEqual(Date.now());
    const late = stepFor(fakeBoard().board, {
      action: 'set',
      host: 'host2',
      until: Date.now() - 1,
      reason: null,
    });
    await expect(late.step.run(late.env)).rejects.toMatchObject({ code: 'monitor.window_passed' });
  });
});

describe('the OCFS2 overview `status` shows (the OCFS2 plugin’s API)', () => {
  const conf =
    'cluster:\n\tname = lab\n\theartbeat_mode = local\n\tnode_count = 2\n\n' +
    'node:\n\tcluster = lab\n\tnumber = 0\n\tip_port = 7777\n\tip_address = 10.0.0.11\n\tname = host1\n\n' +
    'node:\n\tcluster = lab\n\tnumber = 1\n\tip_port = 7777\n\tip_address = 10.0.0.12\n\tname = host2\n\n';
  const settings =
    'O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=lab\nO2CB_HEARTBEAT_THRESHOLD=31\n' +
    'O2CB_IDLE_TIMEOUT_MS=30000\nO2CB_KEEPALIVE_DELAY_MS=2000\nO2CB_RECONNECT_DELAY_MS=2000\n';
  const state = (h: InventoryHost, online: string | null) => ({
    conf,
    settingsPath: '/etc/default/o2cb',
    settings,
    online,
    hostname: h.fqdn,
    addresses: [h.ip],
  });

  it('gives each Host its node, o2cb state and the drift `ocfs2 status` calls out; an unread Host is said so', () => {
    const host3 = host(3);
    const o = overviewOf(
      [host1, host2, host3],
      [
        { host: 'host1', reachable: true, state: state(host1, 'lab') },
        { host: 'host2', reachable: true, state: state(host2, null) },
        { host: 'host3', reachable: false, error: 'Cannot open an SSH connection to host3' },
      ],
    );
    expect(o.cluster).toBe('lab');
    expect(o.firstNode).toBe('host1');
    expect(o.hosts.map(({ drift, ...h }) => ({ ...h, drift: drift.map((d) => d.mrkdwn) }))).toEqual([
      {
        host: 'host1',
        reachable: true,
        error: null,
        node: { number: 0, name: 'host1' },
        online: 'lab',
        drift: [],
      },
      {
        host: 'host2',
        reachable: true,
        error: null,
        node: { number: 1, name: 'host2' },
        online: null,
        drift: ['o2cb offline'],
      },
      {
        host: 'host3',
        reachable: false,
        error: 'Cannot open an SSH connection to host3',
        node: null,
        online: null,
        drift: [],
      },
    ]);
  });
});
