/**
 * The decisions of register-host and replace-host, as pure functions of the facts their plans gather (the
 * Host's key probe, the Manager's record, what the Host and the other registered Hosts answer): refuse with
 * a code, do nothing, or go with the host key to pin. No I/O, so every rule is a unit test
 * (test/unit/plans-registration.test.ts).
 *
 * A plan gathers in stages and stops as soon as the facts so far decide (`…SoFar` gives a decision once
 * they do): a Host that does not answer SSH, or presents another key than the pinned one, is read no
 * further. A fact that was not gathered is absent; the rules that need it wait for it.
 */
import type { InventoryHost } from '../../config.js';
import { decided, type HostRole, type Refusal, type Unresolved } from '../../core/plugin.js';
import type { Md } from '../../core/text.js';
import { ErrorCode, type Read } from '../../errors.js';
import type { HostInfo } from '../../manager/index.js';
import type { HostKeyProbe } from '../../ssh/index.js';
import { type ClusterFacts, type ClusterPreview, previewCluster } from './cluster-preview.js';
import { RegistrationErrorCode as C } from './errors.js';
import { type HostState, hostnameMatches } from './host-state.js';
import { keyId, keyOfProbe, type PublicKey } from './key-files.js';

type Unknown = Refusal<typeof ErrorCode.inventoryUnknownHost, { reason: string }>;

/** The subject's host key as the Manager records it (`type base64`, no comment) differs from `probe`'s. */
const managerKeyDiffers = (known: HostInfo, probe: HostKeyProbe): boolean =>
  !!known.sshServerKey && known.sshServerKey.split(/\s+/).slice(0, 2).join(' ') !== keyId(keyOfProbe(probe));

type BridgesDiffer = Refusal<typeof C.bridgesDiffer, { reference: string; differences: Md[] }>;
const bridgesDiffer = (p: { reference: string; differences: Md[] }): BridgesDiffer => ({
  kind: 'refuse',
  code: C.bridgesDiffer,
  reference: p.reference,
  differences: p.differences,
});

// ------------------------------------------------------------------------------------------ register-host

export interface RegisterFacts {
  kind: 'host';
  host: InventoryHost;
  /** The Manager's id of the Host. */
  id: string;
  probe: Read<HostKeyProbe>;
  /** The registered Hosts, in inventory order. */
  registered: InventoryHost[];
  /** Ids the Manager lists that are not in the inventory. */
  outsideInventory: string[];
  /** The Manager's record of the Host; null when it does not list it. */
  known?: HostInfo | null;
  subject?: Read<HostState>;
  cluster?: ClusterFacts;
}

/** What a plan that goes, or has nothing to do, shows. */
export interface RegisterReady {
  probe: HostKeyProbe;
  state: HostState;
  known: HostInfo | null;
  preview: ClusterPreview;
}

export type RegisterDecision =
  | Unknown
  | Refusal<typeof C.unreachable, { error: string }>
  | Refusal<typeof C.hostkeyMismatch, { fingerprint: string }>
  | Refusal<typeof C.managerKeyDiffers, { fingerprint: string }>
  | Refusal<typeof C.unreadable, { error: string }>
  | Refusal<typeof C.hostnameMismatch, { state: HostState }>
  | Refusal<typeof C.noFlexvdiKey, { userExists: boolean }>
  | BridgesDiffer
  | ({ kind: 'noop' } & RegisterReady)
  | ({ kind: 'go'; pinned: { hostKey: PublicKey } } & RegisterReady);

/** The decision the facts gathered so far force, or undefined while a fact a rule needs is missing. */
export function registerSoFar(f: RegisterFacts | Unresolved): RegisterDecision | undefined {
  if (f.kind === 'unresolved')
    return { kind: 'refuse', code: ErrorCode.inventoryUnknownHost, reason: f.reason };
  if (!f.probe.ok) return { kind: 'refuse', code: C.unreachable, error: f.probe.error };
  const probe = f.probe.value;
  if (probe.pinned === 'mismatch')
    return { kind: 'refuse', code: C.hostkeyMismatch, fingerprint: probe.fingerprint };
  if (f.known === undefined) return undefined;
  const known = f.known;
  if (known && managerKeyDiffers(known, probe))
    return { kind: 'refuse', code: C.managerKeyDiffers, fingerprint: probe.fingerprint };
  if (!f.subject) return undefined;
  if (!f.subject.ok) return { kind: 'refuse', code: C.unreadable, error: f.subject.error };
  const state = f.subject.value;
  if (!hostnameMatches(state, f.host.fqdn)) return { kind: 'refuse', code: C.hostnameMismatch, state };
  if (!state.flexvdiPub) return { kind: 'refuse', code: C.noFlexvdiKey, userExists: state.home !== '' };
  if (!f.cluster) return undefined;
  const hostKey = keyOfProbe(probe);
  const subject = { host: f.host, state, hostKey, flexvdiKey: state.flexvdiPub.key };
  const preview = previewCluster(subject, f.cluster);
  if (!preview.ok) return bridgesDiffer(preview);
  const ready = { probe, state, known, preview: preview.value };
  if (known && probe.pinned === 'match' && preview.value.keys.inSync) return { kind: 'noop', ...ready };
  return { kind: 'go', pinned: { hostKey }, ...ready };
}

export const decideRegister = (f: RegisterFacts | Unresolved): RegisterDecision =>
  decided(registerSoFar(f), 'register-host');

// ------------------------------------------------------------------------------------------- replace-host

export interface ReplaceFacts {
  kind: 'host';
  /** The Host as given. */
  asked: string;
  host: InventoryHost;
  id: string;
  /** The IP given with the command, if one was. */
  givenIp: string | undefined;
  /** The Manager's record of the Host; null when it does not know it. */
  known?: HostInfo | null;
  probe?: Read<HostKeyProbe>;
  /** The host keys the product pins for the Host now: the failed machine's. */
  oldKeys?: PublicKey[];
  subject?: Read<HostState>;
  cluster?: ClusterFacts;
  /** What the old Host did for each plugin. */
  roles?: HostRole[];
}

export interface ReplaceOptions {
  force: boolean;
  isAdmin: boolean;
}

/** Why the old Host looks alive: its address still presents the pinned key; the Manager still hears it. */
export interface Alive {
  pinnedKey: boolean;
  heartbeat: boolean;
}

/** Manager states that mean a recent heartbeat: the old Host (or its agent) is still alive. */
const ALIVE: ReadonlySet<string> = new Set(['running', 'stopped', 'incompatible']);

export interface ReplaceReady {
  probe: HostKeyProbe;
  known: HostInfo;
  alive: Alive;
  oldKeys: PublicKey[];
  state: HostState;
  preview: ClusterPreview;
}

export type ReplaceDecision =
  | Unknown
  | Refusal<typeof C.ipDiffers, { expected: string; given: string }>
  | Refusal<typeof C.notRegistered>
  | Refusal<typeof C.unreachable, { error: string }>
  | Refusal<typeof C.hostAlive, { alive: Alive; probe: HostKeyProbe; known: HostInfo }>
  | Refusal<typeof C.forceNeedsAdmin>
  | Refusal<typeof C.unreadable, { error: string }>
  | Refusal<typeof C.hostnameMismatch, { state: HostState }>
  | Refusal<typeof C.ipNotCarried, { addresses: string[] }>
  | Refusal<typeof C.noFlexvdiKey>
  | BridgesDiffer
  | ({ kind: 'go'; pinned: { hostKey: PublicKey; roles: HostRole[] } } & ReplaceReady);

export function replaceSoFar(f: ReplaceFacts | Unresolved, o: ReplaceOptions): ReplaceDecision | undefined {
  if (f.kind === 'unresolved')
    return { kind: 'refuse', code: ErrorCode.inventoryUnknownHost, reason: f.reason };
  const h = f.host;
  if (f.givenIp !== undefined && f.givenIp !== h.ip)
    return { kind: 'refuse', code: C.ipDiffers, expected: h.ip, given: f.givenIp };
  if (f.known === undefined) return undefined;
  const known = f.known;
  if (!known) return { kind: 'refuse', code: C.notRegistered };
  if (!f.probe) return undefined;
  if (!f.probe.ok) return { kind: 'refuse', code: C.unreachable, error: f.probe.error };
  const probe = f.probe.value;
  const alive = { pinnedKey: probe.pinned === 'match', heartbeat: ALIVE.has(known.status) };
  const looksAlive = alive.pinnedKey || alive.heartbeat;
  if (looksAlive && !o.force) return { kind: 'refuse', code: C.hostAlive, alive, probe, known };
  if (looksAlive && !o.isAdmin) return { kind: 'refuse', code: C.forceNeedsAdmin };
  if (!f.subject || !f.oldKeys) return undefined;
  if (!f.subject.ok) return { kind: 'refuse', code: C.unreadable, error: f.subject.error };
  const state = f.subject.value;
  if (!hostnameMatches(state, h.fqdn)) return { kind: 'refuse', code: C.hostnameMismatch, state };
  if (!state.addresses.some((a) => a.address === h.ip)) {
    const addresses = state.addresses.filter((a) => a.ifname !== 'lo').map((a) => a.address);
    return { kind: 'refuse', code: C.ipNotCarried, addresses };
  }
  if (!state.flexvdiPub) return { kind: 'refuse', code: C.noFlexvdiKey };
  if (!f.cluster) return undefined;
  const hostKey = keyOfProbe(probe);
  const preview = previewCluster({ host: h, state, hostKey, flexvdiKey: state.flexvdiPub.key }, f.cluster);
  if (!preview.ok) return bridgesDiffer(preview);
  if (!f.roles) return undefined;
  const ready = { probe, known, alive, oldKeys: f.oldKeys, state, preview: preview.value };
  return { kind: 'go', pinned: { hostKey, roles: f.roles }, ...ready };
}

export const decideReplace = (f: ReplaceFacts | Unresolved, o: ReplaceOptions): ReplaceDecision =>
  decided(replaceSoFar(f, o), 'replace-host');
