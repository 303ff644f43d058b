/**
 * Four eyes (inventory `slack.approvals.commands`): a plan of a listed command runs only once two different
 * people confirmed it, the requester first, then an admin who is not the requester. The approvals so far
 * live in the pending confirmation (src/jobs/confirmations.ts); the rules are here, pure, in one place.
 */
import { z } from 'zod';
import type { Inventory } from '../config.js';

export const approvalSchema = z.object({ user: z.string(), at: z.number() });
export type Approval = z.output<typeof approvalSchema>;

/** How many people must confirm a plan of `command`: 2 with four eyes, else 1. */
export function approvalsRequired(inventory: Pick<Inventory, 'slack'>, command: string): 1 | 2 {
  return inventory.slack.approvals.commands.includes(command) ? 2 : 1;
}

/**
 * What a Confirm by `user` does to a pending plan that needs `required` approvals:
 * - `final`: it is the last approval needed: the plan is claimed and runs;
 * - `record`: the requester's first approval is recorded, and the plan waits for a second admin;
 * - `already`: this user approved already (a second click, a redelivery);
 * - `requester-first`: someone else than the requester clicked before the requester approved;
 * - `not-admin`: the second approval needs an admin.
 * Who may click at all (the requester or an admin) is checked before, as for any plan.
 */
export type ApprovalStep = 'final' | 'record' | 'already' | 'requester-first' | 'not-admin';

export function nextApproval(
  p: { requester: string; approvals: readonly Approval[] },
  user: string,
  userIsAdmin: boolean,
  required: number,
): ApprovalStep {
  if (required <= 1) return 'final';
  if (p.approvals.some((a) => a.user === user)) return 'already';
  const requesterApproved = p.approvals.some((a) => a.user === p.requester);
  if (!requesterApproved) return user === p.requester ? 'record' : 'requester-first';
  if (!userIsAdmin) return 'not-admin';
  return p.approvals.length + 1 >= required ? 'final' : 'record';
}

/** The `approvals` field of a job or plan message: present only where four eyes are required. */
export function approvalsField(
  required: 1 | 2,
  by: readonly string[],
): { approvals?: { required: 2; by: string[] } } {
  return required > 1 ? { approvals: { required: 2, by: [...by] } } : {};
}
