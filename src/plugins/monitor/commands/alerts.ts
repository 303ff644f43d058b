/**
 * `/flexvdi alerts`: the open incidents (which Host, since when, lost or answering again, who acknowledged
 * it, a link to its thread; a storm as one incident) and the maintenance windows, as the monitor's board holds
 * them, and whether the monitor runs at all. Read-only, for anyone; it ends "with findings" when the monitor
 * is not running (then nothing is being watched).
 */
import { z } from 'zod';
import { NO_PINS } from '../../../core/plugin.js';
import { md, plural } from '../../../core/text.js';
import { ackOf, alertLines, monitorStatus, openAlerts, windowLines } from '../../../monitor/overview.js';
import { boardStep } from '../board-step.js';
import { command } from '../define.js';

const args = z.object({}).strict();
type Args = z.output<typeof args>;

const board = boardStep<Args, null>();

export const alertsCommand = command({
  id: 'alerts',
  summary: 'Open incidents (since when, acknowledged by whom, their threads) and maintenance windows',
  examples: ['/flexvdi alerts'],
  args,
  positionals: [],
  mutates: false,
  access: 'anyone',
  pinned: NO_PINS,
  plan: () => ({
    summary: md`Read the monitor's incidents and maintenance windows`,
    sections: [],
    warnings: [],
  }),
  steps: [board],
  result: (ctx) => {
    const snap = ctx.result(board);
    const status = monitorStatus(snap.view, ctx.services.config.inventory.monitor.leaseMs, snap.readAt);
    const open = openAlerts(snap);
    const acked = open.filter((i) => ackOf(i, snap.acks)).length;
    const alerts = alertLines(snap);
    const windows = windowLines(snap);
    const head = open.length
      ? md`${plural(open.length, 'open incident')} (${acked} acknowledged)`
      : md`No open incident`;
    return {
      summary: md`${status.running ? '' : ':warning: The monitor is not running. '}${head}, ${plural(windows.length, 'maintenance window')}`,
      sections: [
        { lines: [status.line] },
        { title: md`Open incidents`, lines: alerts.length ? alerts : [md`none`] },
        { title: md`Maintenance windows`, lines: windows.length ? windows : [md`none`] },
      ],
      outcome: status.running ? 'completed' : 'findings',
    };
  },
});
