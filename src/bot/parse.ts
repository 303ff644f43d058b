/** `/flexvdi` text → a built-in command or a plugin command, with args validated by its schema. */
import { MAX_TEXT_LENGTH, matchCommand, parseArgs, tokenize, unescapeSlack } from '../core/args.js';
import type { CommandInfo } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import { groupsOf, suggestCommands } from '../core/suggest.js';
import { AppError, ErrorCode, type Result } from '../errors.js';
import { BUILTINS, type Builtin, type BuiltinCall } from './builtins.js';

export type ParsedText =
  | { kind: 'builtin'; builtin: Builtin; answer: (call: BuiltinCall) => Promise<string>; text: string }
  | { kind: 'command'; spec: CommandInfo; args: unknown; text: string };

/** The built-ins as `matchCommand` takes them, built once. */
const BUILTIN_MATCHERS = BUILTINS.map((b) => ({ id: b.info.id, b }));
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function parseCommandText(registry: Registry, raw: string): Result<ParsedText> {
  if (raw.length > MAX_TEXT_LENGTH) {
    return {
      ok: false,
      error: new AppError(ErrorCode.argsTooLong, 'text too long', {
        userMessage: `That command is ${raw.length} characters long; the limit is ${MAX_TEXT_LENGTH}. Nothing was run.`,
      }),
    };
  }
  // Control characters have no business in a command; refuse rather than guess.
  if (CONTROL_CHARS.test(raw)) {
    return {
      ok: false,
      error: new AppError(ErrorCode.argsInvalid, 'control characters', {
        userMessage: 'The command contains control characters. Nothing was run.',
      }),
    };
  }
  const text = unescapeSlack(raw).trim();
  const tokens = tokenize(text);
  if (!tokens.ok) return tokens;
  const words = tokens.value.length ? tokens.value : ['help'];
  const builtin = matchCommand(BUILTIN_MATCHERS, words);
  if (builtin) {
    const bound = builtin.spec.b.parse(builtin.rest);
    if (!bound.ok) return bound;
    return {
      ok: true,
      value: { kind: 'builtin', builtin: builtin.spec.b, answer: bound.value.answer, text: text || 'help' },
    };
  }
  const found = registry.match(words);
  if (!found) {
    const ids = [...registry.commands.map((c) => c.id), ...BUILTINS.map((b) => b.info.id)];
    const inGroup = groupsOf(ids).includes((words[0] ?? '').toLowerCase());
    const typed = words
      .slice(0, inGroup ? 2 : 1)
      .join(' ')
      .slice(0, 60);
    const close = suggestCommands(words, ids).map((id) => `\`${id}\``);
    const hint = inGroup
      ? `\`/flexvdi help ${words[0]?.toLowerCase()}\` lists them`
      : 'Type `/flexvdi help` for the list';
    return {
      ok: false,
      error: new AppError(ErrorCode.argsUnknownCommand, `unknown command ${typed}`, {
        userMessage: `Unknown command \`${typed.replace(/[`<>&]/g, '')}\`.${close.length ? ` Did you mean ${close.join(' or ')}?` : ''} ${hint}.`,
      }),
    };
  }
  const args = parseArgs(found.spec, found.rest);
  if (!args.ok) return args;
  return { ok: true, value: { kind: 'command', spec: found.spec, args: args.value, text } };
}
