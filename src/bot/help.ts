/** Help text, generated from the registry (plugins' specs) and the built-in commands' specs. */
import { usage } from '../core/args.js';
import type { CommandInfo } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import { suggestCommands } from '../core/suggest.js';

/** The full list, built once per registry and set of built-ins (both are fixed once the program runs). */
const lists = new WeakMap<Registry, WeakMap<readonly { info: CommandInfo }[], string>>();

export function helpText(
  registry: Registry,
  builtins: readonly { info: CommandInfo }[],
  topic?: string,
): string {
  if (!topic) {
    let byBuiltins = lists.get(registry);
    if (!byBuiltins) {
      byBuiltins = new WeakMap();
      lists.set(registry, byBuiltins);
    }
    let text = byBuiltins.get(builtins);
    if (text === undefined) {
      text = commandList(registry, builtins);
      byBuiltins.set(builtins, text);
    }
    return text;
  }
  const wanted = topic.toLowerCase().trim().replace(/\s+/g, ' ');
  const spec =
    registry.commands.find((c) => c.id === wanted) ?? builtins.find((b) => b.info.id === wanted)?.info;
  if (spec) {
    return [
      `*/flexvdi ${spec.id}* — ${spec.summary}`,
      `Usage: \`${usage(spec)}\``,
      spec.mutates
        ? 'Changes the cluster: shows a plan first and asks for confirmation. Admins only.'
        : spec.access === 'admin'
          ? 'Admins only.'
          : 'Read-only.',
      ...(spec.examples.length ? ['Examples:', ...spec.examples.map((e) => `• \`${e}\``)] : []),
    ].join('\n');
  }
  const group = registry.commands.filter((c) => c.id.startsWith(`${wanted} `));
  if (group.length) {
    return [
      `*/flexvdi ${wanted} …* — ${group.length} command${group.length === 1 ? '' : 's'}`,
      ...group.map(
        (c) => `• \`${usage(c)}\` — ${c.summary}${c.mutates ? ' (admins; asks for confirmation)' : ''}`,
      ),
      `\`/flexvdi help ${wanted} <command>\` explains one.`,
    ].join('\n');
  }
  const ids = [...registry.commands.map((c) => c.id), ...builtins.map((b) => b.info.id)];
  const close = suggestCommands(wanted.split(' '), ids).map((id) => `\`/flexvdi help ${id}\``);
  return `No command \`${topic.slice(0, 60).replace(/[`<>&]/g, '')}\`.${close.length ? ` Did you mean ${close.join(' or ')}?` : ''} Try \`/flexvdi help\`.`;
}

function commandList(registry: Registry, builtins: readonly { info: CommandInfo }[]): string {
  const lines = ['*flexVDI cluster commands*'];
  for (const p of registry.plugins) {
    lines.push(`_${p.name}_`);
    for (const c of p.commands)
      lines.push(
        `• \`/flexvdi ${c.id}\` — ${c.summary}${c.mutates ? ' (admins; asks for confirmation)' : ''}`,
      );
  }
  lines.push('_jobs_');
  for (const b of builtins) lines.push(`• \`${usage(b.info)}\` — ${b.info.summary}`);
  lines.push('`/flexvdi help <command>` explains one command.');
  return lines.join('\n');
}
