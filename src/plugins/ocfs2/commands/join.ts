/**
 * `/flexvdi ocfs2 join <host> [--first-node <ip>]` and `/flexvdi ocfs2 join --all` (the seed's "other node"
 * procedure): fetch cluster.conf from the first node over SSH, check that each Host is listed (node name
 * matches its hostname per the OCFS2 rule; IP matches), install a byte-identical copy and the same o2cb
 * timeouts, bring o2cb online, and read it back. `--all` does every registered Host in parallel with
 * per-Host results; a Host that is down does not stop the others, and `/flexvdi retry` finishes only the
 * Hosts not done (per-Host checkpoints). A Host that matches a reserved slot joins without any other node
 * being touched; one that matches none is told why and what the offline procedure is.
 *
 * Plan = gather → decide → render: `gather` reads the source's cluster.conf and the targets, `decideJoin`
 * (decide-join.ts, pure) refuses with a code, finds nothing to do, or pins the file and the targets, and
 * `render` writes it for Slack.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../../config.js';
import {
  findHost,
  type Plan,
  type PlanContext,
  type Section,
  type Unresolved,
} from '../../../core/plugin.js';
import { joinMd, type Md, md, prose } from '../../../core/text.js';
import { ErrorCode, readOf, readOfResult } from '../../../errors.js';
import { targetOf } from '../../../services.js';
import { fanout } from '../../../ssh/index.js';
import { hostArg, ipArg } from '../args.js';
import { CLUSTER_CONF, sha256 } from '../cluster-conf.js';
import {
  decideJoin,
  type JoinDecision,
  type JoinFacts,
  type JoinView,
  joinSoFar,
  type Row,
  type SourceFacts,
} from '../decide-join.js';
import { command, type Ocfs2Deps, step } from '../define.js';
import { Ocfs2ErrorCode } from '../errors.js';
import { inspectNode, readOcfs2 } from '../host-ops.js';
import { type JoinPin, joinHosts, joinPinSchema, joinResultSchema } from '../join-hosts.js';
import { describeTimeouts } from '../o2cb-settings.js';

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
  // gather (I/O) → decide (pure, decide-join.ts) → render
  plan: async (ctx) => {
    const { facts, note } = await gather(ctx);
    return render(decideJoin(facts), facts, ctx.args, note);
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

/** The facts the decision needs, and where the Hosts came from (the registration plugin's note). */
async function gather(
  ctx: PlanContext<Args, Ocfs2Deps>,
): Promise<{ facts: JoinFacts | Unresolved; note: Md }> {
  const { config, ssh } = ctx.services;
  const { registration } = ctx.deps;
  const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
  let targets: InventoryHost[];
  if (ctx.args.host === undefined) targets = reg.hosts;
  else {
    const found = registration.resolveHost(ctx.args.host);
    if (!found.ok)
      return { facts: { kind: 'unresolved', asked: ctx.args.host, reason: found.reason }, note: reg.note };
    targets = [found.host];
  }
  const source = await gatherSource(ctx, reg.hosts, targets);
  const facts: JoinFacts = { kind: 'hosts', all: ctx.args.all, from: reg.from, targets, source };
  if (!joinSoFar(facts)) {
    const states = await fanout(targets, (h) => inspectNode(registration, ssh, h, ctx.signal), {
      concurrency: config.inventory.ssh.concurrency,
      signal: ctx.signal,
    });
    facts.nodes = states.map((r) => ({ host: r.target, read: readOfResult(r) }));
  }
  return { facts, note: reg.note };
}

/** The first node's files (`--first-node <ip>`), else every registered Host's but the one joining. */
async function gatherSource(
  ctx: PlanContext<Args, Ocfs2Deps>,
  registered: readonly InventoryHost[],
  targets: readonly InventoryHost[],
): Promise<SourceFacts> {
  const { config, ssh } = ctx.services;
  const read = (h: InventoryHost) => readOcfs2(ssh, targetOf(h), ctx.signal);
  if (ctx.args.firstNode) {
    const h = findHost(config, ctx.args.firstNode);
    return {
      kind: 'named',
      ip: ctx.args.firstNode,
      found: h ? { host: h, read: await readOf(read(h)) } : null,
    };
  }
  const single = !ctx.args.all;
  const candidates = registered.filter((h) => !(single && targets.some((t) => t.name === h.name)));
  const answers = await fanout(candidates, read, {
    concurrency: config.inventory.ssh.concurrency,
    signal: ctx.signal,
  });
  return { kind: 'agreed', answers: answers.map((r) => ({ host: r.target, read: readOfResult(r) })) };
}

function render(d: JoinDecision, f: JoinFacts | Unresolved, args: Args, note: Md): Plan<JoinPin> {
  if (f.kind === 'unresolved') return refuse(md`Join \`${f.asked}\` to the OCFS2 cluster`, prose(f.reason));
  const what =
    args.host === undefined
      ? md`Join every registered Host to the OCFS2 cluster`
      : md`Join *${f.targets.map((t) => t.name).join(', ')}* to the OCFS2 cluster`;
  switch (d.kind) {
    case 'noop': {
      const { rows, cluster } = d.view;
      return {
        summary: md`Nothing to join: ${rows.filter((r) => r.standing.kind === 'in-sync').length} of ${rows.length} Hosts are members of \`${cluster.name}\`, in sync and online.`,
        sections: sectionsOf(d.view),
        warnings: [],
        noop: true,
      };
    }
    case 'go': {
      const { source, cluster } = d.view;
      return {
        summary: md`Join ${d.pinned.targets.join(', ')} to OCFS2 cluster \`${cluster.name}\` (cluster.conf from ${source.host.name}, byte-identical)`,
        sections: sectionsOf(d.view),
        warnings: [
          ...(f.from === 'inventory' && args.all ? [md`Hosts come from ${note}.`] : []),
          ...(d.skipped.length ? [md`${d.skipped.join(', ')} will not join (see above).`] : []),
        ],
        pinned: d.pinned,
      };
    }
  }
  return refuse(what, ...refusal(d));
}

/** The Hosts and where each stands, and the cluster being copied. */
function sectionsOf({ source, cluster, timeouts, rows }: JoinView): Section[] {
  return [
    { title: md`Hosts (${rows.length})`, lines: rows.map(rowLine) },
    {
      title: md`Cluster \`${cluster.name}\``,
      lines: [
        md`• Source: ${source.host.name} (${source.host.ip}), ${CLUSTER_CONF} sha256 \`${sha256(source.conf).slice(0, 12)}\`, ${cluster.nodes.length} nodes, heartbeat ${cluster.heartbeatMode}`,
        md`• O2CB timeouts: ${describeTimeouts(timeouts)}`,
      ],
    },
  ];
}

/** Why the plan refuses, and the sections shown with it. */
function refusal(d: Extract<JoinDecision, { kind: 'refuse' }>): [Md, Partial<Plan<JoinPin>>?] {
  switch (d.code) {
    case ErrorCode.inventoryUnknownHost:
      return [prose(d.reason)];
    case Ocfs2ErrorCode.firstNodeUnknown:
      return [
        md`No inventory Host has IP ${d.ip}: the bot reaches Hosts only through the inventory (and their pinned host keys).`,
      ];
    case Ocfs2ErrorCode.firstNodeUnreadable:
      return [md`Cannot read the first node ${d.host}: ${prose(d.error)}`];
    case Ocfs2ErrorCode.firstNodeNoConf:
      return [
        md`${d.host.name} (${d.host.ip}) has no ${CLUSTER_CONF}: create the cluster there first with \`/flexvdi ocfs2 first-node ${d.host.name}\`.`,
      ];
    case Ocfs2ErrorCode.noCluster:
      return [
        md`No registered Host ${d.single ? 'other than the one joining ' : ''}has a ${CLUSTER_CONF}: create the cluster first with \`/flexvdi ocfs2 first-node ${'<host>'}\`${d.down.length ? md` (unreachable: ${d.down.join(', ')})` : md``}.`,
      ];
    case Ocfs2ErrorCode.confsDiffer: {
      const which = d.groups.map((g) => md`${g.hosts.join(', ')} (\`${g.sha256.slice(0, 12)}\`)`);
      return [
        md`The Hosts' ${CLUSTER_CONF} files differ: ${joinMd(which, ' vs ')}. Name the first node, whose file is copied, with \`--first-node ${'<ip>'}\` (see \`/flexvdi ocfs2 status\`).`,
      ];
    }
    case Ocfs2ErrorCode.invalidSourceConf:
      return [
        md`The ${CLUSTER_CONF} on ${d.source} is not valid, so it is not copied anywhere: ${joinMd(d.problems, '; ')}. Fix it with \`/flexvdi ocfs2 first-node ${d.source} --force\`.`,
      ];
    case Ocfs2ErrorCode.nodeNotListed:
    case Ocfs2ErrorCode.clusterOnline:
      return [d.reason, { sections: sectionsOf(d.view) }];
    case Ocfs2ErrorCode.unreadable:
      return [md`Cannot read ${d.host}: ${prose(d.error)}`];
  }
}
