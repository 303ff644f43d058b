/**
 * Plan-time checks shared by register-host and replace-host, run in the worker before anyone confirms:
 * read the subject Host (even before its key is pinned), the registered Hosts, and work out what the key
 * exchange would change on each.
 *
 * Before the operator confirms a new host key, the product's pool refuses to connect (nothing pinned, or the
 * old key pinned). The plan then reads the Host through a throw-away pool that trusts only the key just
 * probed, which is the key the plan shows: publickey authentication reveals no secret (the signature is
 * bound to that session), and the commands only read. Nothing is pinned or written until Confirm.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { InventoryHost } from '../../config.js';
import type { Plan, PluginServices, Section } from '../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../core/text.js';
import { type AppError, asAppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import {
  createSshPool,
  fanout,
  type HostKeyProbe,
  hostPatternFor,
  type SshPool,
  type SshTarget,
} from '../../ssh/index.js';
import { type Bridges, compareBridges } from './bridges.js';
import { type HostState, inspectHost } from './host-state.js';
import { fingerprintOf, keyId, type PublicKey } from './key-files.js';
import { describeDrift, driftOf, memberOf, productPins } from './members.js';

/** What the plan-time checks use of a plan's context. */
export interface PlanIo {
  readonly services: PluginServices;
  readonly signal: AbortSignal;
}

/** A plan that refuses, saying why. */
export const refuse = (summary: Md, refused: Md): Plan<never> => ({
  summary,
  sections: [],
  warnings: [],
  refused,
});

export const keyOfProbe = (p: HostKeyProbe): PublicKey => ({ keyType: p.keyType, keyBase64: p.keyBase64 });

/** Runs `fn` with a pool that trusts exactly `key` for this Host (see the module comment). */
export async function withProbedKey<T>(
  services: PluginServices,
  t: SshTarget,
  key: PublicKey,
  fn: (pool: SshPool) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-probe-'));
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${hostPatternFor(t.host, t.port)} ${keyId(key)}\n`, { mode: 0o600 });
  const inv = services.config.inventory;
  const pool = createSshPool({
    privateKey: inv.ssh.privateKeyPath,
    knownHostsPath: knownHosts,
    user: inv.ssh.user,
    connectTimeoutMs: inv.ssh.connectTimeoutMs,
    commandTimeoutMs: inv.ssh.commandTimeoutMs,
    log: services.log.child({ component: 'preflight' }),
  });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The subject's state, through the product's pool when its presented key is pinned, else the probed key. */
export async function inspectSubject(io: PlanIo, h: InventoryHost, probe: HostKeyProbe): Promise<HostState> {
  const t = targetOf(h);
  if (probe.pinned === 'match') return inspectHost(io.services.ssh, t, io.signal);
  return withProbedKey(io.services, t, keyOfProbe(probe), (pool) => inspectHost(pool, t, io.signal));
}

export interface OthersState {
  states: Map<string, HostState>;
  errors: Map<string, AppError>;
}

async function inspectOthers(io: PlanIo, others: readonly InventoryHost[]): Promise<OthersState> {
  const res = await fanout(others.map(targetOf), (t, signal) => inspectHost(io.services.ssh, t, signal), {
    concurrency: io.services.config.inventory.ssh.concurrency,
    signal: io.signal,
  });
  const states = new Map<string, HostState>();
  const errors = new Map<string, AppError>();
  for (const r of res) {
    if (r.ok) states.set(r.target.name, r.value);
    else errors.set(r.target.name, asAppError(r.error));
  }
  return { states, errors };
}

export interface BridgeCheck {
  reference: string | undefined;
  differences: Md[];
  summary: Md;
}

/** Bridge differences against the first registered Host that answered; empty when none to compare. */
function bridgeCheck(
  subject: string,
  mine: Bridges,
  others: readonly InventoryHost[],
  o: OthersState,
): BridgeCheck {
  const ref = others.find((h) => o.states.has(h.name));
  if (!ref)
    return {
      reference: undefined,
      differences: [],
      summary: md`no registered Host answered to compare with`,
    };
  const theirs = o.states.get(ref.name)!.bridges;
  const differences = compareBridges(subject, mine, ref.name, theirs);
  const list = Object.entries(mine).map(([n, s]) => md`\`${n}\` ${s.join(', ') || '(no IPv4)'}`);
  return {
    reference: ref.name,
    differences,
    summary: md`same as on ${ref.name}: ${list.length ? joinMd(list, ', ') : md`no bridges`}`,
  };
}

export interface KeyPreview {
  lines: Md[];
  /** Every Host (subject included) already holds every key. */
  inSync: boolean;
}

/** What the key exchange will change on each Host, the subject with `subjectKey` as its host key. */
async function keyPreview(
  io: PlanIo,
  subject: InventoryHost,
  subjectState: HostState,
  subjectKey: PublicKey,
  others: readonly InventoryHost[],
  o: OthersState,
): Promise<KeyPreview> {
  const pins = await productPins(io.services.config, others);
  const members = [
    ...others.map((h) => memberOf(h, o.states.get(h.name)?.flexvdiPub?.key ?? null, pins.get(h.name) ?? [])),
    memberOf(subject, subjectState.flexvdiPub?.key ?? null, [subjectKey]),
  ];
  const lines: Md[] = [];
  let inSync = true;
  for (const h of [...others, subject]) {
    const s = h.name === subject.name ? subjectState : o.states.get(h.name);
    if (!s) {
      const why = o.errors.get(h.name)?.userMessage;
      lines.push(md`• *${h.name}*: unreachable now — ${why ? prose(why) : 'not read'}`);
      inSync = false;
      continue;
    }
    const d = driftOf(s, members);
    if (!d.inSync) inSync = false;
    lines.push(md`• *${h.name}*: ${d.inSync ? md`already in sync` : describeDrift(d)}`);
  }
  return { lines, inSync };
}

function unreachableWarnings(o: OthersState): Md[] {
  return [...o.errors.entries()].map(
    ([n, e]) =>
      md`${n} does not answer (${prose(e.userMessage)}). Its keys cannot be updated now: the job will stop on it, and \`/flexvdi retry\` finishes it once it is back.`,
  );
}

/** The rest of the cluster as the subject would join it: read, bridges compared, key changes previewed. */
export interface ClusterPreview {
  /** The registered Hosts other than the subject, in inventory order. */
  others: InventoryHost[];
  bridges: BridgeCheck;
  keys: KeyPreview;
  /** The preflight lines both commands show (bridges, the flexvdi key) and the per-Host key changes. */
  bridgeLine: Md;
  keyLine: Md;
  keysSection: Section;
  /** Registered Hosts that did not answer. */
  unreachable: Md[];
}

/**
 * Reads the registered Hosts other than `h`, compares `h`'s bridges with theirs and previews the key
 * exchange; a refusal (with the differences) when the bridges differ. `label` names the subject in it.
 */
export async function previewCluster(
  io: PlanIo,
  what: Md,
  label: Md,
  subject: { host: InventoryHost; state: HostState; hostKey: PublicKey; flexvdiKey: PublicKey },
  registered: readonly InventoryHost[],
): Promise<{ ok: true; value: ClusterPreview } | { ok: false; plan: Plan<never> }> {
  const { host: h, state, hostKey: key } = subject;
  const others = registered.filter((o) => o.name !== h.name);
  const o = await inspectOthers(io, others);
  const bridges = bridgeCheck(h.name, state.bridges, others, o);
  if (bridges.differences.length) {
    return {
      ok: false,
      plan: {
        ...refuse(
          what,
          md`The virtual bridges of ${label} differ from ${bridges.reference ?? ''}'s; guests could not move between them.`,
        ),
        sections: [{ title: md`Bridge differences`, lines: bridges.differences.map((d) => md`• ${d}`) }],
      },
    };
  }
  const keys = await keyPreview(io, h, state, key, others, o);
  return {
    ok: true,
    value: {
      others,
      bridges,
      keys,
      bridgeLine: md`• Bridges: ${bridges.summary}`,
      keyLine: md`• flexvdi user key: ${fingerprintOf(subject.flexvdiKey)}`,
      keysSection: { title: md`SSH keys (${others.length + 1} Hosts)`, lines: keys.lines },
      unreachable: unreachableWarnings(o),
    },
  };
}
