/**
 * The decision of `ocfs2 first-node`, as a pure function of the facts its plan gathers (the registered Hosts,
 * the inventory, what the first node answers): refuse with a code, do nothing, or go with the exact
 * cluster.conf to pin. No I/O, so every rule is a unit test (test/unit/plans-ocfs2.test.ts). The plan asks
 * `firstNodeSoFar` before reading the Host, and reads it only when the facts so far decide nothing.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import { decided, type Refusal, type Unresolved } from '../../core/plugin.js';
import type { Md } from '../../core/text.js';
import { ErrorCode, type Read } from '../../errors.js';
import { type Reservation, reservationsOf } from './args.js';
import {
  type ClusterModel,
  nodeForHostname,
  renderClusterConf,
  sha256,
  validateCluster,
} from './cluster-conf.js';
import { Ocfs2ErrorCode as C } from './errors.js';
import { expectedSchema, type HostOcfs2, pinnedConfIsValid } from './host-ops.js';
import { clusterOf, defaultClusterName, type PlannedNode, planNodes, reservationProblems } from './nodes.js';
import { settingsStateOf, timeoutsOf } from './o2cb-settings.js';

/** Max nodes when not given: room for a few more Hosts than listed, at least 8 (mkfs.ocfs2's usual slots). */
export const DEFAULT_MIN_MAX_NODES = 8;

/** What the confirmed cluster summary pins: the exact file, and what the steps and the result need. */
export const firstNodePinSchema = expectedSchema
  .extend({
    /** The first node (inventory name). */
    host: z.string(),
    /** sha256 of the Host's cluster.conf when planned (null: none), so a file changed since is not overwritten. */
    before: z.string().nullable(),
    settingsPath: z.string(),
    maxNodes: z.number().int().min(1),
    nodes: z.number().int().min(1),
    reserved: z.number().int().min(0),
  })
  .superRefine(pinnedConfIsValid);
export type FirstNodePin = z.output<typeof firstNodePinSchema>;

export interface FirstNodeFacts {
  kind: 'host';
  host: InventoryHost;
  /** The registered Hosts, in inventory order (every inventory Host when the Manager did not answer). */
  registered: InventoryHost[];
  from: 'manager' | 'inventory';
  /** Every inventory Host: a reserved slot must not take another one's name or IP. */
  inventory: readonly InventoryHost[];
  /** The inventory's cluster name, which the default OCFS2 cluster name is made from. */
  inventoryCluster: string;
  /** The first node's OCFS2 files and what it answers as; absent when not read. */
  node?: Read<HostOcfs2>;
}

export interface FirstNodeArgs {
  maxNodes?: number | undefined;
  clusterName?: string | undefined;
  reserve?: string | undefined;
  force: boolean;
}

/** The cluster the arguments and the registered Hosts make: nodes, max nodes, the model. */
export interface PlannedCluster {
  name: string;
  reserved: Reservation[];
  nodes: PlannedNode[];
  maxNodes: number;
  cluster: ClusterModel;
}

/** The Host's cluster.conf and the planned one, when they differ (shown as a diff). */
export interface ConfChange {
  current: string;
  planned: string;
}

export type FirstNodeDecision =
  | Refusal<typeof ErrorCode.inventoryUnknownHost, { reason: string }>
  | Refusal<typeof C.notRegistered>
  | Refusal<typeof C.invalidCluster, { planned: PlannedCluster; problems: Md[] }>
  | Refusal<typeof C.unreadable, { error: string }>
  | Refusal<typeof C.hostnameMismatch, { hostname: string; node0: string }>
  | Refusal<typeof C.ipNotCarried, { addresses: string[] }>
  | Refusal<typeof C.clusterOnline, { online: string; change: ConfChange | null }>
  | Refusal<typeof C.confDiffers | typeof C.forceNeedsAdmin, { change: ConfChange }>
  | { kind: 'noop'; name: string }
  | { kind: 'go'; pinned: FirstNodePin; planned: PlannedCluster; change: ConfChange | null };

/** The cluster's name: as given, else made from the inventory's cluster name. */
export const clusterNameOf = (a: FirstNodeArgs, inventoryCluster: string): string =>
  a.clusterName ?? defaultClusterName(inventoryCluster);

function plannedCluster(f: FirstNodeFacts, a: FirstNodeArgs): PlannedCluster {
  const reserved = reservationsOf(a.reserve);
  const name = clusterNameOf(a, f.inventoryCluster);
  const nodes = planNodes(f.host, f.registered, reserved);
  const maxNodes = a.maxNodes ?? Math.max(nodes.length, DEFAULT_MIN_MAX_NODES);
  return { name, reserved, nodes, maxNodes, cluster: clusterOf(name, nodes) };
}

/** The decision the facts gathered so far force, or undefined while the Host is not read yet. */
export function firstNodeSoFar(
  f: FirstNodeFacts | Unresolved,
  a: FirstNodeArgs,
  isAdmin: boolean,
): FirstNodeDecision | undefined {
  if (f.kind === 'unresolved')
    return { kind: 'refuse', code: ErrorCode.inventoryUnknownHost, reason: f.reason };
  const h = f.host;
  if (f.from === 'manager' && !f.registered.some((r) => r.name === h.name))
    return { kind: 'refuse', code: C.notRegistered };
  const planned = plannedCluster(f, a);
  const { name, nodes, maxNodes, cluster } = planned;
  const problems = [
    ...validateCluster(cluster, maxNodes),
    ...reservationProblems(f.inventory, planned.reserved),
  ];
  if (problems.length) return { kind: 'refuse', code: C.invalidCluster, planned, problems };
  if (!f.node) return undefined;
  if (!f.node.ok) return { kind: 'refuse', code: C.unreadable, error: f.node.error };
  const state = f.node.value;
  if (nodeForHostname(cluster, state.hostname)?.number !== 0)
    return {
      kind: 'refuse',
      code: C.hostnameMismatch,
      hostname: state.hostname,
      node0: nodes[0]?.name ?? '',
    };
  if (!state.addresses.includes(h.ip))
    return { kind: 'refuse', code: C.ipNotCarried, addresses: state.addresses };
  const conf = renderClusterConf(cluster);
  const current = state.conf;
  const change = current !== null && current !== conf ? { current, planned: conf } : null;
  if (state.online && (change || state.online !== name))
    return { kind: 'refuse', code: C.clusterOnline, online: state.online, change };
  if (change && !a.force) return { kind: 'refuse', code: C.confDiffers, change };
  if (change && !isAdmin) return { kind: 'refuse', code: C.forceNeedsAdmin, change };
  const settings = settingsStateOf(state.settings);
  if (
    !change &&
    current !== null &&
    state.online === name &&
    settings.enabled &&
    settings.bootCluster === name
  )
    return { kind: 'noop', name };
  const pinned: FirstNodePin = {
    host: h.name,
    conf,
    cluster: name,
    timeouts: timeoutsOf(state.settings),
    before: current === null ? null : sha256(current),
    settingsPath: state.settingsPath,
    maxNodes,
    nodes: nodes.length,
    reserved: planned.reserved.length,
  };
  return { kind: 'go', pinned, planned, change };
}

export const decideFirstNode = (
  f: FirstNodeFacts | Unresolved,
  a: FirstNodeArgs,
  isAdmin: boolean,
): FirstNodeDecision => decided(firstNodeSoFar(f, a, isAdmin), 'ocfs2 first-node');
