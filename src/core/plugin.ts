/**
 * The plugin contract. A plugin is plain data: `definePlugin({ name, commands })`. A command spec says
 * everything about a command — id, help, args schema, whether it mutates, who may run it, how to plan it and
 * its ordered steps — and the core (registry, bot, engine) does the rest.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Config, InventoryHost } from '../config.js';

export type Access = 'anyone' | 'admin';

/** One line of a plan or result table. */
export interface PlanSection {
  title?: string;
  /** Markdown (Slack mrkdwn) lines. */
  lines: string[];
}

export interface Plan {
  /** One sentence: what will happen. */
  summary: string;
  sections: PlanSection[];
  warnings: string[];
  /**
   * Nothing to do (e.g. the Host is already registered): the bot says so and offers no Confirm button.
   * A mutating command with `noop` is reported, audited and never enqueued for execution.
   */
  noop?: boolean;
  /** Refuses to go on (preflight failed): shown with the reason, no Confirm button. */
  refused?: string;
  /** Values computed during planning that the steps must use unchanged (e.g. a pinned host key). */
  pinned?: Record<string, unknown>;
  /**
   * Offers an Edit button beside Confirm/Cancel: it opens a modal with these fields prefilled; the
   * submitted values replace those args, are validated with the command's schema, and a new plan is made
   * (the old one is superseded: its buttons stop working).
   */
  edit?: PlanEdit;
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
  hint?: string;
  /** `number` fields are sent to the schema as numbers; `list` fields are one item per line, sent joined by ','. */
  kind?: 'text' | 'number' | 'list';
  /** May be left empty (the argument is then dropped and its default applies). */
  optional?: boolean;
}

/** The action id of the Edit button (handled by the bot). */
export const EDIT_ACTION = 'flexvdi_edit';

/** The extra buttons a plan's message carries beside Confirm and Cancel. */
export function planButtons(p: Plan): { text: string; actionId: string }[] {
  return p.edit ? [{ text: 'Edit', actionId: EDIT_ACTION }] : [];
}

export interface ProgressReporter {
  /** A one-line status for the current step (coalesced; cheap to call often). */
  step(text: string): void;
  /** Per-Host status shown as a table in the job message. */
  host(name: string, state: 'pending' | 'running' | 'ok' | 'failed' | 'skipped', detail?: string): void;
}

/** Live dependencies a plugin may use. Injected by the worker; tests give real ones. */
export interface PluginServices {
  readonly config: Config;
  readonly log: Logger;
  /** Extra services (ssh pool, manager client, …) registered by the worker; plugins look them up by key. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface PlanContext<A> {
  readonly args: A;
  readonly requester: string;
  readonly isAdmin: boolean;
  readonly services: PluginServices;
  readonly signal: AbortSignal;
}

export interface StepContext<A> extends PlanContext<A> {
  readonly jobId: string;
  readonly attempt: number;
  /** Results of the steps finished before this one (including ones finished by an earlier run). */
  readonly results: Readonly<Record<string, unknown>>;
  /** What the plan pinned; the steps must not recompute it. */
  readonly pinned: Readonly<Record<string, unknown>>;
  readonly progress: ProgressReporter;
  /** Fine-grained checkpoints inside a step (e.g. per Host): survive a crash, scoped to this job. */
  readonly checkpoint: {
    get<T = unknown>(key: string): Promise<T | undefined>;
    set(key: string, value: unknown): Promise<void>;
  };
}

export interface Step<A> {
  id: string;
  title: string;
  /** Runs the step. Must be idempotent: it may run again after a crash before its checkpoint was written. */
  run(ctx: StepContext<A>): Promise<unknown>;
}

export interface CommandResult {
  /** Overall outcome sentence for the job message. */
  summary: string;
  sections: PlanSection[];
  /** Partial success: some Hosts failed; the job is reported as failed and `/flexvdi retry` finishes it. */
  failed?: boolean;
}

export interface CommandSpec<S extends z.ZodTypeAny = z.ZodTypeAny, Id extends string = string> {
  /** Words typed after `/flexvdi`, e.g. `register-host` or `ocfs2 first-node`. */
  id: Id;
  summary: string;
  examples: string[];
  args: S;
  /** Argument names taken by position, in order; every other field is a `--flag`. */
  positionals: readonly string[];
  mutates: boolean;
  access: Access;
  /** Hosts (inventory names) this command changes: the engine holds a lock on each while it runs. */
  locks?: (args: z.output<S>) => string[];
  plan: (ctx: PlanContext<z.output<S>>) => Promise<Plan> | Plan;
  steps: readonly Step<z.output<S>>[];
  result: (ctx: StepContext<z.output<S>>) => Promise<CommandResult> | CommandResult;
}

/** A command of any schema (specs are invariant in their schema, so collections hold them as `any`). */
// biome-ignore lint/suspicious/noExplicitAny: heterogeneous collection of specs; each is typed where defined
export type AnyCommand = CommandSpec<any, string>;

export interface Plugin {
  name: string;
  commands: readonly AnyCommand[];
  /** Other plugins this one needs (checked at boot). */
  dependsOn?: readonly string[];
}

/** Keeps the literal types of the command ids so job names are typed. */
export function defineCommand<S extends z.ZodTypeAny, const Id extends string>(
  spec: CommandSpec<S, Id>,
): CommandSpec<S, Id> {
  return spec;
}

export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

export function findHost(config: Config, nameOrFqdnOrIp: string): InventoryHost | undefined {
  const k = nameOrFqdnOrIp.toLowerCase();
  return config.inventory.hosts.find(
    (h) => h.name.toLowerCase() === k || h.fqdn.toLowerCase() === k || h.ip === k,
  );
}
