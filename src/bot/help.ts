/** Help text, generated from the registry (plugins' specs) and the built-in commands. */
import { usage } from '../core/args.js';
import { BUILTIN_COMMANDS, type Registry } from '../core/registry.js';

export function helpText(registry: Registry, topic?: string): string {
  if (topic) {
    const spec = registry.commands.find((c) => c.id === topic.toLowerCase());
    if (spec) {
      return [
        `*/flexvdi ${spec.id}* — ${spec.summary}`,
        `Usage: \`${usage(spec)}\``,
        spec.mutates
          ? 'Changes the cluster: shows a plan first and asks for confirmation. Admins only.'
          : 'Read-only.',
        ...(spec.examples.length ? ['Examples:', ...spec.examples.map((e) => `• \`${e}\``)] : []),
      ].join('\n');
    }
    const b = BUILTIN_COMMANDS.find((c) => c.id === topic.toLowerCase());
    if (b) return `*/flexvdi ${b.id}* — ${b.summary}\nUsage: \`${b.usage}\``;
    return `No command \`${topic.slice(0, 60)}\`. Try \`/flexvdi help\`.`;
  }
  const lines = ['*flexVDI cluster commands*'];
  for (const p of registry.plugins) {
    lines.push(`_${p.name}_`);
    for (const c of p.commands)
      lines.push(
        `• \`/flexvdi ${c.id}\` — ${c.summary}${c.mutates ? ' (admins; asks for confirmation)' : ''}`,
      );
  }
  lines.push('_jobs_');
  for (const b of BUILTIN_COMMANDS) lines.push(`• \`${b.usage}\` — ${b.summary}`);
  lines.push('`/flexvdi help <command>` explains one command.');
  return lines.join('\n');
}
