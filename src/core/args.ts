/**
 * Chat text → command + typed args. The command's own zod schema is the single source of truth for what is
 * valid: this module only tokenizes, maps positionals and `--flags` onto the schema's fields and reports
 * failures with the field name and the usage line.
 */
import { z } from 'zod';
import { AppError, ErrorCode, type Result } from '../errors.js';
import type { CommandInfo as CommandSpec } from './plugin.js';

export const MAX_TEXT_LENGTH = 1000;

/** Undoes Slack's escaping of slash command text: &amp; &lt; &gt;, auto-linked URLs, mentions. */
export function unescapeSlack(text: string): string {
  return text
    .replace(/<(?:https?:\/\/|mailto:)[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<(?:https?:\/\/|mailto:)([^>]*)>/g, '$1')
    .replace(/<[@#!]([^|>]*)(?:\|[^>]*)?>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '“': '”', '‘': '’', '”': '”' };

export function tokenize(text: string): Result<string[]> {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
      continue;
    }
    if (QUOTES[ch]) {
      quote = QUOTES[ch];
      inToken = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
      continue;
    }
    cur += ch;
    inToken = true;
  }
  if (quote) {
    return {
      ok: false,
      error: new AppError(ErrorCode.argsInvalid, 'unterminated quote', {
        userMessage: 'A quote is not closed.',
      }),
    };
  }
  if (inToken) tokens.push(cur);
  return { ok: true, value: tokens };
}

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  let cur: z.ZodTypeAny = t;
  for (;;) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap();
    else if (cur instanceof z.ZodDefault) cur = cur._def.innerType;
    else if (cur instanceof z.ZodEffects) cur = cur.innerType();
    else return cur;
  }
}

function isOptional(t: z.ZodTypeAny): boolean {
  return t.isOptional();
}

function shapeOf(spec: CommandSpec): Record<string, z.ZodTypeAny> {
  const inner = unwrap(spec.args);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodTypeAny>) : {};
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function usage(spec: CommandSpec): string {
  const shape = shapeOf(spec);
  const parts = [`/flexvdi ${spec.id}`];
  for (const p of spec.positionals) {
    const t = shape[p];
    parts.push(t && isOptional(t) ? `[<${kebab(p)}>]` : `<${kebab(p)}>`);
  }
  for (const [k, t] of Object.entries(shape)) {
    if (spec.positionals.includes(k)) continue;
    const inner = unwrap(t);
    const flag =
      inner instanceof z.ZodBoolean
        ? `--${kebab(k)}`
        : `--${kebab(k)} ${inner instanceof z.ZodNumber ? 'N' : kebab(k).toUpperCase().replace(/-/g, '_')}`;
    parts.push(isOptional(t) || inner instanceof z.ZodBoolean ? `[${flag}]` : flag);
  }
  return parts.join(' ');
}

export interface ParsedCommand {
  spec: CommandSpec;
  args: unknown;
  /** The args as typed (tokens), for the audit record. */
  raw: string[];
}

function invalid(spec: CommandSpec | undefined, message: string): { ok: false; error: AppError } {
  const text = spec ? `${message}\nUsage: \`${usage(spec)}\`` : message;
  return { ok: false, error: new AppError(ErrorCode.argsInvalid, message, { userMessage: text }) };
}

/** Maps tokens onto the spec's schema fields (no validation beyond shape) and runs the schema. */
export function parseArgs(spec: CommandSpec, tokens: string[]): Result<unknown> {
  const shape = shapeOf(spec);
  const out: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tok.startsWith('--') || tok === '--') {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const name = camel(tok.slice(2, eq === -1 ? undefined : eq));
    const field = Object.hasOwn(shape, name) ? shape[name] : undefined;
    if (!field || spec.positionals.includes(name)) {
      const flags = Object.keys(shape)
        .filter((k) => !spec.positionals.includes(k))
        .map((k) => `--${kebab(k)}`);
      return invalid(
        spec,
        `unknown option \`${tok.slice(0, 60)}\`` +
          (flags.length ? ` (valid: ${flags.join(', ')})` : ' (this command takes no options)'),
      );
    }
    const inner = unwrap(field);
    let value: string | boolean;
    if (inner instanceof z.ZodBoolean && eq === -1) value = true;
    else if (eq !== -1) value = tok.slice(eq + 1);
    else {
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith('--'))
        return invalid(spec, `option \`--${kebab(name)}\` needs a value`);
      value = next;
      i++;
    }
    out[name] = coerce(inner, value);
  }
  if (spec.restPositional && positionals.length > spec.positionals.length && spec.positionals.length) {
    const keep = spec.positionals.length - 1;
    positionals.splice(keep, positionals.length - keep, positionals.slice(keep).join(' '));
  }
  if (positionals.length > spec.positionals.length) {
    const extra = positionals.slice(spec.positionals.length).map((t) => t.slice(0, 60));
    return invalid(spec, `unexpected argument${extra.length > 1 ? 's' : ''} \`${extra.join(' ')}\``);
  }
  positionals.forEach((v, i) => {
    const name = spec.positionals[i]!;
    out[name] = coerce(unwrap(shape[name] ?? z.string()), v);
  });
  const parsed = spec.args.safeParse(out);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.map(String).join('.') : '';
    const shown = field ? `\`${kebab(field)}\`` : 'arguments';
    const what =
      issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
    return invalid(spec, `${shown}: ${what}`);
  }
  return { ok: true, value: parsed.data };
}

function coerce(inner: z.ZodTypeAny, v: string | boolean): unknown {
  if (typeof v !== 'string') return v;
  if (inner instanceof z.ZodNumber && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (inner instanceof z.ZodBoolean && /^(true|false|yes|no)$/i.test(v)) return /^(true|yes)$/i.test(v);
  return v;
}

/** Finds the command whose id matches the most leading words. */
export function matchCommand<T extends { id: string }>(
  commands: readonly T[],
  tokens: string[],
): { spec: T; rest: string[] } | undefined {
  let best: { spec: T; rest: string[] } | undefined;
  for (const spec of commands) {
    const words = spec.id.split(' ');
    if (words.length > tokens.length) continue;
    if (
      words.every((w, i) => tokens[i]?.toLowerCase() === w) &&
      (!best || words.length > best.spec.id.split(' ').length)
    ) {
      best = { spec, rest: tokens.slice(words.length) };
    }
  }
  return best;
}
