/**
 * `/flexvdi ocfs2 first-node <host> [--max-nodes N] [--cluster-name NAME] [--reserve name=ip,…] [--force]`:
 * the seed's "first node" procedure. The plan is the cluster summary (name, heartbeat mode, max nodes, every
 * node with its number, name, IP, port and "reserved" marker, o2cb timeouts) with Confirm, Edit and Cancel.
 * The exact cluster.conf text confirmed is pinned; on Confirm it is written to the first node (atomic, the
 * previous file kept as a timestamped backup), the o2cb settings get the same timeouts and enable the
 * cluster at boot, o2cb comes online, and the real `o2cb list-cluster` reads back exactly what was planned.
 *
 * Node list: the registered Hosts (the first node is node 0, the others follow in inventory order), then the
 * reserved slots. A Host that already has a different cluster.conf is refused unless an admin gives
 * `--force` (the diff is shown); one with o2cb online under another configuration is always refused.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { findHost, type Plan, type PlanEdit, type Section, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md, prose, text } from '../../../core/text.js';
import { AppError, asAppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import {
  clusterNameArg,
  hostArg,
  maxNodesArg,
  type Reservation,
  reservationsOf,
  reserveArg,
} from '../args.js';
import {
  CLUSTER_CONF,
  diffLines,
  nodeForHostname,
  renderClusterConf,
  sha256,
  validateCluster,
} from '../cluster-conf.js';
import { command, type Ocfs2Deps, step } from '../define.js';
import { Ocfs2ErrorCode } from '../errors.js';
import {
  bringOnline,
  expectedSchema,
  inspectNode,
  installConf,
  installSettings,
  pinnedConfIsValid,
  verifiedSchema,
  verifyHost,
  writeOutcomeSchema,
} from '../host-ops.js';
import { clusterOf, defaultClusterName, planNodes, reservationProblems } from '../nodes.js';
import { settingsStateOf, timeoutsOf } from '../o2cb-settings.js';
import { headroomAdvice, nodeLines, summarySections } from '../summary.js';

const args = z
  .object({
    host: hostArg,
    maxNodes: maxNodesArg.optional(),
    clusterName: clusterNameArg.optional(),
    reserve: reserveArg.optional(),
    force: z.boolean().default(false),
  })
  .strict();
type Args = z.output<typeof args>;

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

type Ctx = StepContext<Args, FirstNodePin, Ocfs2Deps>;

const refuse = (summary: Md, refused: Md, extra: Partial<Plan<FirstNodePin>> = {}): Plan<FirstNodePin> => ({
  summary,
  sections: [],
  warnings: [],
  refused,
  ...extra,
});

/** The first node, as pinned: still in the inventory (it is refused at plan time otherwise). */
function subject(ctx: Ctx) {
  const p = ctx.pinned;
  const h = findHost(ctx.services.config, p.host);
  if (!h)
    throw new AppError(Ocfs2ErrorCode.changedSincePlan, `${p.host} left the inventory after the plan`, {
      userMessage: `${p.host} is no longer in the inventory: run the command again for a fresh plan.`,
    });
  return { ssh: ctx.services.ssh, p, t: targetOf(h) };
}

const writeConf = step({
  id: 'write-conf',
  title: `Write ${CLUSTER_CONF} on the first node`,
  output: writeOutcomeSchema,
  run: async (ctx: Ctx) => {
    const { ssh, p, t } = subject(ctx);
    ctx.progress.host(p.host, 'running', 'writing cluster.conf');
    const r = await installConf(ssh, t, p.conf, ctx.signal, p.before);
    ctx.progress.host(
      p.host,
      'running',
      r.changed ? `cluster.conf written${r.backup ? ', backup kept' : ''}` : 'cluster.conf already in place',
    );
    return r;
  },
});

const writeSettings = step({
  id: 'write-settings',
  title: 'Write the o2cb settings (timeouts, enabled at boot)',
  output: writeOutcomeSchema,
  run: async (ctx: Ctx) => {
    const { ssh, p, t } = subject(ctx);
    return installSettings(ssh, t, p.settingsPath, p.cluster, p.timeouts, ctx.signal);
  },
});

const online = step({
  id: 'online',
  title: 'Bring o2cb online',
  output: z.object({ already: z.boolean() }),
  run: async (ctx: Ctx) => {
    const { ssh, p, t } = subject(ctx);
    ctx.progress.host(p.host, 'running', 'bringing o2cb online');
    const r = await bringOnline(ssh, t, p.cluster, ctx.signal);
    return { already: r.already };
  },
});

const verify = step({
  id: 'verify',
  title: 'Read back with o2cb list-cluster',
  output: verifiedSchema,
  run: async (ctx: Ctx) => {
    const { ssh, p, t } = subject(ctx);
    const r = await verifyHost(ssh, t, p, ctx.signal);
    ctx.progress.host(p.host, 'ok', `node 0 of ${p.cluster}, online, ${r.nodes} nodes read back`);
    return r;
  },
});

export const firstNodeCommand = command({
  id: 'ocfs2 first-node',
  summary: 'Create the OCFS2 cluster on its first node: cluster summary, then cluster.conf + o2cb online',
  examples: [
    '/flexvdi ocfs2 first-node host1',
    '/flexvdi ocfs2 first-node host1 --max-nodes 16 --cluster-name vdi --reserve host9=10.0.0.19,host10=10.0.0.20',
  ],
  args,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  pinned: firstNodePinSchema,
  locks: (a, config) => {
    const h = findHost(config, a.host);
    return h ? ['ocfs2', h] : ['ocfs2'];
  },
  plan: async (ctx): Promise<Plan<FirstNodePin>> => {
    const { config } = ctx.services;
    const { registration } = ctx.deps;
    const found = registration.resolveHost(ctx.args.host);
    if (!found.ok) return refuse(md`Create an OCFS2 cluster on \`${ctx.args.host}\``, prose(found.reason));
    const h = found.host;
    const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    if (reg.from === 'manager' && !reg.hosts.some((r) => r.name === h.name)) {
      return refuse(
        md`Create an OCFS2 cluster on *${h.name}*`,
        md`${h.name} is not registered with the Manager. Register it first: \`/flexvdi register-host ${h.fqdn}\`.`,
      );
    }
    const reserved = reservationsOf(ctx.args.reserve);
    const name = ctx.args.clusterName ?? defaultClusterName(config.inventory.cluster.name);
    const nodes = planNodes(h, reg.hosts, reserved);
    const maxNodes = ctx.args.maxNodes ?? Math.max(nodes.length, DEFAULT_MIN_MAX_NODES);
    const cluster = clusterOf(name, nodes);
    const what = md`Create OCFS2 cluster \`${name}\` on *${h.name}*`;
    const problems = [...validateCluster(cluster, maxNodes), ...reservationProblems(config, reserved)];
    if (problems.length) {
      return refuse(what, md`The cluster would not be valid: ${joinMd(problems, '; ')}.`, {
        sections: [{ title: md`Nodes (${nodes.length})`, lines: nodeLines(nodes) }],
      });
    }
    const state = await inspectNode(registration, ctx.services.ssh, h, ctx.signal).catch(asAppError);
    if (state instanceof Error) return refuse(what, md`Cannot read ${h.name}: ${prose(state.userMessage)}`);
    const self = nodeForHostname(cluster, state.hostname);
    if (self?.number !== 0) {
      return refuse(
        what,
        md`${h.name}'s hostname is \`${state.hostname}\`, which does not match node 0 \`${nodes[0]?.name ?? ''}\` (OCFS2 matches a node name to the hostname, or its part before the first "."). Set the Host's hostname to its FQDN \`${h.fqdn}\` first.`,
      );
    }
    if (!state.addresses.includes(h.ip))
      return refuse(
        what,
        md`${h.name} does not carry ${h.ip} (it has ${state.addresses.join(', ') || 'no IPv4'}).`,
      );
    const conf = renderClusterConf(cluster);
    const timeouts = timeoutsOf(state.settings);
    const current = state.conf;
    const differs = current !== null && current !== conf;
    const diff: Section[] = differs ? [diffSection(h, current, conf)] : [];
    if (state.online && (differs || state.online !== name)) {
      return refuse(
        what,
        md`o2cb is online on ${h.name} for cluster \`${state.online}\` with ${differs ? 'another' : 'this'} configuration: changing it needs the cluster offline. Unmount its OCFS2 volumes and run \`service o2cb offline\` there, then plan again.`,
        { sections: diff },
      );
    }
    if (differs && !(ctx.args.force && ctx.isAdmin)) {
      return refuse(
        what,
        md`${h.name} already has a different ${CLUSTER_CONF}. Replacing it changes the cluster for every node that uses it; ${ctx.args.force ? md`only an admin can use \`--force\`.` : md`if that is what you want, an admin can run the command again with \`--force\` (the old file is kept as a backup).`}`,
        { sections: diff },
      );
    }
    const settings = settingsStateOf(state.settings);
    if (
      !differs &&
      current !== null &&
      state.online === name &&
      settings.enabled &&
      settings.bootCluster === name
    ) {
      return {
        summary: md`${h.name} is already the first node of OCFS2 cluster \`${name}\`: same cluster.conf, o2cb online and enabled. Nothing to do.`,
        sections: [],
        warnings: [],
        noop: true,
      };
    }
    const sections = summarySections({
      cluster,
      nodes,
      maxNodes,
      timeouts,
      settingsPath: state.settingsPath,
      source: reg.note,
      confSha: sha256(conf),
    });
    const advice = headroomAdvice(nodes.length, maxNodes);
    const notListed = config.inventory.hosts.filter(
      (x) => !nodes.some((n) => n.host === x.name || n.ip === x.ip),
    );
    const listed = nodes.length - reserved.length;
    const them = notListed.length === 1 ? 'it' : 'them';
    return {
      summary: md`${what} (node 0): ${listed} node${listed === 1 ? '' : 's'} listed, ${reserved.length} reserved, max ${maxNodes}`,
      sections: [...sections, ...diff],
      warnings: [
        ...(reg.from === 'inventory' ? [md`Nodes come from ${reg.note}.`] : []),
        ...(advice ? [advice] : []),
        ...(notListed.length
          ? [
              md`Not in the cluster: ${notListed.map((x) => `${x.name} (${x.ip})`).join(', ')} — in the inventory but not registered. Reserve ${them} with Edit (\`name=ip\`) to let ${them} join later without the offline procedure.`,
            ]
          : []),
        ...(differs
          ? [
              md`--force: ${h.name}'s current ${CLUSTER_CONF} is replaced (backup kept). Every node must then join again with the new file.`,
            ]
          : []),
      ],
      pinned: {
        host: h.name,
        conf,
        cluster: name,
        timeouts,
        before: current === null ? null : sha256(current),
        settingsPath: state.settingsPath,
        maxNodes,
        nodes: nodes.length,
        reserved: reserved.length,
      },
      edit: editOf(name, maxNodes, reserved),
    };
  },
  steps: [writeConf, writeSettings, online, verify],
  result: (ctx) => {
    const p = ctx.pinned;
    const conf = ctx.result(writeConf);
    const settings = ctx.result(writeSettings);
    const read = ctx.result(verify);
    return {
      summary: md`OCFS2 cluster \`${p.cluster}\` created on *${p.host}* (node 0): ${p.nodes} nodes (${p.reserved} reserved), o2cb online; \`o2cb list-cluster\` reads back the planned cluster. Next: \`/flexvdi ocfs2 join --all\`.`,
      sections: [
        {
          title: md`First node`,
          lines: [
            md`• ${CLUSTER_CONF}: sha256 \`${read.sha256.slice(0, 12)}\`${conf.changed ? '' : ' (was already in place)'}${conf.backup ? md`, previous file kept as \`${conf.backup}\`` : md``}`,
            md`• ${p.settingsPath}: ${settings.changed ? 'updated' : 'already set'}${settings.backup ? md` (backup \`${settings.backup}\`)` : md``}`,
            md`• Max nodes: ${p.maxNodes} (use it for the volume's node slots: \`mkfs.ocfs2 -N ${p.maxNodes}\`)`,
          ],
        },
      ],
    };
  },
});

/** The Host's current cluster.conf against the planned one, as a code block. */
function diffSection(h: InventoryHost, current: string, planned: string): Section {
  return {
    title: md`Changes to ${h.name}'s current ${CLUSTER_CONF}`,
    lines: [md`\`\`\``, ...diffLines(current, planned).map(text), md`\`\`\``],
  };
}

function editOf(name: string, maxNodes: number, reserved: readonly Reservation[]): PlanEdit {
  return {
    title: 'Edit the OCFS2 cluster',
    fields: [
      {
        name: 'maxNodes',
        label: 'Max nodes',
        value: String(maxNodes),
        kind: 'number',
        hint: 'Nodes the cluster may ever have (1–255). Leave room: adding an unplanned node needs the cluster offline.',
      },
      {
        name: 'clusterName',
        label: 'Cluster name',
        value: name,
        hint: '1–16 letters or digits.',
      },
      {
        name: 'reserve',
        label: 'Reserved nodes',
        value: reserved.map((r) => `${r.name}=${r.ip}`).join('\n'),
        kind: 'list',
        optional: true,
        hint: 'One name=ip per line: Hosts you plan to add. Each joins later without touching the other nodes.',
      },
    ],
  };
}
