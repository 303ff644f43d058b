/**
 * What a plan and a result are: the data a command returns for the one renderer to show (Md text, never
 * Slack markup written by hand), and the zod schemas they are read back with from Redis. Part of the plugin
 * contract (src/core/plugin.ts re-exports all of it).
 */
import { z } from 'zod';
import { type Md, mdSchema } from './text.js';

// ---------------------------------------------------------------------------------------------- plans

/** A titled block of lines in a plan or a result. */
export interface Section {
  title?: Md | undefined;
  lines: readonly Md[];
}

export interface Plan<P = unknown> {
  /** One sentence: what will happen. */
  summary: Md;
  sections: readonly Section[];
  warnings: readonly Md[];
  /**
   * Nothing to do (e.g. the Host is already registered): the bot says so and offers no Confirm button.
   * A mutating command with `noop` is reported, audited and never enqueued for execution.
   */
  noop?: boolean;
  /** Refuses to go on (preflight failed): shown with the reason, no Confirm button. */
  refused?: Md;
  /** Values computed during planning that the steps must use unchanged (validated with `pinned`). */
  pinned?: P;
  /** Offers an Edit button beside Confirm/Cancel (see PlanEdit). */
  edit?: PlanEdit;
  /**
   * The most destructive plans: Confirm opens a modal in which the person confirming must type `text`
   * exactly (e.g. the volume's name before a device that holds a file system is formatted); a click alone
   * does not confirm. `why` is shown in the modal above the input.
   */
  typeToConfirm?: TypeToConfirm;
}

export interface TypeToConfirm {
  /** What must be typed, exactly (case-sensitive, ≤ 150 characters). */
  text: string;
  /** One or two sentences: what is destroyed if this goes on. */
  why: Md;
}

/** The Edit modal of a plan: one input per argument, prefilled with the values the plan used. */
export interface PlanEdit {
  /** Modal title (Slack allows 24 characters). */
  title: string;
  fields: EditField[];
}

export interface EditField {
  /** The argument's name in the command's schema (camelCase, as in `args`). */
  name: string;
  label: string;
  /** Prefilled value, as typed in chat; empty = not given. */
  value: string;
  hint?: string | undefined;
  /** `number` fields are sent to the schema as numbers; `list` fields are one item per line, sent joined by ','. */
  kind?: 'text' | 'number' | 'list' | undefined;
  /** May be left empty (the argument is then dropped and its default applies). */
  optional?: boolean | undefined;
}

export const sectionSchema = z.object({ title: mdSchema.optional(), lines: z.array(mdSchema).readonly() });
export const planEditSchema = z.object({
  title: z.string(),
  fields: z.array(
    z.object({
      name: z.string(),
      label: z.string(),
      value: z.string(),
      hint: z.string().optional(),
      kind: z.enum(['text', 'number', 'list']).optional(),
      optional: z.boolean().optional(),
    }),
  ),
});
/** A plan as stored in Redis (the confirmation, the job-state record); `pinned` stays opaque here. */
export const storedPlanSchema = z.object({
  summary: mdSchema,
  sections: z.array(sectionSchema).readonly(),
  warnings: z.array(mdSchema).readonly(),
  noop: z.boolean().optional(),
  refused: mdSchema.optional(),
  pinned: z.unknown().optional(),
  edit: planEditSchema.optional(),
  typeToConfirm: z.object({ text: z.string().min(1).max(150), why: mdSchema }).optional(),
});
export type StoredPlan = z.output<typeof storedPlanSchema>;

/** The action id of the Edit button (handled by the bot). */
export const EDIT_ACTION = 'flexvdi_edit';

/** The extra buttons a plan's message carries beside Confirm and Cancel. */
export function planButtons(p: { edit?: PlanEdit | undefined }): { text: string; actionId: string }[] {
  return p.edit ? [{ text: 'Edit', actionId: EDIT_ACTION }] : [];
}

// ---------------------------------------------------------------------------------------------- decisions

/**
 * A plan is gather → decide → render. `decide` is pure and returns a refusal (a stable code and the data its
 * message needs), a no-op, or go with what is pinned; a plan that gathers in stages asks its `…SoFar`
 * decision after each stage and stops reading once it decides.
 */
export type Refusal<Code extends string, Data = unknown> = { kind: 'refuse'; code: Code } & Data;

/** Facts of a command whose Host is not in the inventory: the Host as given, and why (our prose). */
export interface Unresolved {
  kind: 'unresolved';
  asked: string;
  reason: string;
}

/** The decision on complete facts: the plan gathered until `soFar` decided, so undefined here is a bug. */
export function decided<D>(d: D | undefined, command: string): D {
  if (d === undefined) throw new Error(`${command}: the plan decided on incomplete facts`);
  return d;
}

// ---------------------------------------------------------------------------------------------- results

/**
 * How a command ended. `completed`: it did what it says. `findings`: a read-only command that could look but
 * found problems (shown ⚠️, distinct from ✅). `failed`: some of the work could not be done; the job is
 * reported failed and `/flexvdi retry` finishes it.
 */
export type Outcome = 'completed' | 'findings' | 'failed';

export interface CommandResult {
  /** Overall outcome sentence for the job message. */
  summary: Md;
  sections: readonly Section[];
  outcome?: Outcome;
}

export const commandResultSchema = z.object({
  summary: mdSchema,
  sections: z.array(sectionSchema).readonly(),
  outcome: z.enum(['completed', 'findings', 'failed']).optional(),
});
