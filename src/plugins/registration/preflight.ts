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
import type { Config, InventoryHost } from '../../config.js';
import type { PlanContext } from '../../core/plugin.js';
import { type AppError, asAppError } from '../../errors.js';
import { servicesOf, targetOf } from '../../services.js';
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
import { keyId, type PublicKey } from './key-files.js';
import { describeDrift, driftOf, memberOf, productPins } from './members.js';

export const keyOfProbe = (p: HostKeyProbe): PublicKey => ({ keyType: p.keyType, keyBase64: p.keyBase64 });

/** Runs `fn` with a pool that trusts exactly `key` for this Host (see the module comment). */
export async function withProbedKey<T>(
  config: Config,
  ctx: Pick<PlanContext<unknown>, 'services'>,
  t: SshTarget,
  key: PublicKey,
  fn: (pool: SshPool) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-probe-'));
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${hostPatternFor(t.host, t.port)} ${keyId(key)}\n`, { mode: 0o600 });
  const inv = config.inventory;
  const pool = createSshPool({
    privateKey: inv.ssh.privateKeyPath,
    knownHostsPath: knownHosts,
    user: inv.ssh.user,
    connectTimeoutMs: inv.ssh.connectTimeoutMs,
    commandTimeoutMs: inv.ssh.commandTimeoutMs,
    log: ctx.services.log.child({ component: 'preflight' }),
  });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The subject's state, through the product's pool when its presented key is pinned, else the probed key. */
export async function inspectSubject(
  ctx: PlanContext<unknown>,
  h: InventoryHost,
  probe: HostKeyProbe,
): Promise<HostState> {
  const t = targetOf(h);
  if (probe.pinned === 'match') return inspectHost(servicesOf(ctx.services.extra).ssh, t, ctx.signal);
  return withProbedKey(ctx.services.config, ctx, t, keyOfProbe(probe), (pool) =>
    inspectHost(pool, t, ctx.signal),
  );
}

export interface OthersState {
  states: Map<string, HostState>;
  errors: Map<string, AppError>;
}

export async function inspectOthers(
  ctx: PlanContext<unknown>,
  others: readonly InventoryHost[],
): Promise<OthersState> {
  const { ssh } = servicesOf(ctx.services.extra);
  const res = await fanout(others.map(targetOf), (t, signal) => inspectHost(ssh, t, signal), {
    concurrency: ctx.services.config.inventory.ssh.concurrency,
    signal: ctx.signal,
  });
  const states = new Map<string, HostState>();
  const errors = new Map<string, AppError>();
  for (const r of res) {
    if (r.ok) states.set(r.target.name, r.value);
    else errors.set(r.target.name, asAppError(r.error));
  }
  return { states, errors };
}

/** Bridge differences against the first registered Host that answered; empty when none to compare. */
export function bridgeCheck(
  subject: string,
  mine: Bridges,
  others: readonly InventoryHost[],
  o: OthersState,
): { reference: string | undefined; differences: string[]; summary: string } {
  const ref = others.find((h) => o.states.has(h.name));
  if (!ref)
    return { reference: undefined, differences: [], summary: 'no registered Host answered to compare with' };
  const theirs = o.states.get(ref.name)!.bridges;
  const differences = compareBridges(subject, mine, ref.name, theirs);
  const list = Object.entries(mine)
    .map(([n, s]) => `\`${n}\` ${s.join(', ') || '(no IPv4)'}`)
    .join(', ');
  return { reference: ref.name, differences, summary: `same as on ${ref.name}: ${list || 'no bridges'}` };
}

export interface KeyPreview {
  lines: string[];
  /** Every Host (subject included) already holds every key. */
  inSync: boolean;
}

/** What the key exchange will change on each Host, the subject with `subjectKey` as its host key. */
export async function keyPreview(
  config: Config,
  subject: InventoryHost,
  subjectState: HostState,
  subjectKey: PublicKey,
  others: readonly InventoryHost[],
  o: OthersState,
): Promise<KeyPreview> {
  const pins = await productPins(config, others);
  const members = [
    ...others.map((h) => memberOf(h, o.states.get(h.name)?.flexvdiPub?.key ?? null, pins.get(h.name) ?? [])),
    memberOf(subject, subjectState.flexvdiPub?.key ?? null, [subjectKey]),
  ];
  const lines: string[] = [];
  let inSync = true;
  for (const h of [...others, subject]) {
    const s = h.name === subject.name ? subjectState : o.states.get(h.name);
    if (!s) {
      lines.push(`• *${h.name}*: unreachable now — ${o.errors.get(h.name)?.userMessage ?? 'not read'}`);
      inSync = false;
      continue;
    }
    const d = driftOf(s, members);
    if (!d.inSync) inSync = false;
    lines.push(`• *${h.name}*: ${describeDrift(d) || 'already in sync'}`);
  }
  return { lines, inSync };
}

export function unreachableWarnings(o: OthersState): string[] {
  return [...o.errors.entries()].map(
    ([n, e]) =>
      `${n} does not answer (${e.userMessage}). Its keys cannot be updated now: the job will stop on it, and \`/flexvdi retry\` finishes it once it is back.`,
  );
}
