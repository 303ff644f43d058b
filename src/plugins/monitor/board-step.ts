/**
 * The step `alerts`, `status` and `diagnose` share: one read of the monitor's board (its view, the incidents
 * and acknowledgements, the maintenance windows), kept as the step's result so the command's result renders
 * what was read, at the time it was read.
 */

import type { Config } from '../../config.js';
import type { StepContext } from '../../core/plugin.js';
import { readBoardSnapshot } from '../../monitor/home.js';
import { type BoardSnapshot, boardSnapshotSchema, type Overview } from '../../monitor/overview.js';
import { type MonitorDeps, step } from './define.js';

export function boardStep<A, P>() {
  return step({
    id: 'board',
    title: "Read the monitor's board",
    output: boardSnapshotSchema,
    run: (ctx: StepContext<A, P, MonitorDeps>): Promise<BoardSnapshot> =>
      readBoardSnapshot(
        ctx.services.board,
        ctx.services.config.inventory.hosts.map((h) => h.name),
      ),
  });
}

/** The snapshot with what it is about (the inventory's Hosts, the monitor's lease). */
export const overviewOf = (snapshot: BoardSnapshot, config: Config): Overview => ({
  ...snapshot,
  hosts: config.inventory.hosts,
  leaseMs: config.inventory.monitor.leaseMs,
});
