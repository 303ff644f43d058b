/**
 * The plugin contract (v2). A plugin is plain data: `definePlugin({ name, dependsOn, api, commands })`. A
 * command (`defineCommand`) says everything about itself — id, help, args schema, whether it mutates, who may
 * run it, what its plan pins, how to plan it, its ordered steps and its result — and the core does the rest.
 *
 * Types are kept where a command is written and erased safely for collections: a `Command` in a list only
 * accepts `unknown` arguments and pinned values and parses them with the command's own schemas before its
 * plan or any step sees them (`bind`). Steps declare the schema of what they return; a result is validated
 * when the step returns it and again when it is read back from a checkpoint, and `ctx.result(step)` gives it
 * typed. Plugins get typed services (`PluginServices`) and the APIs of the plugins they depend on (`deps`).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config, InventoryHost } from '../config.js';
import { AppError, ErrorCode, type Result } from '../errors.js';
import type { ManagerClient } from '../manager/index.js';
import type { MonitorBoard } from '../monitor/board.js';
import type { SshPool } from '../ssh/index.js';
import type { CommandResult, Plan } from './plan.js';
import { type Md, mdSchema } from './text.js';

export * from './plan.js';

/** A zod schema with output T (whatever its input). */
export type Schema<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

export type Access = 'anyone' | 'admin';

// ---------------------------------------------------------------------------------------------- services

export type HostState = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

export interface ProgressReporter {
  /** A one-line status for the current step (coalesced; cheap to call often). */
  step(text: string): void;
  /** Per-Host status shown as a table in the job message. */
  host(name: string, state: HostState, detail?: string): void;
}

/** What a plugin knows a Host does (e.g. "node 2 of OCFS2 cluster x"): collected for replace-host and alerts. */
export interface HostRole {
  plugin: string;
  /** One line, e.g. `node 2 (\`host2\`) of OCFS2 cluster \`flexvdi\``. */
  role: Md;
  /** What to do after the Host was replaced, e.g. the rejoin command. */
  afterReplace?: Md;
  /**
   * What happens how long after the Host is lost (shown in its alert with clock times), e.g. the OCFS2
   * cluster evicting it after o2net's idle timeout.
   */
  onLoss?: { afterMs: number; what: Md }[];
  /**
   * Commands the Host's alert offers as buttons while it is lost, each on another Host: a click opens the
   * command's plan in the incident's thread, as if the clicker typed `/flexvdi <command> <host>` (admins
   * only, confirmed as usual). E.g. the Manager it ran, started elsewhere (`manager start-on host2`).
   */
  offers?: HostOffer[];
}
export interface HostOffer {
  /** The button's text (Slack: ≤ 75 characters). */
  label: string;
  /** A command id whose one positional is a Host, e.g. `manager start-on`. */
  command: string;
  /** The Host it names (inventory name). */
  host: string;
  /**
   * The monitor may run it by itself this long after the loss, where the inventory opts in (the Manager's
   * automatic failover: `manager.autoFailover`). The first such offer's `afterMs` counts; each attempt names
   * the next offered Host the monitor sees healthy (src/monitor/auto-run.ts).
   */
  auto?: { afterMs: number };
}
export const hostOfferSchema = z.object({
  label: z.string().max(75),
  command: z.string().max(60),
  host: z.string().max(253),
  auto: z.object({ afterMs: z.number() }).optional(),
});
export const hostRoleSchema = z.object({
  plugin: z.string(),
  role: mdSchema,
  afterReplace: mdSchema.optional(),
  onLoss: z.array(z.object({ afterMs: z.number(), what: mdSchema })).optional(),
  offers: z.array(hostOfferSchema).optional(),
});

/** The live dependencies every plugin receives. Interfaces, so tests can give fakes. */
export interface PluginServices {
  readonly config: Config;
  readonly log: Logger;
  readonly ssh: SshPool;
  readonly manager: ManagerClient;
  /** The heartbeat monitor's board in Redis: its view, incidents, acknowledgements, maintenance windows. */
  readonly board: MonitorBoard;
  /** Every plugin's `hostRoles` for one Host (a plugin that cannot tell says nothing). */
  hostRoles(host: InventoryHost, signal: AbortSignal): Promise<HostRole[]>;
}

// ---------------------------------------------------------------------------------------------- contexts

export interface PlanContext<A, D> {
  readonly args: A;
  readonly deps: D;
  readonly requester: string;
  readonly isAdmin: boolean;
  readonly services: PluginServices;
  readonly signal: AbortSignal;
}

/** Fine-grained checkpoints inside a step (e.g. per Host): survive a crash, scoped to this job, validated. */
export interface SubCheckpoints {
  get<T>(key: string, schema: Schema<T>): Promise<T | undefined>;
  set<T>(key: string, schema: Schema<T>, value: T): Promise<void>;
}

/** Reads the results of the steps finished before this one (this run or an earlier one), validated. */
export type StepResults = <O>(step: StepRef<O>) => O;

export interface StepContext<A, P, D> extends PlanContext<A, D> {
  readonly jobId: string;
  readonly attempt: number;
  /** What the plan pinned (validated with the command's `pinned` schema); steps must not recompute it. */
  readonly pinned: P;
  readonly progress: ProgressReporter;
  readonly checkpoint: SubCheckpoints;
  /** `ctx.result(someStep)`: that step's result, typed and validated; an internal error if it has not run. */
  readonly result: StepResults;
  /**
   * The step ran but could not do all of its work (a read that got no answer, a Host that did not reply):
   * the step is shown ⚠️ with this text instead of ✅. Return what was found as usual.
   */
  finding(text: string): void;
}

export type ResultContext<A, P, D> = Omit<StepContext<A, P, D>, 'progress' | 'checkpoint' | 'finding'>;

// ---------------------------------------------------------------------------------------------- steps

/** A step as a handle: its id and the schema of its result. */
export interface StepRef<O> {
  readonly id: string;
  readonly output: Schema<O>;
}

export interface Step<A, P, D, O> extends StepRef<O> {
  readonly title: string;
  /** Runs the step. Must be idempotent: it may run again after a crash before its checkpoint was written. */
  run(ctx: StepContext<A, P, D>): Promise<O>;
}

/** Defines a step; the types of args, pinned and deps come from the annotation of `run`'s context. */
export function defineStep<A, P, D, O>(step: Step<A, P, D, O>): Step<A, P, D, O> {
  return step;
}

// ---------------------------------------------------------------------------------------------- commands

/** What the bot and help need of a command: no services, no deps. */
export interface CommandInfo {
  readonly id: string;
  readonly summary: string;
  readonly examples: readonly string[];
  readonly args: Schema<unknown>;
  /** Argument names taken by position, in order; every other field is a `--flag`. */
  readonly positionals: readonly string[];
  /** The last positional takes every remaining word (e.g. `help ocfs2 join`). */
  readonly restPositional?: boolean;
  readonly mutates: boolean;
  readonly access: Access;
  readonly steps: readonly { readonly id: string; readonly title: string }[];
}

export interface CommandSpec<A, P, D> {
  /** Words typed after `/flexvdi`, e.g. `register-host` or `ocfs2 first-node`. */
  id: string;
  summary: string;
  examples: readonly string[];
  args: Schema<A>;
  positionals: readonly (keyof A & string)[];
  /** The last positional takes every remaining word. */
  restPositional?: boolean;
  mutates: boolean;
  access: Access;
  /** The schema of what the plan pins (`NO_PINS` when it pins nothing); steps get it parsed. */
  pinned: Schema<P>;
  /**
   * Hosts (and other resources) this command changes, as the engine should lock them: return inventory
   * Hosts where the command names one, so that every spelling (name, FQDN, IP) locks the same Host.
   */
  locks?: (args: A, config: Config) => readonly (InventoryHost | string)[];
  plan(ctx: PlanContext<A, D>): Promise<Plan<P>> | Plan<P>;
  steps: readonly Step<A, P, D, unknown>[];
  result(ctx: ResultContext<A, P, D>): Promise<CommandResult> | CommandResult;
}

/** Everything the engine needs of a run, per step: given by the worker. */
export interface StepEnv {
  readonly requester: string;
  readonly isAdmin: boolean;
  readonly services: PluginServices;
  readonly signal: AbortSignal;
  readonly jobId: string;
  readonly attempt: number;
  readonly progress: ProgressReporter;
  readonly checkpoint: SubCheckpoints;
  /** Records that the running step could not do all of its work (see StepContext.finding). */
  readonly finding: (text: string) => void;
  /** Results so far, by step id (already validated by `BoundStep.accept` or by the step's run). */
  readonly results: ReadonlyMap<string, unknown>;
}

export interface PlanEnv {
  readonly requester: string;
  readonly isAdmin: boolean;
  readonly services: PluginServices;
  readonly signal: AbortSignal;
}

export interface BoundStep {
  readonly id: string;
  readonly title: string;
  /** Runs the step; what it returns is validated with its output schema. */
  run(env: StepEnv): Promise<unknown>;
  /** Validates a result read back from a checkpoint. */
  accept(saved: unknown): Result<unknown>;
}

/** A command with its arguments parsed: it can be planned and locked, and run once given its pinned values. */
export interface BoundCommand {
  readonly info: CommandInfo;
  /** The resources to lock: canonical Host ids (`host:<name>`) and named resources. */
  locks(config: Config): string[];
  plan(env: PlanEnv): Promise<Plan>;
  /** Parses what the confirmed plan pinned with the command's `pinned` schema. */
  withPinned(pinned: unknown): Result<BoundRun>;
}

export interface BoundRun {
  readonly steps: readonly BoundStep[];
  result(env: Omit<StepEnv, 'progress' | 'checkpoint' | 'finding'>): Promise<CommandResult>;
}

/** A command in a collection: its info, and `bind`, which parses the args with the command's own schema. */
export interface Command<D> {
  readonly info: CommandInfo;
  bind(args: unknown, deps: D): Result<BoundCommand>;
}

/** The registry's view of a command once its plugin's dependencies are resolved. */
export interface RunnableCommand {
  readonly info: CommandInfo;
  bind(args: unknown): Result<BoundCommand>;
}

/** The `pinned` schema of a command whose plan pins nothing. */
export const NO_PINS: Schema<null> = z.null().default(null);

/** Canonical lock id of an inventory Host: one per Host whatever name, FQDN or IP was typed. */
export const hostLockId = (h: InventoryHost): string => `host:${h.name.toLowerCase()}`;

export function invalidData(what: string, err: z.ZodError): AppError {
  const issue = err.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return new AppError(ErrorCode.jobInvalidData, `${what}: ${where}${issue?.message ?? 'invalid'}`, {
    userMessage: `This job's ${what} no longer match the command (${where}${issue?.message ?? 'invalid'}). Run the command again for a fresh plan.`,
  });
}

function resultsReader(results: ReadonlyMap<string, unknown>): StepResults {
  return <O>(step: StepRef<O>): O => {
    if (!results.has(step.id))
      throw new AppError(ErrorCode.internal, `step "${step.id}" has no result yet (read before it ran)`);
    const parsed = step.output.safeParse(results.get(step.id));
    if (!parsed.success) throw invalidData(`result of step "${step.id}"`, parsed.error);
    return parsed.data;
  };
}

/** The frozen CommandInfo of a spec (plugin commands here, the core's built-ins in src/bot/builtins.ts). */
export function commandInfo<Id extends string>(spec: {
  id: Id;
  summary: string;
  examples: readonly string[];
  args: Schema<unknown>;
  positionals: readonly string[];
  restPositional?: boolean | undefined;
  mutates: boolean;
  access: Access;
  steps: readonly { id: string; title: string }[];
}): CommandInfo & { readonly id: Id } {
  return Object.freeze({
    id: spec.id,
    summary: spec.summary,
    examples: spec.examples,
    args: spec.args,
    positionals: spec.positionals,
    ...(spec.restPositional ? { restPositional: true } : {}),
    mutates: spec.mutates,
    access: spec.access,
    steps: spec.steps.map((s) => ({ id: s.id, title: s.title })),
  });
}

/** Defines a command. `D` is the plugin's deps (see `commandsFor`); A and P come from the schemas. */
export function defineCommand<A, P, D = NoDeps>(spec: CommandSpec<A, P, D>): Command<D> {
  const info = commandInfo(spec);
  return {
    info,
    bind(rawArgs, deps) {
      const args = spec.args.safeParse(rawArgs);
      if (!args.success) return { ok: false, error: invalidData('arguments', args.error) };
      const a = args.data;
      const planCtx = (env: PlanEnv): PlanContext<A, D> => ({ ...env, args: a, deps });
      const run = (pinned: P): BoundRun => ({
        steps: spec.steps.map((s) => ({
          id: s.id,
          title: s.title,
          run: async (env) => {
            const value = await s.run({
              ...planCtx(env),
              ...env,
              pinned,
              result: resultsReader(env.results),
            });
            const checked = s.output.safeParse(value);
            if (!checked.success)
              throw new AppError(
                ErrorCode.internal,
                `step "${s.id}" returned a result that does not match its schema: ${checked.error.issues[0]?.message}`,
              );
            return checked.data;
          },
          accept: (saved) => {
            const r = s.output.safeParse(saved);
            return r.success
              ? { ok: true, value: r.data }
              : { ok: false, error: invalidData(`checkpoint of step "${s.id}"`, r.error) };
          },
        })),
        result: async (env) =>
          spec.result({ ...planCtx(env), ...env, pinned, result: resultsReader(env.results) }),
      });
      return {
        ok: true,
        value: {
          info,
          locks: (config) =>
            (spec.locks?.(a, config) ?? []).map((r) => (typeof r === 'string' ? r : hostLockId(r))),
          plan: async (env) => spec.plan(planCtx(env)),
          withPinned(raw) {
            const pinned = spec.pinned.safeParse(raw);
            if (!pinned.success) return { ok: false, error: invalidData('pinned plan values', pinned.error) };
            return { ok: true, value: run(pinned.data) };
          },
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------- plugins

/** Plugins that depend on nothing get this as `deps`. */
export type NoDeps = Readonly<Record<never, never>>;

export interface Plugin<Api> {
  readonly name: string;
  /** Names of the plugins this one depends on (checked at boot). */
  readonly dependsOn: readonly string[];
  readonly commands: readonly CommandInfo[];
  /** This plugin's API for the given services (built once per services object). */
  api(services: PluginServices): Api;
  /** This plugin's commands, with its dependencies' APIs resolved for the given services. */
  runnable(services: PluginServices): readonly RunnableCommand[];
  /** What this Host does for this plugin (OCFS2 node, runs the Manager…), for replace-host and alerts. */
  hostRoles(services: PluginServices, host: InventoryHost, signal: AbortSignal): Promise<HostRole[]>;
}

/** Any plugin, whatever its API, for collections. */
export type AnyPlugin = Plugin<unknown>;

/** Resolves a dependency's API; refuses a plugin that was not declared in `dependsOn`. */
export type Use = <X>(p: Plugin<X>) => X;

export interface PluginDefinition<Api, D> {
  name: string;
  /** The plugins whose APIs this one uses. */
  dependsOn?: readonly AnyPlugin[];
  /**
   * Builds `deps` (what commands, the API and hostRoles get) from the declared dependencies:
   * `(use) => ({ registration: use(registrationPlugin) })`; `() => ({})` for none.
   */
  deps: (use: Use) => D;
  /** What this plugin offers its dependants. */
  api?: (services: PluginServices, deps: D) => Api;
  commands: readonly Command<D>[];
  hostRoles?: (
    services: PluginServices,
    deps: D,
    host: InventoryHost,
    signal: AbortSignal,
  ) => Promise<HostRole[]>;
}

export function definePlugin<Api = undefined, D = NoDeps>(def: PluginDefinition<Api, D>): Plugin<Api> {
  const declared = def.dependsOn ?? [];
  const apis = new WeakMap<PluginServices, { api: Api }>();
  const depsCache = new WeakMap<PluginServices, { deps: D }>();
  const depsFor = (s: PluginServices): D => {
    const hit = depsCache.get(s);
    if (hit) return hit.deps;
    const use: Use = (p) => {
      if (!declared.includes(p))
        throw new AppError(
          ErrorCode.registryInvalid,
          `plugin "${def.name}" uses plugin "${p.name}" without declaring it in dependsOn`,
        );
      return p.api(s);
    };
    const deps = def.deps(use);
    depsCache.set(s, { deps });
    return deps;
  };
  const plugin: Plugin<Api> = {
    name: def.name,
    dependsOn: declared.map((p) => p.name),
    commands: def.commands.map((c) => c.info),
    api(s) {
      const hit = apis.get(s);
      if (hit) return hit.api;
      if (!def.api) throw new AppError(ErrorCode.registryInvalid, `plugin "${def.name}" offers no API`);
      const api = def.api(s, depsFor(s));
      apis.set(s, { api });
      return api;
    },
    runnable(s) {
      // Built here, not on first bind: an undeclared `use` fails at boot, and `bind` never throws.
      const deps = depsFor(s);
      return def.commands.map((c) => ({ info: c.info, bind: (args) => c.bind(args, deps) }));
    },
    hostRoles: async (s, host, signal) => (def.hostRoles ? def.hostRoles(s, depsFor(s), host, signal) : []),
  };
  return Object.freeze(plugin);
}

/**
 * Typed helpers for one plugin's commands: `const { command, step } = commandsFor<Ocfs2Deps>()`, then
 * `command({...})` and `step({...})` carry the plugin's deps type without repeating it.
 */
export function commandsFor<D>() {
  return {
    command: <A, P>(spec: CommandSpec<A, P, D>): Command<D> => defineCommand<A, P, D>(spec),
    step: <A, P, O>(s: Step<A, P, D, O>): Step<A, P, D, O> => s,
  };
}

export function findHost(config: Config, nameOrFqdnOrIp: string): InventoryHost | undefined {
  const k = nameOrFqdnOrIp.toLowerCase();
  return config.inventory.hosts.find(
    (h) => h.name.toLowerCase() === k || h.fqdn.toLowerCase() === k || h.ip === k,
  );
}
