/**
 * The rest of the cluster as a subject Host would join it (register-host, replace-host), computed from facts
 * gathered at plan time (preflight.ts): the subject's bridges against the first registered Host that
 * answered, and what the key exchange would change on each Host. Pure: no I/O, so every rule is a unit test.
 */
import type { InventoryHost } from '../../config.js';
import type { Plan, Section } from '../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../core/text.js';
import { type Bridges, compareBridges } from './bridges.js';
import type { HostState } from './host-state.js';
import { fingerprintOf, type PublicKey } from './key-files.js';
import { describeDrift, driftOf, memberOf } from './members.js';

/** The registered Hosts other than the subject, as read at plan time. */
export interface ClusterFacts {
  /** In inventory order. */
  others: InventoryHost[];
  /** What each one answered, by inventory name. */
  states: ReadonlyMap<string, HostState>;
  /** Why a Host did not answer (its error's user message), by inventory name. */
  errors: ReadonlyMap<string, string>;
  /** The host keys the product pins for each one, by inventory name. */
  pins: ReadonlyMap<string, PublicKey[]>;
}

/** The subject as the preview needs it: its state, the host key it would be pinned with, its flexvdi key. */
export interface PreviewSubject {
  host: InventoryHost;
  state: HostState;
  hostKey: PublicKey;
  flexvdiKey: PublicKey;
}

export interface BridgeCheck {
  reference: string | undefined;
  differences: Md[];
  summary: Md;
}

/** Bridge differences against the first registered Host that answered; empty when none to compare. */
function bridgeCheck(subject: string, mine: Bridges, c: ClusterFacts): BridgeCheck {
  const ref = c.others.find((h) => c.states.has(h.name));
  const theirs = ref && c.states.get(ref.name)?.bridges;
  if (!ref || !theirs)
    return {
      reference: undefined,
      differences: [],
      summary: md`no registered Host answered to compare with`,
    };
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

/**
 * What the key exchange will change on each Host, the subjects (one for register-host <host>, each Host to
 * register for --all) with their planned host keys.
 */
export function keyPreview(subjects: readonly PreviewSubject[], c: ClusterFacts): KeyPreview {
  const members = [
    ...c.others.map((h) =>
      memberOf(h, c.states.get(h.name)?.flexvdiPub?.key ?? null, c.pins.get(h.name) ?? []),
    ),
    ...subjects.map((s) => memberOf(s.host, s.state.flexvdiPub?.key ?? null, [s.hostKey])),
  ];
  const lines: Md[] = [];
  let inSync = true;
  for (const h of [...c.others, ...subjects.map((s) => s.host)]) {
    const state = subjects.find((s) => s.host.name === h.name)?.state ?? c.states.get(h.name);
    if (!state) {
      const why = c.errors.get(h.name);
      lines.push(md`• *${h.name}*: unreachable now — ${why ? prose(why) : 'not read'}`);
      inSync = false;
      continue;
    }
    const d = driftOf(state, members);
    if (!d.inSync) inSync = false;
    lines.push(md`• *${h.name}*: ${d.inSync ? md`already in sync` : describeDrift(d)}`);
  }
  return { lines, inSync };
}

/** The rest of the cluster as the subject would join it: bridges compared, key changes previewed. */
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

/** The bridge differences (with the Host compared against), or the preview when the bridges agree. */
export type PreviewOutcome =
  | { ok: false; reference: string; differences: Md[] }
  | { ok: true; value: ClusterPreview };

export function previewCluster(s: PreviewSubject, c: ClusterFacts): PreviewOutcome {
  const bridges = bridgeCheck(s.host.name, s.state.bridges, c);
  if (bridges.differences.length)
    return { ok: false, reference: bridges.reference ?? '', differences: bridges.differences };
  const keys = keyPreview([s], c);
  return {
    ok: true,
    value: {
      others: c.others,
      bridges,
      keys,
      bridgeLine: md`• Bridges: ${bridges.summary}`,
      keyLine: md`• flexvdi user key: ${fingerprintOf(s.flexvdiKey)}`,
      keysSection: { title: md`SSH keys (${c.others.length + 1} Hosts)`, lines: keys.lines },
      unreachable: unreachableWarnings(c),
    },
  };
}

/** One warning per registered Host that did not answer: the key exchange will stop on it. */
export const unreachableWarnings = (c: ClusterFacts): Md[] =>
  [...c.errors.entries()].map(
    ([n, e]) =>
      md`${n} does not answer (${prose(e)}). Its keys cannot be updated now: the job will stop on it, and \`/flexvdi retry\` finishes it once it is back.`,
  );

/** The refusal when the subject's bridges differ; `label` names the subject in it. */
export function bridgesRefused(
  what: Md,
  label: Md,
  reference: string,
  differences: readonly Md[],
): Plan<never> {
  return {
    summary: what,
    sections: [{ title: md`Bridge differences`, lines: differences.map((d) => md`• ${d}`) }],
    warnings: [],
    refused: md`The virtual bridges of ${label} differ from ${reference}'s; guests could not move between them.`,
  };
}
