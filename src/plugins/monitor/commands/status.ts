/**
 * `/flexvdi status`: the cluster at a glance, per inventory Host — the monitor's probe state (its board), the
 * Manager's status (asked now, matched as the monitor matches it: the Manager's host id is the Host's FQDN,
 * case-insensitively; the registration plugin owns that rule), OCFS2 membership, o2cb state and drift (the
 * OCFS2 plugin's overview, the rules of `ocfs2 status`), a maintenance window, an open incident and its
 * thread. Read-only, for anyone. A Manager or a Host that does not answer is reported and the rest is shown:
 * the command then ends "with findings", as it does when a Host is not healthy, has drifted or has an open
 * incident, or when the monitor is not running.
 */
import { z } from 'zod';
import { NO_PINS, type StepContext } from '../../../core/plugin.js';
import { joinMd, type Md, md, mdSchema, plural, prose } from '../../../core/text.js';
import { asAppError } from '../../../errors.js';
import { managerText } from '../../../monitor/messages.js';
import {
  activeWindows,
  hostBoardParts,
  monitorStatus,
  openAlerts,
  stateCounts,
} from '../../../monitor/overview.js';
import { boardStep, overviewOf } from '../board-step.js';
import { command, type MonitorDeps, step } from '../define.js';

const args = z.object({}).strict();
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, null, MonitorDeps>;

const board = boardStep<Args, null>();

const managerEntrySchema = z.object({ status: z.string(), lastHeartbeat: z.string().nullable() });

const managerStep = step({
  id: 'manager',
  title: "Read the Manager's Host list",
  output: z.object({
    /** Null when the Manager did not answer (then `error` says why). */
    hosts: z.record(managerEntrySchema.nullable()).nullable(),
    error: z.string().nullable(),
  }),
  run: async (ctx: Ctx) => {
    const { registration } = ctx.deps;
    const reg = await registration.registeredHosts({ fallback: 'inventory', signal: ctx.signal });
    if (reg.from !== 'manager') {
      ctx.finding(`the Manager could not be read: ${reg.managerError ?? 'no answer'}`);
      return { hosts: null, error: reg.managerError ?? 'no answer' };
    }
    const hosts = Object.fromEntries(
      ctx.services.config.inventory.hosts.map((h) => {
        const m = reg.manager.get(registration.hostIdOf(h));
        return [h.name, m ? { status: m.status, lastHeartbeat: m.lastHeartbeat } : null];
      }),
    );
    return { hosts, error: null };
  },
});

const ocfs2HostSchema = z.object({
  host: z.string(),
  reachable: z.boolean(),
  error: z.string().nullable(),
  node: z.object({ number: z.number(), name: z.string() }).nullable(),
  online: z.string().nullable(),
  drift: z.array(mdSchema),
});

const ocfs2Step = step({
  id: 'ocfs2',
  title: 'Read OCFS2 on every Host',
  output: z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      cluster: z.string().nullable(),
      firstNode: z.string().nullable(),
      hosts: z.array(ocfs2HostSchema),
    }),
    z.object({ ok: z.literal(false), error: z.string() }),
  ]),
  run: async (ctx: Ctx) => {
    try {
      const o = await ctx.deps.ocfs2.overview(ctx.signal);
      const down = o.hosts.filter((h) => !h.reachable).map((h) => h.host);
      if (down.length) ctx.finding(`could not read ${down.join(', ')}`);
      return { ok: true as const, ...o };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const why = asAppError(err).userMessage;
      ctx.finding(`OCFS2 could not be read: ${why}`);
      return { ok: false as const, error: why };
    }
  },
});

function ocfs2Text(o: z.output<typeof ocfs2HostSchema> | undefined, cluster: string | null): Md {
  if (!o) return md`OCFS2: not read`;
  if (!cluster)
    return o.reachable ? md`OCFS2: no cluster` : md`OCFS2: not read (${prose(o.error ?? 'no answer')})`;
  const node = o.node ? md`node ${o.node.number}` : md`not a node`;
  if (!o.reachable) return md`OCFS2: ${node}, not read (${prose(o.error ?? 'no answer')})`;
  const state = o.online ? (o.online === cluster ? md`online` : md`online for \`${o.online}\``) : md`offline`;
  return o.node ? md`OCFS2: ${node}, ${state}` : md`OCFS2: ${node}`;
}

export const statusCommand = command({
  id: 'status',
  summary: "Every Host at a glance: monitor state, the Manager's status, OCFS2, maintenance, open incidents",
  examples: ['/flexvdi status'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({
    summary: md`Read the monitor's board, the Manager and every Host's OCFS2 state`,
    sections: [],
    warnings: [],
  }),
  steps: [board, managerStep, ocfs2Step],
  result: (ctx) => {
    const { config } = ctx.services;
    const o = overviewOf(ctx.result(board), config);
    const mgr = ctx.result(managerStep);
    const ocfs2 = ctx.result(ocfs2Step);
    const status = monitorStatus(o.view, o.leaseMs, o.readAt);
    let troubled = 0;
    let drifted = 0;
    const lines = config.inventory.hosts.flatMap((h) => {
      const p = hostBoardParts(h.name, o, status.running);
      const oc = ocfs2.ok ? ocfs2.hosts.find((x) => x.host === h.name) : undefined;
      const manager = mgr.hosts
        ? managerText(mgr.hosts[h.name] ?? { status: 'does not list it', lastHeartbeat: null }, o.readAt)
        : md`Manager: could not be read`;
      const parts = [
        md`*${h.name}* (\`${h.fqdn}\`) — ${p.probe}`,
        manager,
        ocfs2.ok ? ocfs2Text(oc, ocfs2.cluster) : md`OCFS2: not read`,
        p.window,
        p.incident,
      ].filter((x): x is Md => x !== null);
      const bad = p.view?.state !== 'healthy' || p.incident !== null || (oc !== undefined && !oc.reachable);
      if (bad) troubled++;
      if (oc?.drift.length) drifted++;
      return [
        md`• ${joinMd(parts, ' · ')}`,
        ...(oc?.drift.length ? [md`    :warning: OCFS2 drift: ${joinMd(oc.drift, '; ')}`] : []),
      ];
    });
    const open = openAlerts(o).length;
    const windows = activeWindows(o.maintenance, o.readAt).length;
    const notes: Md[] = [
      ...(mgr.hosts ? [] : [md`the Manager could not be read: ${prose(mgr.error ?? 'no answer')}`]),
      ...(ocfs2.ok ? [] : [md`OCFS2 could not be read: ${prose(ocfs2.error)}`]),
      ...(drifted ? [md`:warning: OCFS2 drift on ${plural(drifted, 'Host')}`] : []),
    ];
    return {
      summary: md`${status.running ? '' : ':warning: The monitor is not running. '}${plural(o.hosts.length, 'Host')}: ${stateCounts(o)} · ${plural(open, 'open incident')} · ${windows} in maintenance${notes.length ? md`; ${joinMd(notes, '; ')}` : ''}`,
      sections: [
        { lines: [status.line] },
        { title: md`Hosts`, lines: lines.length ? lines : [md`none in the inventory`] },
        ...(ocfs2.ok && ocfs2.cluster
          ? [{ lines: [md`OCFS2 cluster \`${ocfs2.cluster}\`, first node ${ocfs2.firstNode ?? '?'}`] }]
          : []),
      ],
      outcome:
        !status.running || !mgr.hosts || !ocfs2.ok || troubled || drifted || open ? 'findings' : 'completed',
    };
  },
});
