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
 *
 * Plan = gather → decide → render: `gather` reads the registered Hosts and the first node, `decideFirstNode`
 * (decide-first-node.ts, pure) refuses with a code, finds nothing to do, or pins the exact file, and `render`
 * writes the cluster summary.
 */
import { z } from 'zod';
import {
  findHost,
  type Plan,
  type PlanContext,
  type Section,
  type StepContext,
  type Unresolved,
} from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { AppError, ErrorCode, readOf } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { clusterNameArg, hostArg, maxNodesArg, reserveArg } from '../args.js';
import { CLUSTER_CONF, sha256 } from '../cluster-conf.js';
import {
  type ConfChange,
  clusterNameOf,
  decideFirstNode,
  type FirstNodeDecision,
  type FirstNodeFacts,
  type FirstNodePin,
  firstNodePinSchema,
  firstNodeSoFar,
} from '../decide-first-node.js';
import { command, type Ocfs2Deps, step } from '../define.js';
import { Ocfs2ErrorCode } from '../errors.js';
import {
  bringOnline,
  inspectNode,
  installConf,
  installSettings,
  verifiedSchema,
  verifyHost,
  writeOutcomeSchema,
} from '../host-ops.js';
import { diffSection, editOf, headroomAdvice, nodeLines, summarySections } from '../summary.js';

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
  // gather (I/O) → decide (pure, decide-first-node.ts) → render
  plan: async (ctx) => {
    const { facts, note } = await gather(ctx);
    return render(decideFirstNode(facts, ctx.args, ctx.isAdmin), facts, ctx.args, note);
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

/** The facts the decision needs, and where the node list came from (the registration plugin's note). */
async function gather(
  ctx: PlanContext<Args, Ocfs2Deps>,
): Promise<{ facts: FirstNodeFacts | Unresolved; note: Md }> {
  const { config } = ctx.services;
  const { registration } = ctx.deps;
  const found = registration.resolveHost(ctx.args.host);
  if (!found.ok)
    return { facts: { kind: 'unresolved', asked: ctx.args.host, reason: found.reason }, note: md`` };
  const h = found.host;
  const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
  const facts: FirstNodeFacts = {
    kind: 'host',
    host: h,
    registered: reg.hosts,
    from: reg.from,
    inventory: config.inventory.hosts,
    inventoryCluster: config.inventory.cluster.name,
  };
  if (!firstNodeSoFar(facts, ctx.args, ctx.isAdmin))
    facts.node = await readOf(inspectNode(registration, ctx.services.ssh, h, ctx.signal));
  return { facts, note: reg.note };
}

function render(
  d: FirstNodeDecision,
  f: FirstNodeFacts | Unresolved,
  args: Args,
  note: Md,
): Plan<FirstNodePin> {
  if (f.kind === 'unresolved') return refuse(md`Create an OCFS2 cluster on \`${f.asked}\``, prose(f.reason));
  const h = f.host;
  const name = clusterNameOf(args, f.inventoryCluster);
  const what = md`Create OCFS2 cluster \`${name}\` on *${h.name}*`;
  const diff = (c: ConfChange | null): Section[] => (c ? [diffSection(h, c.current, c.planned)] : []);
  switch (d.kind) {
    case 'noop':
      return {
        summary: md`${h.name} is already the first node of OCFS2 cluster \`${name}\`: same cluster.conf, o2cb online and enabled. Nothing to do.`,
        sections: [],
        warnings: [],
        noop: true,
      };
    case 'go':
      return renderGo(d, f, what, note, diff(d.change));
  }
  switch (d.code) {
    case ErrorCode.inventoryUnknownHost:
      return refuse(what, prose(d.reason));
    case Ocfs2ErrorCode.notRegistered:
      return refuse(
        md`Create an OCFS2 cluster on *${h.name}*`,
        md`${h.name} is not registered with the Manager. Register it first: \`/flexvdi register-host ${h.fqdn}\`.`,
      );
    case Ocfs2ErrorCode.invalidCluster:
      return refuse(what, md`The cluster would not be valid: ${joinMd(d.problems, '; ')}.`, {
        sections: [{ title: md`Nodes (${d.planned.nodes.length})`, lines: nodeLines(d.planned.nodes) }],
      });
    case Ocfs2ErrorCode.unreadable:
      return refuse(what, md`Cannot read ${h.name}: ${prose(d.error)}`);
    case Ocfs2ErrorCode.hostnameMismatch:
      return refuse(
        what,
        md`${h.name}'s hostname is \`${d.hostname}\`, which does not match node 0 \`${d.node0}\` (OCFS2 matches a node name to the hostname, or its part before the first "."). Set the Host's hostname to its FQDN \`${h.fqdn}\` first.`,
      );
    case Ocfs2ErrorCode.ipNotCarried:
      return refuse(
        what,
        md`${h.name} does not carry ${h.ip} (it has ${d.addresses.join(', ') || 'no IPv4'}).`,
      );
    case Ocfs2ErrorCode.clusterOnline:
      return refuse(
        what,
        md`o2cb is online on ${h.name} for cluster \`${d.online}\` with ${d.change ? 'another' : 'this'} configuration: changing it needs the cluster offline. Unmount its OCFS2 volumes and run \`service o2cb offline\` there, then plan again.`,
        { sections: diff(d.change) },
      );
    case Ocfs2ErrorCode.confDiffers:
    case Ocfs2ErrorCode.forceNeedsAdmin:
      return refuse(
        what,
        md`${h.name} already has a different ${CLUSTER_CONF}. Replacing it changes the cluster for every node that uses it; ${d.code === Ocfs2ErrorCode.forceNeedsAdmin ? md`only an admin can use \`--force\`.` : md`if that is what you want, an admin can run the command again with \`--force\` (the old file is kept as a backup).`}`,
        { sections: diff(d.change) },
      );
  }
}

function renderGo(
  d: Extract<FirstNodeDecision, { kind: 'go' }>,
  f: FirstNodeFacts,
  what: Md,
  note: Md,
  diff: Section[],
): Plan<FirstNodePin> {
  const h = f.host;
  const { pinned: p } = d;
  const { cluster, nodes, maxNodes, reserved } = d.planned;
  const sections = summarySections({
    cluster,
    nodes,
    maxNodes,
    timeouts: p.timeouts,
    settingsPath: p.settingsPath,
    source: note,
    confSha: sha256(p.conf),
  });
  const advice = headroomAdvice(nodes.length, maxNodes);
  const notListed = f.inventory.filter((x) => !nodes.some((n) => n.host === x.name || n.ip === x.ip));
  const listed = nodes.length - reserved.length;
  const them = notListed.length === 1 ? 'it' : 'them';
  return {
    summary: md`${what} (node 0): ${listed} node${listed === 1 ? '' : 's'} listed, ${reserved.length} reserved, max ${maxNodes}`,
    sections: [...sections, ...diff],
    warnings: [
      ...(f.from === 'inventory' ? [md`Nodes come from ${note}.`] : []),
      ...(advice ? [advice] : []),
      ...(notListed.length
        ? [
            md`Not in the cluster: ${notListed.map((x) => `${x.name} (${x.ip})`).join(', ')} — in the inventory but not registered. Reserve ${them} with Edit (\`name=ip\`) to let ${them} join later without the offline procedure.`,
          ]
        : []),
      ...(d.change
        ? [
            md`--force: ${h.name}'s current ${CLUSTER_CONF} is replaced (backup kept). Every node must then join again with the new file.`,
          ]
        : []),
    ],
    pinned: p,
    edit: editOf(p.cluster, maxNodes, reserved),
  };
}
