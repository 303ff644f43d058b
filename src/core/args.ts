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

/** One token as `tokenize` reads it back: bare when it can be, else quoted runs (`"` itself inside '…'). */
export function quoteToken(v: string): string {
  if (v !== '' && !/\s/.test(v) && ![...v].some((ch) => QUOTES[ch])) return v;
  return v
    .split('"')
    .map((run) => `"${run}"`)
    .join(`'"'`);
}

/**
 * The command as it would be typed (the inverse of `tokenize` + `parseArgs`): positionals, then `--flags`
 * (false booleans and unset values left out). The Edit modal makes its new command text with it.
 */
export function commandText(
  spec: Pick<CommandSpec, 'id' | 'positionals'>,
  args: Record<string, unknown>,
): string {
  const parts = [spec.id];
  for (const p of spec.positionals) if (args[p] !== undefined) parts.push(quoteToken(String(args[p])));
  for (const [k, v] of Object.entries(args)) {
    if (spec.positionals.includes(k) || v === undefined || v === false) continue;
    parts.push(v === true ? `--${kebab(k)}` : `--${kebab(k)} ${quoteToken(String(v))}`);
  }
  return parts.join(' ');
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

/** What parsing and help need of a spec's schema, computed once per spec (specs are immutable). */
interface SpecShape {
  shape: Record<string, z.ZodTypeAny>;
  /** Per field: the schema without optional/default/effects wrappers, and whether it may be left out. */
  fields: Map<string, { inner: z.ZodTypeAny; optional: boolean }>;
  /** The `--flags` it takes, for the unknown-option message. */
  flags: string[];
  usage: string;
}
const analysed = new WeakMap<CommandSpec, SpecShape>();
const ANY_STRING = z.string();

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function shapeOf(spec: CommandSpec): SpecShape {
  const hit = analysed.get(spec);
  if (hit) return hit;
  const inner = unwrap(spec.args);
  const shape = inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodTypeAny>) : {};
  const fields = new Map<string, { inner: z.ZodTypeAny; optional: boolean }>();
  // `isOptional()` runs the schema on undefined: done once here, not per request.
  for (const [k, t] of Object.entries(shape)) fields.set(k, { inner: unwrap(t), optional: t.isOptional() });
  const parts = [`/flexvdi ${spec.id}`];
  for (const p of spec.positionals) {
    const f = fields.get(p);
    parts.push(f?.optional ? `[<${kebab(p)}>]` : `<${kebab(p)}>`);
  }
  const flags: string[] = [];
  for (const [k, f] of fields) {
    if (spec.positionals.includes(k)) continue;
    flags.push(`--${kebab(k)}`);
    const flag =
      f.inner instanceof z.ZodBoolean
        ? `--${kebab(k)}`
        : `--${kebab(k)} ${f.inner instanceof z.ZodNumber ? 'N' : kebab(k).toUpperCase().replace(/-/g, '_')}`;
    parts.push(f.optional || f.inner instanceof z.ZodBoolean ? `[${flag}]` : flag);
  }
  const out = { shape, fields, flags, usage: parts.join(' ') };
  analysed.set(spec, out);
  return out;
}

export function usage(spec: CommandSpec): string {
  return shapeOf(spec).usage;
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
  const { shape, fields, flags } = shapeOf(spec);
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
      return invalid(
        spec,
        `unknown option \`${tok.slice(0, 60)}\`` +
          (flags.length ? ` (valid: ${flags.join(', ')})` : ' (this command takes no options)'),
      );
    }
    const inner = fields.get(name)!.inner;
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
    out[name] = coerce(fields.get(name)?.inner ?? ANY_STRING, v);
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

/** Command ids split into words, once per id (ids are the registry's and the built-ins': a fixed set). */
const idWords = new Map<string, readonly string[]>();
const wordsOf = (id: string): readonly string[] => {
  let w = idWords.get(id);
  if (!w) {
    w = id.split(' ');
    idWords.set(id, w);
  }
  return w;
};

/** Finds the command whose id matches the most leading words. */
export function matchCommand<T extends { id: string }>(
  commands: readonly T[],
  tokens: string[],
): { spec: T; rest: string[] } | undefined {
  const lower: string[] = [];
  const word = (i: number) => (lower[i] ??= tokens[i]!.toLowerCase());
  let best: T | undefined;
  let bestLength = 0;
  for (const spec of commands) {
    const words = wordsOf(spec.id);
    // The first of equally long matches wins.
    if (words.length > tokens.length || (best && words.length <= bestLength)) continue;
    if (words.every((w, i) => word(i) === w)) {
      best = spec;
      bestLength = words.length;
    }
  }
  return best ? { spec: best, rest: tokens.slice(bestLength) } : undefined;
}
