/**
 * The registry: plugins declare, the core registers. Checked once at boot: ids unique (also against the
 * built-in commands), dependencies present, every command well formed. Failures are coded errors.
 */
import { AppError, ErrorCode } from '../errors.js';
import { matchCommand } from './args.js';
import type { AnyCommand as CommandSpec, Plugin } from './plugin.js';

/** Commands the core itself answers (no plugin, no steps). */
export const BUILTIN_COMMANDS = [
  {
    id: 'help',
    summary: 'List the commands, or explain one: `/flexvdi help <command>`',
    usage: '/flexvdi help [<command>]',
  },
  { id: 'jobs', summary: 'Recent jobs and their state', usage: '/flexvdi jobs' },
  { id: 'job', summary: "One job's steps, state and result", usage: '/flexvdi job <id>' },
  {
    id: 'cancel',
    summary: 'Cancel a queued job, or stop a running one at its next safe point',
    usage: '/flexvdi cancel <id>',
  },
  {
    id: 'retry',
    summary: 'Run a failed job again; finished steps are not repeated',
    usage: '/flexvdi retry <id>',
  },
  { id: 'audit', summary: 'Who did what, when, and how it ended', usage: '/flexvdi audit [<count>]' },
] as const;

export type BuiltinId = (typeof BUILTIN_COMMANDS)[number]['id'];

export interface Registry {
  readonly plugins: readonly Plugin[];
  readonly commands: readonly CommandSpec[];
  get(id: string): CommandSpec | undefined;
  match(tokens: string[]): { spec: CommandSpec; rest: string[] } | undefined;
}

export function createRegistry(plugins: readonly Plugin[]): Registry {
  const byId = new Map<string, { spec: CommandSpec; plugin: string }>();
  const names = new Set<string>();
  for (const p of plugins) {
    if (names.has(p.name))
      throw new AppError(ErrorCode.registryDuplicate, `plugin "${p.name}" is registered twice`);
    names.add(p.name);
  }
  for (const p of plugins) {
    for (const dep of p.dependsOn ?? []) {
      if (!names.has(dep)) {
        throw new AppError(
          ErrorCode.registryInvalid,
          `plugin "${p.name}" depends on "${dep}", which is not registered`,
        );
      }
    }
    for (const spec of p.commands) {
      if (!/^[a-z0-9][a-z0-9-]*( [a-z0-9][a-z0-9-]*)*$/.test(spec.id)) {
        throw new AppError(
          ErrorCode.registryInvalid,
          `plugin "${p.name}": command id "${spec.id}" must be lower-case words`,
        );
      }
      const builtin = BUILTIN_COMMANDS.some((b) => b.id === spec.id.split(' ')[0]);
      const prev = byId.get(spec.id);
      if (prev || builtin) {
        throw new AppError(
          ErrorCode.registryDuplicate,
          `command "${spec.id}" of plugin "${p.name}" is already defined by ${prev ? `plugin "${prev.plugin}"` : 'the core'}`,
        );
      }
      if (spec.mutates && spec.access !== 'admin') {
        throw new AppError(
          ErrorCode.registryInvalid,
          `command "${spec.id}" mutates, so its access must be "admin"`,
        );
      }
      if (spec.steps.length === 0)
        throw new AppError(ErrorCode.registryInvalid, `command "${spec.id}" has no steps`);
      const stepIds = new Set(spec.steps.map((s) => s.id));
      if (stepIds.size !== spec.steps.length) {
        throw new AppError(ErrorCode.registryInvalid, `command "${spec.id}" has duplicate step ids`);
      }
      byId.set(spec.id, { spec, plugin: p.name });
    }
  }
  const commands = [...byId.values()].map((v) => v.spec);
  return Object.freeze({
    plugins,
    commands,
    get: (id: string) => byId.get(id)?.spec,
    match: (tokens: string[]) => matchCommand(commands, tokens),
  });
}
