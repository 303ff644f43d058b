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
import { defineCommand, findHost, type Plan, type PlanEdit, type StepContext } from '../../../core/plugin.js';
import { asAppError } from '../../../errors.js';
import { servicesOf, targetOf } from '../../../services.js';
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
import {
  bringOnline,
  type Expected,
  inspectHost,
  installConf,
  installSettings,
  verifyHost,
  type WriteOutcome,
} from '../host-ops.js';
import { clusterOf, defaultClusterName, planNodes, registeredHosts, reservationProblems } from '../nodes.js';
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

export interface FirstNodePin extends Expected {
  host: string;
  /** sha256 of the Host's cluster.conf when planned (null: none), so a file changed since is not overwritten. */
  before: string | null;
  settingsPath: string;
  maxNodes: number;
  nodes: number;
  reserved: number;
}

const refuse = (summary: string, refused: string, extra: Partial<Plan> = {}): Plan => ({
  summary,
  sections: [],
  warnings: [],
  refused,
  ...extra,
});

export const firstNodeCommand = defineCommand({
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
  locks: (a) => ['ocfs2', a.host.toLowerCase()],
  plan: async (ctx): Promise<Plan> => {
    const { ssh, manager } = servicesOf(ctx.services.extra);
    const config = ctx.services.config;
    const h = findHost(config, ctx.args.host);
    if (!h) {
      return refuse(
        `Create an OCFS2 cluster on \`${ctx.args.host}\``,
        `\`${ctx.args.host}\` is not in the inventory (${config.inventoryPath}). Add the Host there first.`,
      );
    }
    const reg = await registeredHosts(config, manager);
    if (reg.from === 'manager' && !reg.hosts.some((r) => r.name === h.name)) {
      return refuse(
        `Create an OCFS2 cluster on *${h.name}*`,
        `${h.name} is not registered with the Manager. Register it first: \`/flexvdi register-host ${h.fqdn}\`.`,
      );
    }
    const reserved = reservationsOf(ctx.args.reserve);
    const name = ctx.args.clusterName ?? defaultClusterName(config.inventory.cluster.name);
    const nodes = planNodes(h, reg.hosts, reserved);
    const maxNodes = ctx.args.maxNodes ?? Math.max(nodes.length, DEFAULT_MIN_MAX_NODES);
    const cluster = clusterOf(name, nodes);
    const what = `Create OCFS2 cluster \`${name}\` on *${h.name}*`;
    const problems = [...validateCluster(cluster, maxNodes), ...reservationProblems(config, reserved)];
    if (problems.length) {
      return refuse(what, `The cluster would not be valid: ${problems.join('; ')}.`, {
        sections: [{ title: `Nodes (${nodes.length})`, lines: nodeLines(nodes) }],
      });
    }
    const state = await inspectHost(ssh, targetOf(h), ctx.signal).catch(asAppError);
    if (state instanceof Error) return refuse(what, `Cannot read ${h.name}: ${state.userMessage}`);
    const self = nodeForHostname(cluster, state.hostname);
    if (self?.number !== 0) {
      return refuse(
        what,
        `${h.name}'s hostname is \`${state.hostname}\`, which does not match node 0 \`${nodes[0]!.name}\` (OCFS2 matches a node name to the hostname, or its part before the first "."). Set the Host's hostname to its FQDN \`${h.fqdn}\` first.`,
      );
    }
    if (!state.addresses.includes(h.ip))
      return refuse(
        what,
        `${h.name} does not carry ${h.ip} (it has ${state.addresses.join(', ') || 'no IPv4'}).`,
      );
    const conf = renderClusterConf(cluster);
    const timeouts = timeoutsOf(state.settings);
    const differs = state.conf !== null && state.conf !== conf;
    const diff = differs
      ? [
          {
            title: `Changes to ${h.name}'s current ${CLUSTER_CONF}`,
            lines: ['```', ...diffLines(state.conf!, conf), '```'],
          },
        ]
      : [];
    if (state.online && (differs || state.online !== name)) {
      return refuse(
        what,
        `o2cb is online on ${h.name} for cluster \`${state.online}\` with ${differs ? 'another' : 'this'} configuration: changing it needs the cluster offline. Unmount its OCFS2 volumes and run \`service o2cb offline\` there, then plan again.`,
        { sections: diff },
      );
    }
    if (differs && !(ctx.args.force && ctx.isAdmin)) {
      return refuse(
        what,
        `${h.name} already has a different ${CLUSTER_CONF}. Replacing it changes the cluster for every node that uses it; ${ctx.args.force ? 'only an admin can use `--force`.' : 'if that is what you want, an admin can run the command again with `--force` (the old file is kept as a backup).'}`,
        { sections: diff },
      );
    }
    const settings = settingsStateOf(state.settings);
    if (
      !differs &&
      state.conf !== null &&
      state.online === name &&
      settings.enabled &&
      settings.bootCluster === name
    ) {
      return {
        summary: `${h.name} is already the first node of OCFS2 cluster \`${name}\`: same cluster.conf, o2cb online and enabled. Nothing to do.`,
        sections: [],
        warnings: [],
        noop: true,
      };
    }
    const source = reg.note;
    const sections = summarySections({
      cluster,
      nodes,
      maxNodes,
      timeouts,
      settingsPath: state.settingsPath,
      source,
      confSha: sha256(conf),
    });
    const advice = headroomAdvice(nodes.length, maxNodes);
    const notListed = config.inventory.hosts.filter(
      (x) => !nodes.some((n) => n.host === x.name || n.ip === x.ip),
    );
    const pin: FirstNodePin = {
      host: h.name,
      conf,
      cluster: name,
      timeouts,
      before: state.conf === null ? null : sha256(state.conf),
      settingsPath: state.settingsPath,
      maxNodes,
      nodes: nodes.length,
      reserved: reserved.length,
    };
    return {
      summary: `${what} (node 0): ${nodes.length - reserved.length} node${nodes.length - reserved.length === 1 ? '' : 's'} listed, ${reserved.length} reserved, max ${maxNodes}`,
      sections: [...sections, ...diff],
      warnings: [
        ...(reg.from === 'inventory' ? [`Nodes come from ${reg.note}.`] : []),
        ...(advice ? [advice] : []),
        ...(notListed.length
          ? [
              `Not in the cluster: ${notListed.map((x) => `${x.name} (${x.ip})`).join(', ')} — in the inventory but not registered. Reserve ${notListed.length === 1 ? 'it' : 'them'} with Edit (\`name=ip\`) to let ${notListed.length === 1 ? 'it' : 'them'} join later without the offline procedure.`,
            ]
          : []),
        ...(differs
          ? [
              `--force: ${h.name}'s current ${CLUSTER_CONF} is replaced (backup kept). Every node must then join again with the new file.`,
            ]
          : []),
      ],
      pinned: { firstNode: pin },
      edit: editOf(name, maxNodes, reserved),
    };
  },
  steps: [
    {
      id: 'write-conf',
      title: `Write ${CLUSTER_CONF} on the first node`,
      run: async (ctx): Promise<WriteOutcome> => {
        const { ssh, p, t } = subject(ctx);
        ctx.progress.host(p.host, 'running', 'writing cluster.conf');
        const r = await installConf(ssh, t, p.conf, ctx.signal, p.before);
        ctx.progress.host(
          p.host,
          'running',
          r.changed
            ? `cluster.conf written${r.backup ? ', backup kept' : ''}`
            : 'cluster.conf already in place',
        );
        return r;
      },
    },
    {
      id: 'write-settings',
      title: 'Write the o2cb settings (timeouts, enabled at boot)',
      run: async (ctx): Promise<WriteOutcome> => {
        const { ssh, p, t } = subject(ctx);
        return installSettings(ssh, t, p.settingsPath, p.cluster, p.timeouts, ctx.signal);
      },
    },
    {
      id: 'online',
      title: 'Bring o2cb online',
      run: async (ctx) => {
        const { ssh, p, t } = subject(ctx);
        ctx.progress.host(p.host, 'running', 'bringing o2cb online');
        const r = await bringOnline(ssh, t, p.cluster, ctx.signal);
        return { already: r.already };
      },
    },
    {
      id: 'verify',
      title: 'Read back with o2cb list-cluster',
      run: async (ctx) => {
        const { ssh, p, t } = subject(ctx);
        const r = await verifyHost(ssh, t, p, ctx.signal);
        ctx.progress.host(p.host, 'ok', `node 0 of ${p.cluster}, online, ${r.nodes} nodes read back`);
        return r;
      },
    },
  ],
  result: (ctx) => {
    const p = pinOf(ctx);
    const conf = ctx.results['write-conf'] as WriteOutcome;
    const settings = ctx.results['write-settings'] as WriteOutcome;
    const verify = ctx.results['verify'] as { nodes: number; sha256: string };
    return {
      summary:
        `OCFS2 cluster \`${p.cluster}\` created on *${p.host}* (node 0): ${p.nodes} nodes (${p.reserved} reserved), ` +
        `o2cb online; \`o2cb list-cluster\` reads back the planned cluster. Next: \`/flexvdi ocfs2 join --all\`.`,
      sections: [
        {
          title: 'First node',
          lines: [
            `• ${CLUSTER_CONF}: sha256 \`${verify.sha256.slice(0, 12)}\`${conf.changed ? '' : ' (was already in place)'}${conf.backup ? `, previous file kept as \`${conf.backup}\`` : ''}`,
            `• ${p.settingsPath}: ${settings.changed ? 'updated' : 'already set'}${settings.backup ? ` (backup \`${settings.backup}\`)` : ''}`,
            `• Max nodes: ${p.maxNodes} (use it for the volume's node slots: \`mkfs.ocfs2 -N ${p.maxNodes}\`)`,
          ],
        },
      ],
    };
  },
});

function pinOf(ctx: StepContext<Args>): FirstNodePin {
  return ctx.pinned['firstNode'] as FirstNodePin;
}

function subject(ctx: StepContext<Args>) {
  const p = pinOf(ctx);
  const h = findHost(ctx.services.config, p.host);
  if (!h) throw new Error(`${p.host} left the inventory after the plan`);
  return { ssh: servicesOf(ctx.services.extra).ssh, p, t: targetOf(h) };
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
