/**
 * The decision of `ocfs2 join`, as a pure function of the facts its plan gathers (the registered Hosts, the
 * first node's cluster.conf or every candidate's, what each target answers): refuse with a code, do nothing
 * (every target is in sync), or go with the file and the Hosts to pin. No I/O, so every rule is a unit test
 * (test/unit/plans-ocfs2.test.ts). The plan asks `joinSoFar` before reading the targets, and reads them only
 * when the source decides nothing yet.
 */
import type { InventoryHost } from '../../config.js';
import { decided, type Refusal, type Unresolved } from '../../core/plugin.js';
import type { Md } from '../../core/text.js';
import { ErrorCode, type Read } from '../../errors.js';
import { type ClusterModel, modelOf, sha256 } from './cluster-conf.js';
import { Ocfs2ErrorCode as C } from './errors.js';
import type { HostOcfs2, Ocfs2Files } from './host-ops.js';
import type { JoinPin } from './join-hosts.js';
import { type Standing, standingOf } from './membership.js';
import { type O2cbTimeouts, timeoutsOf } from './o2cb-settings.js';

/** Where the cluster.conf comes from: the `--first-node` Host, or what the registered Hosts hold. */
export type SourceFacts =
  | {
      kind: 'named';
      /** The `--first-node` IP, and the inventory Host with it (null: none) with what it answered. */
      ip: string;
      found: { host: InventoryHost; read: Read<Ocfs2Files> } | null;
    }
  | {
      kind: 'agreed';
      /** Every registered Host asked (but the one joining, for a single Host), in inventory order. */
      answers: { host: InventoryHost; read: Read<Ocfs2Files> }[];
    };

export interface JoinFacts {
  kind: 'hosts';
  /** `--all`: every registered Host; else the one Host named. */
  all: boolean;
  from: 'manager' | 'inventory';
  targets: InventoryHost[];
  source: SourceFacts;
  /** What each target answered, in target order; absent when not read. */
  nodes?: { host: InventoryHost; read: Read<HostOcfs2> }[];
}

/** The file to copy, from which Host, with that Host's o2cb settings. */
export interface Source {
  host: InventoryHost;
  conf: string;
  settings: string | null;
}

export type Row = { host: InventoryHost; standing: Standing | { kind: 'unreachable'; reason: string } };

/** What every plan past the source shows: the cluster, its timeouts, and where each target stands. */
export interface JoinView {
  source: Source;
  cluster: ClusterModel;
  timeouts: O2cbTimeouts;
  rows: Row[];
}

export type JoinDecision =
  | Refusal<typeof ErrorCode.inventoryUnknownHost, { reason: string }>
  | Refusal<typeof C.firstNodeUnknown, { ip: string }>
  | Refusal<typeof C.firstNodeUnreadable, { host: string; error: string }>
  | Refusal<typeof C.firstNodeNoConf, { host: InventoryHost }>
  | Refusal<typeof C.noCluster, { single: boolean; down: string[] }>
  | Refusal<typeof C.confsDiffer, { groups: { hosts: string[]; sha256: string }[] }>
  | Refusal<typeof C.invalidSourceConf, { source: string; problems: Md[] }>
  | Refusal<typeof C.nodeNotListed | typeof C.clusterOnline, { reason: Md; view: JoinView }>
  | Refusal<typeof C.unreadable, { host: string; error: string }>
  | { kind: 'noop'; view: JoinView }
  | { kind: 'go'; pinned: JoinPin; view: JoinView; skipped: string[] };

type SourceRefusal = Extract<JoinDecision, { code: `ocfs2.${string}` }>;

/** The first node's file, or the one file the asked Hosts agree on (the first such Host in inventory order). */
function sourceOf(s: SourceFacts, single: boolean): Source | SourceRefusal {
  if (s.kind === 'named') {
    if (!s.found) return { kind: 'refuse', code: C.firstNodeUnknown, ip: s.ip };
    const { host, read } = s.found;
    if (!read.ok) return { kind: 'refuse', code: C.firstNodeUnreadable, host: host.name, error: read.error };
    if (read.value.conf === null) return { kind: 'refuse', code: C.firstNodeNoConf, host };
    return { host, conf: read.value.conf, settings: read.value.settings };
  }
  const byConf = new Map<string, Source & { hosts: string[] }>();
  for (const { host, read } of s.answers) {
    if (!read.ok || read.value.conf === null) continue;
    const k = sha256(read.value.conf);
    const e = byConf.get(k) ?? { host, conf: read.value.conf, settings: read.value.settings, hosts: [] };
    e.hosts.push(host.name);
    byConf.set(k, e);
  }
  const groups = [...byConf.entries()];
  const [first] = groups;
  if (!first) {
    const down = s.answers.filter((a) => !a.read.ok).map((a) => a.host.name);
    return { kind: 'refuse', code: C.noCluster, single, down };
  }
  if (groups.length > 1)
    return {
      kind: 'refuse',
      code: C.confsDiffer,
      groups: groups.map(([k, v]) => ({ hosts: v.hosts, sha256: k })),
    };
  const [, { host, conf, settings }] = first;
  return { host, conf, settings };
}

/** The decision the facts gathered so far force, or undefined while the targets are not read yet. */
export function joinSoFar(f: JoinFacts | Unresolved): JoinDecision | undefined {
  if (f.kind === 'unresolved')
    return { kind: 'refuse', code: ErrorCode.inventoryUnknownHost, reason: f.reason };
  const source = sourceOf(f.source, !f.all);
  if ('kind' in source) return source;
  const model = modelOf(source.conf);
  if (!model.model || model.problems.length)
    return { kind: 'refuse', code: C.invalidSourceConf, source: source.host.name, problems: model.problems };
  if (!f.nodes) return undefined;
  const cluster = model.model;
  const timeouts = timeoutsOf(source.settings);
  const rows: Row[] = f.nodes.map(({ host, read }) => ({
    host,
    standing: read.ok
      ? standingOf(cluster, source.conf, timeouts, host, read.value, source.host.name)
      : { kind: 'unreachable', reason: read.error },
  }));
  const view = { source, cluster, timeouts, rows };
  const [only] = rows;
  if (!f.all && only) {
    const s = only.standing;
    if (s.kind === 'not-listed') return { kind: 'refuse', code: C.nodeNotListed, reason: s.reason, view };
    if (s.kind === 'blocked') return { kind: 'refuse', code: C.clusterOnline, reason: s.reason, view };
    if (s.kind === 'unreachable')
      return { kind: 'refuse', code: C.unreadable, host: only.host.name, error: s.reason };
  }
  const go = rows.filter((r) => r.standing.kind === 'join' || r.standing.kind === 'unreachable');
  if (!go.length) return { kind: 'noop', view };
  const pinned: JoinPin = {
    source: source.host.name,
    conf: source.conf,
    cluster: cluster.name,
    timeouts,
    targets: go.map((r) => r.host.name),
  };
  const skipped = rows
    .filter((r) => r.standing.kind === 'not-listed' || r.standing.kind === 'blocked')
    .map((r) => r.host.name);
  return { kind: 'go', pinned, view, skipped };
}

export const decideJoin = (f: JoinFacts | Unresolved): JoinDecision => decided(joinSoFar(f), 'ocfs2 join');
