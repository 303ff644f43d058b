/**
 * Slack mrkdwn that is safe by construction. Plugins never write Slack markup as plain strings: they build
 * `Md` values with the `md` tagged template, whose literal parts are our markup (`*bold*`, `` `code` ``) and
 * whose interpolated values — Host names, FQDNs, Manager-provided names, command output, user input — are
 * escaped. Plans, results and warnings are typed `Md`, so a raw string from a Host cannot reach the renderer
 * without going through here: a Host named `<!channel>` cannot page the channel, a Volume named `*x*` is
 * shown as `*x*`, not in bold.
 *
 * `Md` is a class, not a branded string, so `md` can tell at run time an escaped value (kept) from a foreign
 * string (escaped). It serializes as its text (JSON, Redis); our records' zod schemas turn it back into `Md`
 * with `mdSchema`.
 */
import { z } from 'zod';

let make: (mrkdwn: string) => Md;

export class Md {
  private constructor(readonly mrkdwn: string) {}
  static {
    // The one way in, private to this module: every caller below has escaped what it did not write.
    make = (mrkdwn) => new Md(mrkdwn);
  }
  toString(): string {
    return this.mrkdwn;
  }
  toJSON(): string {
    return this.mrkdwn;
  }
  /** The text a reader sees, without markup escapes: for logs, the audit trail, a code block. */
  plain(): string {
    return this.mrkdwn
      .replace(/\u200b/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  }
}

/** What may be interpolated into `md`: foreign text (escaped), numbers, or Md (kept as is). */
export type MdValue = Md | string | number | bigint;

const ZWSP = '\u200b';

/**
 * Escapes text we did not write for Slack mrkdwn: `&`, `<`, `>` (entity-escaped: no mention, no link, no
 * `<!channel>`), the formatting characters `*`, `_`, `~` (fenced with zero-width spaces so they cannot open
 * or close bold, italics or strike-through) and the backtick (a look-alike, so it cannot end a code span).
 * What the reader sees is the text itself.
 */
export function escapeMd(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[*_~]/g, (c) => `${ZWSP}${c}${ZWSP}`)
    .replace(/`/g, '\u02cb');
}

/**
 * Escapes only what can ping or link (`&`, `<`, `>`): for prose we wrote around values that may be foreign,
 * such as an error's user message, where our own backticks must keep working.
 */
export function escapeEntities(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Inside a code span (`` `…` `` or a ``` block) Slack applies no formatting, so a value there only needs
 * what could end the span or ping (`` ` ``, `&`, `<`, `>`): no zero-width spaces, so what an operator copies
 * from Slack (a path, a Host name with `_`) is exactly the value.
 */
const escapeInCode = (s: string): string => escapeEntities(s).replace(/`/g, '\u02cb');

function piece(v: MdValue, inCode: boolean): string {
  if (v instanceof Md) return v.mrkdwn;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return inCode ? escapeInCode(v) : escapeMd(v);
}

/** Whether the end of `s` is inside a code span: values never add backticks, so our own are counted. */
const insideCode = (s: string): boolean => (s.match(/`/g)?.length ?? 0) % 2 === 1;

/** `md\`*${host}* answers\`` → the literal parts as written, `host` escaped, Md values kept. */
export function md(strings: TemplateStringsArray, ...values: readonly MdValue[]): Md {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += piece(v, insideCode(out)) + (strings[i + 1] ?? '');
  });
  return make(out);
}

/** Foreign text, escaped, as Md. */
export const text = (s: string): Md => make(escapeMd(s));

/**
 * Prose we wrote with foreign values inside (an AppError's user message): pings and links escaped, our own
 * backticks kept; an unpaired backtick (from a value) is replaced so it cannot open a code span that would
 * swallow what follows.
 */
export function prose(s: string): Md {
  const escaped = escapeEntities(s);
  const ticks = escaped.match(/`/g)?.length ?? 0;
  return make(ticks % 2 === 0 ? escaped : escaped.replace(/`(?=[^`]*$)/, '\u02cb'));
}

/** A Slack user id as a mention; anything else that claims to be one is shown as text. */
export const mention = (id: string): Md => (/^[UW][A-Z0-9]{2,20}$/.test(id) ? make(`<@${id}>`) : text(id));

/** `1 Host`, `3 Hosts` (the noun is ours: plain English, escaped like any value). */
export const plural = (n: number, what: string): Md => md`${n} ${what}${n === 1 ? '' : 's'}`;

/** Joins Md values with a separator. */
export function joinMd(parts: readonly Md[], sep: Md | string = ', '): Md {
  return make(parts.map((p) => p.mrkdwn).join(sep instanceof Md ? sep.mrkdwn : escapeMd(sep)));
}

/**
 * Md in our own records (a confirmation, the job-state record, a step's checkpoint), validated when read
 * back: it was escaped when it was made, in this process or another, and only our code writes those keys.
 * Never parse foreign data with it: that is what `text` is for.
 */
export const mdSchema = z
  .union([z.string(), z.custom<Md>((v) => v instanceof Md)])
  .transform((s) => (s instanceof Md ? s : make(s)));
