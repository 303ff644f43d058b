/**
 * Plan-time reads shared by register-host and replace-host, run in the worker before anyone confirms: the
 * subject Host (even before its key is pinned) and the registered Hosts. What the key exchange would change
 * on each is worked out from these facts, purely, in cluster-preview.ts.
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
import type { Plan, PluginServices } from '../../core/plugin.js';
import type { Md } from '../../core/text.js';
import { asAppError } from '../../errors.js';
import { targetOf } from '../../services.js';
import {
  createSshPool,
  fanout,
  type HostKeyProbe,
  hostPatternFor,
  type SshPool,
  type SshTarget,
} from '../../ssh/index.js';
import type { ClusterFacts } from './cluster-preview.js';
import { type HostState, inspectHost } from './host-state.js';
import { keyId, keyOfProbe, type PublicKey } from './key-files.js';
import { productPins } from './members.js';

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

/**
 * Reads the registered Hosts other than `subject` (their states, or why they did not answer) and the host
 * keys the product pins for them: the facts `previewCluster` (cluster-preview.ts) works from.
 */
export async function gatherCluster(
  io: PlanIo,
  subject: string,
  registered: readonly InventoryHost[],
): Promise<ClusterFacts> {
  const others = registered.filter((o) => o.name !== subject);
  const [res, pins] = await Promise.all([
    fanout(others.map(targetOf), (t, signal) => inspectHost(io.services.ssh, t, signal), {
      concurrency: io.services.config.inventory.ssh.concurrency,
      signal: io.signal,
    }),
    productPins(io.services.config, others),
  ]);
  const states = new Map<string, HostState>();
  const errors = new Map<string, string>();
  for (const r of res) {
    if (r.ok) states.set(r.target.name, r.value);
    else errors.set(r.target.name, asAppError(r.error).userMessage);
  }
  return { others, states, errors, pins };
}
