/**
 * `/flexvdi maintenance <host> [--for 30m] [--reason "…"] [--end]`: a maintenance window on a Host, so that
 * taking it down on purpose pages nobody. While the window runs, the monitor does not alert a new loss of the
 * Host; an incident already open still resolves (in its thread) when the Host recovers; the monitor tells the
 * alert channel when a window starts, changes and ends (it reads the window from the board: this command never
 * posts there). `--end` ends a window early. Without a Host it lists the windows (a plan with nothing to do).
 *
 * Admins only, with a plan and Confirm like every command that changes something. The plan pins the window's
 * end (what it shows is what is set) or the id of the window to end. The step is idempotent: the window's id
 * comes from the run job's id (itself derived from the confirmation), and the window is checkpointed before
 * it is written, so a re-run writes the same window again, or nothing when another window replaced it since.
 * It takes no Host lock: a window is typically set while another procedure works on the Host, and must not
 * wait for it.
 */
import { z } from 'zod';
import type { Plan, PlanContext, StepContext, Unresolved } from '../../../core/plugin.js';
import { type Md, md, mention, prose } from '../../../core/text.js';
import { AppError } from '../../../errors.js';
import { type Maintenance, maintenanceSchema } from '../../../monitor/board.js';
import { readBoardSnapshot } from '../../../monitor/home.js';
import { clock, duration } from '../../../monitor/messages.js';
import { type BoardSnapshot, openIncidentOf, threadLink, windowLine } from '../../../monitor/overview.js';
import { hostArg } from '../../registration/args.js';
import {
  decideMaintenance,
  type MaintenanceDecision,
  type MaintenanceFacts,
  type MaintenancePinned,
  maintenancePinnedSchema,
} from '../decide-maintenance.js';
import { command, type MonitorDeps, step } from '../define.js';
import { DEFAULT_WINDOW_MS, windowLength } from '../duration.js';
import { MonitorErrorCode } from '../errors.js';

const args = z
  .object({
    host: hostArg.optional(),
    for: z
      .string()
      .max(40)
      .superRefine((v, c) => {
        const r = windowLength(v);
        if (!r.ok) c.addIssue({ code: z.ZodIssueCode.custom, message: r.error });
      })
      .optional(),
    reason: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(200, 'must be at most 200 characters')
      .optional(),
    end: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, c) => {
    if (a.host === undefined && (a.for !== undefined || a.reason !== undefined || a.end))
      c.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['host'],
        message:
          'name the Host, e.g. `/flexvdi maintenance host1 --for 30m` (without a Host the command lists the windows)',
      });
    else if (a.end && (a.for !== undefined || a.reason !== undefined))
      c.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['end'],
        message:
          '`--end` ends the window now: leave out `--for` and `--reason` (to change a window, set it again without `--end`)',
      });
  });
type Args = z.output<typeof args>;
type Ctx = StepContext<Args, MaintenancePinned, MonitorDeps>;

const outcomeSchema = z.object({
  /** The window as the board holds it after this step (null: none). */
  window: maintenanceSchema.nullable(),
  /** Whether this job set or ended it (false: the board had changed meanwhile; `note` says how). */
  done: z.boolean(),
  note: z.string().nullable(),
});

const apply = step({
  id: 'window',
  title: "Write the maintenance window on the monitor's board",
  output: outcomeSchema,
  run: async (ctx: Ctx) => {
    const p = ctx.pinned;
    const { board } = ctx.services;
    const now = Date.now();
    const current = (await board.maintenance()).find((m) => m.host === p.host) ?? null;
    if (p.action === 'end') {
      if (!current || current.until <= now)
        return { window: current, done: true, note: 'the window had already ended' };
      const other = () => {
        const note = `another window was set since the plan (by ${current.by}, until ${clock(current.until, now)}): it was not ended; run \`/flexvdi maintenance ${p.host} --end\` again to end it`;
        ctx.finding(note);
        return { window: current, done: false, note };
      };
      if (current.id !== p.windowId) return other();
      // Atomic: a window another admin sets between the read above and here is not the one ended.
      if (!(await board.endMaintenance(p.host, ctx.requester, now, p.windowId))) return other();
      ctx.progress.host(p.host, 'ok', 'window ended');
      return { window: { ...current, until: now, endedBy: ctx.requester }, done: true, note: null };
    }
    const saved = await ctx.checkpoint.get('window', maintenanceSchema);
    if (saved) {
      // A re-run: the same window again, unless another one replaced it meanwhile (or it is over).
      if (current && current.id !== saved.id) {
        const note = `another window was set since (by ${current.by}, until ${clock(current.until, now)}); it was kept`;
        ctx.finding(note);
        return { window: current, done: false, note };
      }
      if (!current && saved.until <= now) return { window: saved, done: true, note: 'the window is over' };
      await board.setMaintenance(saved);
      return { window: saved, done: true, note: null };
    }
    if (p.until <= now)
      throw new AppError(
        MonitorErrorCode.windowPassed,
        `window for ${p.host} ended before it was confirmed`,
        {
          userMessage: `The window was to end at ${clock(p.until, now)}, which passed before the plan was confirmed: nothing was set. Run the command again for a fresh plan.`,
        },
      );
    const window: Maintenance = {
      id: `mw-${ctx.jobId}`,
      host: p.host,
      by: ctx.requester,
      reason: p.reason,
      since: now,
      until: p.until,
      endedBy: null,
    };
    await ctx.checkpoint.set('window', maintenanceSchema, window);
    await board.setMaintenance(window);
    ctx.progress.host(p.host, 'ok', `until ${clock(p.until, now)}`);
    return { window, done: true, note: null };
  },
});

export const maintenanceCommand = command({
  id: 'maintenance',
  summary:
    "Mute a Host's alerts for a maintenance window (`--for 30m`, `--reason`), end it (`--end`), or list them",
  examples: [
    '/flexvdi maintenance host2 --for 2h --reason "disk swap"',
    '/flexvdi maintenance host2 --end',
    '/flexvdi maintenance',
  ],
  args,
  positionals: ['host'],
  mutates: true,
  access: 'admin',
  pinned: maintenancePinnedSchema,
  // gather (I/O) → decide (pure, decide-maintenance.ts) → render
  plan: async (ctx) => {
    const { facts, snapshot } = await gather(ctx);
    return render(decideMaintenance(facts), facts, snapshot);
  },
  steps: [apply],
  result: (ctx) => {
    const r = ctx.result(apply);
    const p = ctx.pinned;
    const at = Date.now();
    if (!r.done)
      return {
        summary: md`:warning: Nothing changed: ${prose(r.note ?? '')}`,
        sections: [],
        outcome: 'findings',
      };
    if (p.action === 'end')
      return {
        summary: md`*${p.host}*'s maintenance window ${r.note ? md`had already ended` : md`ended at ${clock(r.window?.until ?? at, at)}`}: its alerts are back. The monitor says so in the alert channel.`,
        sections: [],
      };
    return {
      summary: md`*${p.host}* is in maintenance until ${clock(p.until, at)}${p.reason ? md` (${p.reason})` : ''}: a new loss of it is not alerted until then. The monitor announces the window in the alert channel.`,
      sections: [],
    };
  },
});

/** The board now (for the windows, the Host's incident and the links) and the facts the decision needs. */
async function gather(
  ctx: PlanContext<Args, MonitorDeps>,
): Promise<{ facts: MaintenanceFacts | Unresolved; snapshot: BoardSnapshot }> {
  const { config, board } = ctx.services;
  const snapshot = await readBoardSnapshot(
    board,
    config.inventory.hosts.map((h) => h.name),
  );
  const now = snapshot.readAt;
  const a = ctx.args;
  if (a.host === undefined) return { facts: { kind: 'list', windows: snapshot.maintenance, now }, snapshot };
  const r = ctx.deps.registration.resolveHost(a.host);
  if (!r.ok) return { facts: { kind: 'unresolved', asked: a.host, reason: r.reason }, snapshot };
  const length = windowLength(a.for);
  return {
    facts: {
      kind: 'host',
      host: r.host,
      windows: snapshot.maintenance,
      incident: openIncidentOf(snapshot, r.host.name) ?? null,
      now,
      end: a.end,
      // `--for` was checked by the schema: a length that fails here cannot happen, the default stands in.
      lengthMs: length.ok ? length.ms : DEFAULT_WINDOW_MS,
      reason: a.reason ?? null,
    },
    snapshot,
  };
}

const refuse = (summary: Md, refused: Md): Plan<never> => ({ summary, sections: [], warnings: [], refused });

const USAGE = md`Set one: \`/flexvdi maintenance <host> --for 30m --reason "…"\`; end one early: \`--end\`.`;

function render(
  d: MaintenanceDecision,
  f: MaintenanceFacts | Unresolved,
  snapshot: BoardSnapshot,
): Plan<MaintenancePinned> {
  if (d.kind === 'refuse')
    return refuse(md`Maintenance for \`${f.kind === 'unresolved' ? f.asked : ''}\``, prose(d.reason));
  if (d.kind === 'noop') {
    const list = d.windows.map((m) => md`• ${windowLine(m, snapshot)}`);
    const none = d.why === 'nothing-to-end' && f.kind === 'host';
    return {
      summary: none
        ? md`Nothing to end: *${f.host.name}* has no maintenance window running.`
        : d.windows.length
          ? md`${d.windows.length} maintenance window${d.windows.length === 1 ? '' : 's'} running.`
          : md`No maintenance window is running.`,
      sections: [
        ...(list.length ? [{ title: md`Maintenance windows`, lines: list }] : []),
        { lines: [USAGE] },
      ],
      warnings: [],
      noop: true,
    };
  }
  if (f.kind !== 'host') throw new Error('maintenance: a decision to go needs a Host');
  const h = f.host;
  const now = f.now;
  const incident = d.incident
    ? md`${h.name} has an open incident now (lost since ${clock(d.incident.lostAt, now)}, ${threadLink(d.incident, snapshot.linkBase)}): it still resolves in its thread when ${h.name} recovers.`
    : md`An incident of ${h.name} that is open when the window starts still resolves in its thread when ${h.name} recovers.`;
  if (d.action === 'end') {
    const c = d.current;
    return {
      summary: md`End *${h.name}*'s maintenance window now (set by ${mention(c.by)}, until ${clock(c.until, now)}${c.reason ? md`, ${c.reason}` : ''})`,
      sections: [
        {
          title: md`What it means`,
          lines: [
            md`• Alerts for ${h.name} come back at once: if it is lost when the window ends, that is alerted.`,
            md`• The monitor says in the alert channel that the window ended.`,
          ],
        },
      ],
      warnings: [],
      pinned: d.pinned,
    };
  }
  const p = d.pinned;
  const lines: Md[] = [
    md`• Alerts for ${h.name} are muted until ${clock(p.until, now)}: a new loss of it is not alerted until the window ends (if it is still lost then, it is alerted).`,
    md`• ${incident}`,
    md`• The monitor says in the alert channel when the window starts, changes and ends.`,
    p.reason
      ? md`• Reason: ${p.reason}`
      : md`• No reason given (\`--reason "…"\` says why, in the announcement).`,
    ...(d.current
      ? [
          md`• Replaces the window set by ${mention(d.current.by)} until ${clock(d.current.until, now)}${d.current.reason ? md` (${d.current.reason})` : ''}.`,
        ]
      : []),
  ];
  return {
    summary: md`Maintenance for *${h.name}* (\`${h.fqdn}\`) until ${clock(p.until, now)}: ${duration(d.lengthMs)} from this plan`,
    sections: [{ title: md`What it means`, lines }],
    warnings: [],
    pinned: p,
  };
}
