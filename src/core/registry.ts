/**
 * The registry: plugins declare, the core registers. Checked once at boot: ids unique (also against the
 * built-in commands), dependencies present, every command well formed. Failures are coded errors.
 */

import { commandIdRe, type InventoryHost } from '../config.js';
import { AppError, ErrorCode } from '../errors.js';
import { matchCommand } from './args.js';
import type { AnyPlugin, CommandInfo, HostRole, PluginServices, RunnableCommand } from './plugin.js';

/** The core's own commands (answered by the bot; their specs live in src/bot/builtins). */
export const BUILTIN_IDS = ['help', 'jobs', 'job', 'cancel', 'retry', 'audit'] as const;
export type BuiltinId = (typeof BUILTIN_IDS)[number];

/** The live clients the worker builds; the registry adds what the plugins contribute (hostRoles). */
export type BaseServices = Omit<PluginServices, 'hostRoles'>;

export interface Registry {
  readonly plugins: readonly AnyPlugin[];
  readonly commands: readonly CommandInfo[];
  get(id: string): CommandInfo | undefined;
  match(tokens: string[]): { spec: CommandInfo; rest: string[] } | undefined;
  /** The services plugins receive: the base clients plus every plugin's hostRoles. */
  services(base: BaseServices): PluginServices;
  /** Every command, runnable with these services (its plugin's dependencies resolved). */
  runnable(services: PluginServices): ReadonlyMap<string, RunnableCommand>;
}

export function createRegistry(plugins: readonly AnyPlugin[]): Registry {
  const byId = new Map<string, { spec: CommandInfo; plugin: string }>();
  const names = new Set<string>();
  for (const p of plugins) {
    if (names.has(p.name))
      throw new AppError(ErrorCode.registryDuplicate, `plugin "${p.name}" is registered twice`);
    names.add(p.name);
  }
  for (const p of plugins) {
    for (const dep of p.dependsOn) {
      if (!names.has(dep)) {
        throw new AppError(
          ErrorCode.registryInvalid,
          `plugin "${p.name}" depends on "${dep}", which is not registered`,
        );
      }
    }
    for (const spec of p.commands) {
      if (!commandIdRe.test(spec.id)) {
        throw new AppError(
          ErrorCode.registryInvalid,
          `plugin "${p.name}": command id "${spec.id}" must be lower-case words`,
        );
      }
      const first = spec.id.split(' ')[0] ?? '';
      const builtin = BUILTIN_IDS.some((b) => b === first);
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
    services(base: BaseServices): PluginServices {
      const services: PluginServices = {
        ...base,
        async hostRoles(host: InventoryHost, signal: AbortSignal): Promise<HostRole[]> {
          const all = await Promise.all(
            plugins.map((p) =>
              p.hostRoles(services, host, signal).catch((err: unknown) => {
                base.log.warn({ plugin: p.name, host: host.name, err: String(err) }, 'hostRoles failed');
                return [];
              }),
            ),
          );
          return all.flat();
        },
      };
      return services;
    },
    runnable(services: PluginServices) {
      return new Map(plugins.flatMap((p) => p.runnable(services).map((c) => [c.info.id, c] as const)));
    },
  });
}

/**
 * Checks the command ids an inventory setting names (`field`, e.g. `slack.approvals.commands`) against the
 * registry, at start-up: each must be a registered command that makes a plan (mutates). Commands plugins add
 * later are accepted as soon as they are registered. A config error naming the id and the known ones.
 */
export function assertPlannedCommands(registry: Registry, field: string, ids: readonly string[]): void {
  const planned = registry.commands.filter((c) => c.mutates).map((c) => c.id);
  const bad = ids.filter((id) => !planned.includes(id));
  if (!bad.length) return;
  const known = planned.length ? planned.map((id) => `"${id}"`).join(', ') : '(none)';
  const names = bad.map(
    (id) => `"${id}"${registry.get(id) ? ' (read-only: it has no plan to confirm)' : ''}`,
  );
  throw new AppError(
    ErrorCode.configInvalid,
    `${field}: unknown command ${names.join(', ')}; the commands with a plan to confirm are ${known}`,
  );
}
