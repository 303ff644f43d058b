/**
 * The decision of `register-host --all`, a pure function of the facts its plan gathers: every inventory Host
 * the Manager does not list yet is a candidate, decided by the very rules of `register-host <host>`
 * (`registerSoFar`, decide.ts) against the registered Hosts; the registered ones are skipped. No I/O, so
 * every rule is a unit test (test/unit/registration-all.test.ts).
 *
 * A candidate that cannot be registered (unreachable, another host key than the pinned one, the wrong name,
 * no flexvdi key, other bridges than the registered Hosts…) is LEFT OUT and the others go ahead, each left
 * out Host named in the plan with why and what to do. Why not refuse the whole plan: the plan is what the
 * operator confirms, and it lists exactly which Hosts will be registered and which will not; nothing about a
 * left-out Host changes (it is not pinned, registered or given keys); and `--all` converges, so the same
 * command run again once the Host is fixed registers exactly what is left. Refusing everything would let one
 * powered-off machine among ten new ones block the nine, and send the operator to nine single commands and
 * nine confirmations: the opposite of what --all is for.
 *
 * One exception refuses the whole plan: when no registered Host answered, there is nothing to hold the
 * candidates' bridges against, and if they differ among themselves nobody can tell which ones are right.
 * Registering "the first in inventory order" would make a possibly odd Host the cluster's reference, so the
 * plan names the differences and asks for them to be made the same (or for the right Host to be registered
 * first, alone).
 */
import type { InventoryHost } from '../../config.js';
import type { Refusal } from '../../core/plugin.js';
import { type Md, md } from '../../core/text.js';
import type { Read } from '../../errors.js';
import type { HostSummary } from '../../manager/index.js';
import type { HostKeyProbe } from '../../ssh/index.js';
import { compareBridges } from './bridges.js';
import { type ClusterFacts, type KeyPreview, keyPreview, unreachableWarnings } from './cluster-preview.js';
import { type RegisterDecision, type RegisterFacts, registerSoFar } from './decide.js';
import { RegistrationErrorCode as C } from './errors.js';
import type { HostState } from './host-state.js';
import { keyOfProbe, type PublicKey } from './key-files.js';

/** One inventory Host the Manager does not list, as far as it was read. */
export interface Candidate {
  host: InventoryHost;
  /** The Manager's id of the Host. */
  id: string;
  probe: Read<HostKeyProbe>;
  /** Absent when the probe already decided (no answer, another key than the pinned one). */
  subject?: Read<HostState>;
}

export interface RegisterAllFacts {
  /** The registered Hosts, in inventory order. */
  registered: InventoryHost[];
  /** The Manager's view, by host id (status and last heartbeat of the registered Hosts). */
  manager: ReadonlyMap<string, HostSummary>;
  /** Ids the Manager lists that are not in the inventory. */
  outsideInventory: string[];
  /** The inventory Hosts the Manager does not list, in inventory order. */
  candidates: Candidate[];
  /** The registered Hosts as read at plan time (absent when there is no candidate: nothing was read). */
  cluster?: ClusterFacts;
}

/** A candidate that goes: what the plan shows of it. */
export interface Accepted {
  host: InventoryHost;
  id: string;
  probe: HostKeyProbe;
  state: HostState;
  hostKey: PublicKey;
  flexvdiKey: PublicKey;
  /** How its bridges compare: with the first registered Host that answered, or the first accepted Host. */
  bridges: Md;
}

/** A candidate left out, with the refusal `register-host <host>` would give it. */
export interface LeftOut {
  host: InventoryHost;
  id: string;
  refusal: Extract<RegisterDecision, { kind: 'refuse' }>;
}

/** The Hosts --all registers, each with the host key the operator saw (in inventory order). */
export interface PinnedHosts {
  hosts: { name: string; hostKey: PublicKey }[];
}

export type RegisterAllDecision =
  | { kind: 'noop'; registered: InventoryHost[] }
  | Refusal<typeof C.noneRegistrable, { leftOut: LeftOut[] }>
  | Refusal<
      typeof C.bridgesDisagree,
      { reference: string; differences: { host: string; lines: Md[] }[]; leftOut: LeftOut[] }
    >
  | {
      kind: 'go';
      pinned: PinnedHosts;
      accepted: Accepted[];
      leftOut: LeftOut[];
      /** What the key exchange changes on each Host, registered ones first. */
      keys: KeyPreview;
      /** Registered Hosts that did not answer (the key exchange will stop on them). */
      unreachable: Md[];
    };

/** The candidate as `registerSoFar` reads it: the Manager does not list it (`known: null`). */
export const candidateFacts = (
  c: Candidate,
  f: Pick<RegisterAllFacts, 'registered' | 'outsideInventory'>,
  cluster?: ClusterFacts,
): RegisterFacts => ({
  kind: 'host',
  host: c.host,
  id: c.id,
  probe: c.probe,
  registered: f.registered,
  outsideInventory: f.outsideInventory,
  known: null,
  ...(c.subject ? { subject: c.subject } : {}),
  ...(cluster ? { cluster } : {}),
});

export function decideRegisterAll(f: RegisterAllFacts): RegisterAllDecision {
  if (f.candidates.length === 0) return { kind: 'noop', registered: f.registered };
  if (!f.cluster) throw new Error('register-host --all: the plan decided on incomplete facts');
  const cluster = f.cluster;
  const accepted: Accepted[] = [];
  const leftOut: LeftOut[] = [];
  for (const c of f.candidates) {
    const d = registerSoFar(candidateFacts(c, f, cluster));
    if (d === undefined) throw new Error(`register-host --all: ${c.host.name} decided on incomplete facts`);
    if (d.kind === 'refuse') {
      leftOut.push({ host: c.host, id: c.id, refusal: d });
      continue;
    }
    const { probe, state } = d;
    if (!state.flexvdiPub) throw new Error(`register-host --all: ${c.host.name} went without a flexvdi key`);
    accepted.push({
      host: c.host,
      id: c.id,
      probe,
      state,
      hostKey: keyOfProbe(probe),
      flexvdiKey: state.flexvdiPub.key,
      bridges: d.preview.bridges.summary,
    });
  }
  if (accepted.length === 0) return { kind: 'refuse', code: C.noneRegistrable, leftOut };
  // No registered Host answered: the accepted Hosts' bridges are compared among themselves (see above).
  const [first, ...rest] = accepted;
  if (first && !cluster.others.some((h) => cluster.states.has(h.name))) {
    const differences = rest
      .map((a) => ({
        host: a.host.name,
        lines: compareBridges(a.host.name, a.state.bridges, first.host.name, first.state.bridges),
      }))
      .filter((d) => d.lines.length > 0);
    if (differences.length)
      return { kind: 'refuse', code: C.bridgesDisagree, reference: first.host.name, differences, leftOut };
    for (const a of rest)
      a.bridges = md`same as on ${first.host.name}, the first Host of this plan (no registered Host answered to compare with)`;
  }
  return {
    kind: 'go',
    pinned: { hosts: accepted.map((a) => ({ name: a.host.name, hostKey: a.hostKey })) },
    accepted,
    leftOut,
    keys: keyPreview(accepted, cluster),
    unreachable: unreachableWarnings(cluster),
  };
}
