/**
 * The decision of `/flexvdi maintenance`, as a pure function of what its plan gathers (the board's windows,
 * the Host's open incident, the time): list the windows (no Host named), refuse an unknown Host, nothing to
 * end, or go with the window to set or end pinned. No I/O, so every rule is a unit test.
 */
import { z } from 'zod';
import type { InventoryHost } from '../../config.js';
import type { Refusal, Unresolved } from '../../core/plugin.js';
import { ErrorCode } from '../../errors.js';
import type { Maintenance } from '../../monitor/board.js';
import type { Incident } from '../../monitor/incidents.js';
import { activeWindows } from '../../monitor/overview.js';

export const maintenancePinnedSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('set'),
    host: z.string(),
    /** When the window ends (wall clock, ms): what the plan showed. */
    until: z.number(),
    reason: z.string().nullable(),
  }),
  /** Ends the window the plan showed, and only that one. */
  z.object({ action: z.literal('end'), host: z.string(), windowId: z.string() }),
]);
export type MaintenancePinned = z.output<typeof maintenancePinnedSchema>;

export type MaintenanceFacts =
  | { kind: 'list'; windows: Maintenance[]; now: number }
  | {
      kind: 'host';
      host: InventoryHost;
      windows: Maintenance[];
      /** The Host's open incident, if it has one now. */
      incident: Incident | null;
      now: number;
      end: boolean;
      /** The window's length (`--for`, or the default), already within bounds. */
      lengthMs: number;
      reason: string | null;
    };

export type MaintenanceDecision =
  | Refusal<typeof ErrorCode.inventoryUnknownHost, { reason: string }>
  | { kind: 'noop'; why: 'list'; windows: Maintenance[] }
  | { kind: 'noop'; why: 'nothing-to-end'; windows: Maintenance[] }
  | {
      kind: 'go';
      action: 'set';
      pinned: Extract<MaintenancePinned, { action: 'set' }>;
      /** The window it replaces, if one is running. */
      current: Maintenance | null;
      incident: Incident | null;
      lengthMs: number;
    }
  | {
      kind: 'go';
      action: 'end';
      pinned: Extract<MaintenancePinned, { action: 'end' }>;
      current: Maintenance;
      incident: Incident | null;
    };

export function decideMaintenance(f: MaintenanceFacts | Unresolved): MaintenanceDecision {
  if (f.kind === 'unresolved')
    return { kind: 'refuse', code: ErrorCode.inventoryUnknownHost, reason: f.reason };
  const running = activeWindows(f.windows, f.now);
  if (f.kind === 'list') return { kind: 'noop', why: 'list', windows: running };
  const current = running.find((m) => m.host === f.host.name) ?? null;
  if (f.end) {
    if (!current) return { kind: 'noop', why: 'nothing-to-end', windows: running };
    return {
      kind: 'go',
      action: 'end',
      pinned: { action: 'end', host: f.host.name, windowId: current.id },
      current,
      incident: f.incident,
    };
  }
  return {
    kind: 'go',
    action: 'set',
    pinned: { action: 'set', host: f.host.name, until: f.now + f.lengthMs, reason: f.reason },
    current,
    incident: f.incident,
    lengthMs: f.lengthMs,
  };
}
