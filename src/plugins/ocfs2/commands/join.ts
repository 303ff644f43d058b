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
import { findHost, type Plan, type PlanContext, type Section } from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { asAppError } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostArg, ipArg } from '../args.js';
import { CLUSTER_CONF, modelOf, sha256 } from '../cluster-conf.js';
import { command, type Ocfs2Deps, step } from '../define.js';
import { inspectNode, readOcfs2 } from '../host-ops.js';
import { type JoinPin, joinHosts, joinPinSchema, joinResultSchema } from '../join-hosts.js';
import { type Standing, standingOf } from '../membership.js';
import { describeTimeouts, timeoutsOf } from '../o2cb-settings.js';

const args = z
  .object({ host: hostArg.optional(), firstNode: ipArg.optional(), all: z.boolean().default(false) })
  .strict()
  .refine((a) => (a.host === undefined) === a.all, {
    message: 'give one Host, or `--all` for every registered Host (not both)',
  });
type Args = z.output<typeof args>;

const refuse = (summary: Md, refused: Md, extra: Partial<Plan<JoinPin>> = {}): Plan<JoinPin> => ({
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

type Row = { host: InventoryHost; standing: Standing | { kind: 'unreachable'; reason: string } };

function rowLine({ host, standing: s }: Row): Md {
  switch (s.kind) {
    case 'join':
      return md`• *${host.name}*: joins as node ${s.node.number} \`${s.node.name}\` ${s.node.ip} — ${s.note}`;
    case 'in-sync':
      return md`• *${host.name}*: already node ${s.node.number}, in sync and online`;
    case 'unreachable':
      return md`• *${host.name}*: unreachable now (${prose(s.reason)}) — will be tried`;
    default:
      return md`• *${host.name}*: skipped — ${s.reason}`;
  }
}

const join = step({
  id: 'join',
  title: 'Install cluster.conf and o2cb settings, bring o2cb online, read back (per Host)',
  output: joinResultSchema,
  run: joinHosts<Args>,
});

export const joinCommand = command({
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
  pinned: joinPinSchema,
  locks: (a, config) => {
    const h = a.host === undefined ? undefined : findHost(config, a.host);
    return h ? ['ocfs2', h] : ['ocfs2'];
  },
  plan: async (ctx): Promise<Plan<JoinPin>> => {
    const { config, ssh } = ctx.services;
    const { registration } = ctx.deps;
    const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    let targets: InventoryHost[];
    if (ctx.args.host === undefined) targets = reg.hosts;
    else {
      const found = registration.resolveHost(ctx.args.host);
      if (!found.ok) return refuse(md`Join \`${ctx.args.host}\` to the OCFS2 cluster`, prose(found.reason));
      targets = [found.host];
    }
    const what =
      ctx.args.host === undefined
        ? md`Join every registered Host to the OCFS2 cluster`
        : md`Join *${targets.map((t) => t.name).join(', ')}* to the OCFS2 cluster`;
    const src = await findSource(ctx, reg.hosts, targets);
    if ('refused' in src) return refuse(what, src.refused);
    const model = modelOf(src.conf);
    if (!model.model || model.problems.length) {
      return refuse(
        what,
        md`The ${CLUSTER_CONF} on ${src.host.name} is not valid, so it is not copied anywhere: ${joinMd(model.problems, '; ')}. Fix it with \`/flexvdi ocfs2 first-node ${src.host.name} --force\`.`,
      );
    }
    const cluster = model.model;
    const timeouts = timeoutsOf(src.settings);
    const states = await fanout(targets, (h) => inspectNode(registration, ssh, h, ctx.signal), {
      concurrency: config.inventory.ssh.concurrency,
      signal: ctx.signal,
    });
    const rows: Row[] = states.map((r) => ({
      host: r.target,
      standing: r.ok
        ? standingOf(cluster, src.conf, timeouts, r.target, r.value, src.host.name)
        : { kind: 'unreachable', reason: r.error.userMessage },
    }));
    const go = rows.filter((r) => r.standing.kind === 'join' || r.standing.kind === 'unreachable');
    const sections: Section[] = [
      { title: md`Hosts (${rows.length})`, lines: rows.map(rowLine) },
      {
        title: md`Cluster \`${cluster.name}\``,
        lines: [
          md`• Source: ${src.host.name} (${src.host.ip}), ${CLUSTER_CONF} sha256 \`${sha256(src.conf).slice(0, 12)}\`, ${cluster.nodes.length} nodes, heartbeat ${cluster.heartbeatMode}`,
          md`• O2CB timeouts: ${describeTimeouts(timeouts)}`,
        ],
      },
    ];
    const [only] = rows;
    if (ctx.args.host !== undefined && only) {
      const s = only.standing;
      if (s.kind === 'not-listed' || s.kind === 'blocked') return refuse(what, s.reason, { sections });
      if (s.kind === 'unreachable')
        return refuse(what, md`Cannot read ${only.host.name}: ${prose(s.reason)}`);
    }
    if (!go.length) {
      return {
        summary: md`Nothing to join: ${rows.filter((r) => r.standing.kind === 'in-sync').length} of ${rows.length} Hosts are members of \`${cluster.name}\`, in sync and online.`,
        sections,
        warnings: [],
        noop: true,
      };
    }
    const skipped = rows.filter((r) => r.standing.kind === 'not-listed' || r.standing.kind === 'blocked');
    return {
      summary: md`Join ${go.map((r) => r.host.name).join(', ')} to OCFS2 cluster \`${cluster.name}\` (cluster.conf from ${src.host.name}, byte-identical)`,
      sections,
      warnings: [
        ...(reg.from === 'inventory' && ctx.args.all ? [md`Hosts come from ${reg.note}.`] : []),
        ...(skipped.length
          ? [md`${skipped.map((r) => r.host.name).join(', ')} will not join (see above).`]
          : []),
      ],
      pinned: {
        source: src.host.name,
        conf: src.conf,
        cluster: cluster.name,
        timeouts,
        targets: go.map((r) => r.host.name),
      },
    };
  },
  steps: [join],
  result: (ctx) => {
    const pin = ctx.pinned;
    const r = ctx.result(join);
    return {
      summary: md`${pin.targets.join(', ')} ${pin.targets.length === 1 ? 'is a node' : 'are nodes'} of OCFS2 cluster \`${pin.cluster}\`: cluster.conf byte-identical to ${pin.source}'s (sha256 \`${sha256(pin.conf).slice(0, 12)}\`), o2cb online, read back with \`o2cb list-cluster\`.`,
      sections: [
        {
          title: md`Per Host`,
          lines: pin.targets.map((n) => {
            const o = r.hosts[n];
            const how = !o
              ? md`?`
              : o.earlier
                ? md`done in an earlier run`
                : md`node ${o.node}${o.backup ? md`, previous cluster.conf kept as \`${o.backup}\`` : md``}`;
            return md`• *${n}*: ${how}`;
          }),
        },
      ],
    };
  },
});

/** The first node: `--first-node <ip>`, else the one cluster.conf the registered Hosts agree on. */
async function findSource(
  ctx: PlanContext<Args, Ocfs2Deps>,
  registered: readonly InventoryHost[],
  targets: readonly InventoryHost[],
): Promise<Source | { refused: Md }> {
  const { config, ssh } = ctx.services;
  const read = (h: InventoryHost) => readOcfs2(ssh, targetOf(h), ctx.signal);
  if (ctx.args.firstNode) {
    const h = findHost(config, ctx.args.firstNode);
    if (!h)
      return {
        refused: md`No inventory Host has IP ${ctx.args.firstNode}: the bot reaches Hosts only through the inventory (and their pinned host keys).`,
      };
    const s = await read(h).catch(asAppError);
    if (s instanceof Error)
      return { refused: md`Cannot read the first node ${h.name}: ${prose(s.userMessage)}` };
    if (s.conf === null)
      return {
        refused: md`${h.name} (${h.ip}) has no ${CLUSTER_CONF}: create the cluster there first with \`/flexvdi ocfs2 first-node ${h.name}\`.`,
      };
    return { host: h, conf: s.conf, settings: s.settings };
  }
  const single = !ctx.args.all;
  const candidates = registered.filter((h) => !(single && targets.some((t) => t.name === h.name)));
  const answers = await fanout(candidates, read, {
    concurrency: config.inventory.ssh.concurrency,
    signal: ctx.signal,
  });
  // Hosts by the checksum of their file; the first Host of a group (inventory order) is its source.
  const byConf = new Map<string, Source & { hosts: InventoryHost[] }>();
  for (const r of answers) {
    if (!r.ok || r.value.conf === null) continue;
    const k = sha256(r.value.conf);
    const e = byConf.get(k) ?? { host: r.target, conf: r.value.conf, settings: r.value.settings, hosts: [] };
    e.hosts.push(r.target);
    byConf.set(k, e);
  }
  const down = answers.filter((r) => !r.ok).map((r) => r.target.name);
  const groups = [...byConf.entries()];
  const [first] = groups;
  if (!first) {
    return {
      refused: md`No registered Host ${single ? 'other than the one joining ' : ''}has a ${CLUSTER_CONF}: create the cluster first with \`/flexvdi ocfs2 first-node ${'<host>'}\`${down.length ? md` (unreachable: ${down.join(', ')})` : md``}.`,
    };
  }
  if (groups.length > 1) {
    const which = groups.map(
      ([k, v]) => md`${v.hosts.map((h) => h.name).join(', ')} (\`${k.slice(0, 12)}\`)`,
    );
    return {
      refused: md`The Hosts' ${CLUSTER_CONF} files differ: ${joinMd(which, ' vs ')}. Name the first node, whose file is copied, with \`--first-node ${'<ip>'}\` (see \`/flexvdi ocfs2 status\`).`,
    };
  }
  const [, { host, conf, settings }] = first;
  return { host, conf, settings };
}
