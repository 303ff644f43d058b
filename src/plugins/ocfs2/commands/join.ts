/**
 * `/flexvdi ocfs2 join <host> [--first-node <ip>]` and `/flexvdi ocfs2 join --all` (the seed's "other node"
 * procedure): fetch cluster.conf from the first node over SSH, check that each Host is listed (node name
 * matches its hostname per the OCFS2 rule; IP matches), install a byte-identical copy and the same o2cb
 * timeouts, bring o2cb online, and read it back. `--all` does every registered Host in parallel with
 * per-Host results; a Host that is down does not stop the others, and `/flexvdi retry` finishes only the
 * Hosts not done (per-Host checkpoints). A Host that matches a reserved slot joins without any other node
 * being touched; one that matches none is told why and what the offline procedure is.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import { defineCommand, findHost, type Plan, type PlanContext } from '../../../core/plugin.js';
import { asAppError } from '../../../errors.js';
import { servicesOf, targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostArg, ipArg } from '../args.js';
import { CLUSTER_CONF, modelOf, sha256 } from '../cluster-conf.js';
import { type HostOcfs2, inspectHost } from '../host-ops.js';
import { type JoinPin, type JoinResult, joinHosts } from '../join-hosts.js';
import { type Standing, standingOf } from '../membership.js';
import { registeredHosts } from '../nodes.js';
import { describeTimeouts, timeoutsOf } from '../o2cb-settings.js';

const args = z
  .object({ host: hostArg.optional(), firstNode: ipArg.optional(), all: z.boolean().default(false) })
  .strict()
  .refine((a) => (a.host === undefined) === a.all, {
    message: 'give one Host, or `--all` for every registered Host (not both)',
  });
type Args = z.output<typeof args>;

const refuse = (summary: string, refused: string, extra: Partial<Plan> = {}): Plan => ({
  summary,
  sections: [],
  warnings: [],
  refused,
  ...extra,
});

interface Source {
  host: InventoryHost;
  conf: string;
  settings: string | null;
}

export const joinCommand = defineCommand({
  id: 'ocfs2 join',
  summary: 'Join Hosts to the OCFS2 cluster: byte-identical cluster.conf from the first node, o2cb online',
  examples: [
    '/flexvdi ocfs2 join host2',
    '/flexvdi ocfs2 join host2 --first-node 10.0.0.11',
    '/flexvdi ocfs2 join --all',
  ],
  args,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  locks: (a) => ['ocfs2', ...(a.host ? [a.host.toLowerCase()] : [])],
  plan: async (ctx): Promise<Plan> => {
    const { ssh, manager } = servicesOf(ctx.services.extra);
    const config = ctx.services.config;
    const reg = await registeredHosts(config, manager);
    let targets: InventoryHost[];
    if (ctx.args.all) targets = reg.hosts;
    else {
      const h = findHost(config, ctx.args.host!);
      if (!h)
        return refuse(
          `Join \`${ctx.args.host}\` to the OCFS2 cluster`,
          `\`${ctx.args.host}\` is not in the inventory (${config.inventoryPath}). Add the Host there, register it, then join it.`,
        );
      targets = [h];
    }
    const what = ctx.args.all
      ? 'Join every registered Host to the OCFS2 cluster'
      : `Join *${targets[0]!.name}* to the OCFS2 cluster`;
    const src = await findSource(ctx, reg.hosts, targets);
    if ('refused' in src) return refuse(what, src.refused);
    const model = modelOf(src.conf);
    if (!model.model || model.problems.length) {
      return refuse(
        what,
        `The ${CLUSTER_CONF} on ${src.host.name} is not valid, so it is not copied anywhere: ${model.problems.join('; ')}. Fix it with \`/flexvdi ocfs2 first-node ${src.host.name} --force\`.`,
      );
    }
    const cluster = model.model;
    const timeouts = timeoutsOf(src.settings);
    const states = await fanout(targets.map(targetOf), (t, signal) => inspectHost(ssh, t, signal), {
      concurrency: config.inventory.ssh.concurrency,
      signal: ctx.signal,
    });
    const rows: { host: InventoryHost; standing: Standing | { kind: 'unreachable'; reason: string } }[] =
      states.map((r, i) => ({
        host: targets[i]!,
        standing: r.ok
          ? standingOf(cluster, src.conf, timeouts, targets[i]!, r.value, src.host.name)
          : { kind: 'unreachable', reason: r.error.userMessage },
      }));
    const lines = rows.map(({ host, standing: s }) => {
      switch (s.kind) {
        case 'join':
          return `• *${host.name}*: joins as node ${s.node.number} \`${s.node.name}\` ${s.node.ip} — ${s.note}`;
        case 'in-sync':
          return `• *${host.name}*: already node ${s.node.number}, in sync and online`;
        case 'unreachable':
          return `• *${host.name}*: unreachable now (${s.reason}) — will be tried`;
        default:
          return `• *${host.name}*: skipped — ${s.reason}`;
      }
    });
    const go = rows.filter((r) => r.standing.kind === 'join' || r.standing.kind === 'unreachable');
    const sections = [
      { title: `Hosts (${rows.length})`, lines },
      {
        title: `Cluster \`${cluster.name}\``,
        lines: [
          `• Source: ${src.host.name} (${src.host.ip}), ${CLUSTER_CONF} sha256 \`${sha256(src.conf).slice(0, 12)}\`, ${cluster.nodes.length} nodes, heartbeat ${cluster.heartbeatMode}`,
          `• O2CB timeouts: ${describeTimeouts(timeouts)}`,
        ],
      },
    ];
    if (!ctx.args.all) {
      const s = rows[0]!.standing;
      if (s.kind === 'not-listed' || s.kind === 'blocked') return refuse(what, s.reason, { sections });
      if (s.kind === 'unreachable') return refuse(what, `Cannot read ${rows[0]!.host.name}: ${s.reason}`);
    }
    if (!go.length) {
      return {
        summary: `Nothing to join: ${rows.filter((r) => r.standing.kind === 'in-sync').length} of ${rows.length} Hosts are members of \`${cluster.name}\`, in sync and online.`,
        sections,
        warnings: [],
        noop: true,
      };
    }
    const pin: JoinPin = {
      source: src.host.name,
      conf: src.conf,
      cluster: cluster.name,
      timeouts,
      targets: go.map((r) => r.host.name),
    };
    const skipped = rows.filter((r) => r.standing.kind === 'not-listed' || r.standing.kind === 'blocked');
    return {
      summary: `Join ${go.map((r) => r.host.name).join(', ')} to OCFS2 cluster \`${cluster.name}\` (cluster.conf from ${src.host.name}, byte-identical)`,
      sections,
      warnings: [
        ...(reg.from === 'inventory' && ctx.args.all ? [`Hosts come from ${reg.note}.`] : []),
        ...(skipped.length
          ? [`${skipped.map((r) => r.host.name).join(', ')} will not join (see above).`]
          : []),
      ],
      pinned: { join: pin },
    };
  },
  steps: [
    {
      id: 'join',
      title: 'Install cluster.conf and o2cb settings, bring o2cb online, read back (per Host)',
      run: (ctx) => joinHosts(ctx, ctx.pinned['join'] as JoinPin),
    },
  ],
  result: (ctx) => {
    const pin = ctx.pinned['join'] as JoinPin;
    const r = ctx.results['join'] as JoinResult;
    return {
      summary: `${pin.targets.join(', ')} ${pin.targets.length === 1 ? 'is a node' : 'are nodes'} of OCFS2 cluster \`${pin.cluster}\`: cluster.conf byte-identical to ${pin.source}'s (sha256 \`${sha256(pin.conf).slice(0, 12)}\`), o2cb online, read back with \`o2cb list-cluster\`.`,
      sections: [
        {
          title: 'Per Host',
          lines: pin.targets.map((n) => {
            const o = r.hosts[n];
            return `• *${n}*: ${o ? (o.earlier ? 'done in an earlier run' : `node ${o.node}${o.backup ? `, previous cluster.conf kept as \`${o.backup}\`` : ''}`) : '?'}`;
          }),
        },
      ],
    };
  },
});

/** The first node: `--first-node <ip>`, else the one cluster.conf the registered Hosts agree on. */
async function findSource(
  ctx: PlanContext<Args>,
  registered: readonly InventoryHost[],
  targets: readonly InventoryHost[],
): Promise<Source | { refused: string }> {
  const { ssh } = servicesOf(ctx.services.extra);
  const config = ctx.services.config;
  if (ctx.args.firstNode) {
    const h = config.inventory.hosts.find((x) => x.ip === ctx.args.firstNode);
    if (!h)
      return {
        refused: `No inventory Host has IP ${ctx.args.firstNode}: the bot reaches Hosts only through the inventory (and their pinned host keys).`,
      };
    const s = await inspectHost(ssh, targetOf(h), ctx.signal).catch(asAppError);
    if (s instanceof Error) return { refused: `Cannot read the first node ${h.name}: ${s.userMessage}` };
    if (s.conf === null)
      return {
        refused: `${h.name} (${h.ip}) has no ${CLUSTER_CONF}: create the cluster there first with \`/flexvdi ocfs2 first-node ${h.name}\`.`,
      };
    return { host: h, conf: s.conf, settings: s.settings };
  }
  const single = !ctx.args.all;
  const candidates = registered.filter((h) => !(single && targets.some((t) => t.name === h.name)));
  const read = await fanout(candidates.map(targetOf), (t, signal) => inspectHost(ssh, t, signal), {
    concurrency: config.inventory.ssh.concurrency,
    signal: ctx.signal,
  });
  const byConf = new Map<string, { hosts: InventoryHost[]; s: HostOcfs2 }>();
  read.forEach((r, i) => {
    if (!r.ok || r.value.conf === null) return;
    const k = sha256(r.value.conf);
    const e = byConf.get(k) ?? { hosts: [], s: r.value };
    e.hosts.push(candidates[i]!);
    byConf.set(k, e);
  });
  if (byConf.size === 0) {
    return {
      refused: `No registered Host ${single ? 'other than the one joining ' : ''}has a ${CLUSTER_CONF}: create the cluster first with \`/flexvdi ocfs2 first-node <host>\`${
        read.some((r) => !r.ok)
          ? ` (unreachable: ${read
              .filter((r) => !r.ok)
              .map((r) => r.target.name)
              .join(', ')})`
          : ''
      }.`,
    };
  }
  if (byConf.size > 1) {
    const groups = [...byConf.entries()].map(
      ([k, v]) => `${v.hosts.map((h) => h.name).join(', ')} (\`${k.slice(0, 12)}\`)`,
    );
    return {
      refused: `The Hosts' ${CLUSTER_CONF} files differ: ${groups.join(' vs ')}. Name the first node, whose file is copied, with \`--first-node <ip>\` (see \`/flexvdi ocfs2 status\`).`,
    };
  }
  const [only] = [...byConf.values()];
  return { host: only!.hosts[0]!, conf: only!.s.conf!, settings: only!.s.settings };
}
