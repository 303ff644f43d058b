/**
 * The decision of `motd set`, as a pure function: given the text and what every registered Host's /etc/motd
 * holds, refuse (with a code), do nothing, or go with the Hosts to change. No I/O, so every rule is a unit
 * test (test/unit/motd-decide.test.ts) that needs no testbed.
 */
import { z } from 'zod';
import { MotdErrorCode, type MotdErrorCodeValue } from './errors.js';
import { type HostMotd, motdFileOf } from './motd-file.js';

export const MAX_MOTD_LENGTH = 200;

/** Why a text cannot be a message of the day, or undefined. One rule set for the args schema and `decide`. */
export function textProblem(text: string): string | undefined {
  if (text.trim() === '') return 'the text is empty';
  if (text.length > MAX_MOTD_LENGTH)
    return `the text is ${text.length} characters long; the limit is ${MAX_MOTD_LENGTH}`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text))
    return 'the text holds control characters (one line, no tabs)';
  return undefined;
}

/** The text of `motd set`, checked by the bot (chat text) and again by the worker (job data, pinned). */
export const motdTextSchema = z
  .string()
  .trim()
  .superRefine((t, ctx) => {
    const problem = textProblem(t);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** What `motd set` pins: the text and the Hosts to write (inventory names), used unchanged by the steps. */
export const motdPinSchema = z.object({ text: motdTextSchema, targets: z.array(z.string()).min(1) });
export type MotdPin = z.output<typeof motdPinSchema>;

export type Decision =
  | { kind: 'refuse'; code: MotdErrorCodeValue; reason: string }
  | { kind: 'noop' }
  | {
      kind: 'go';
      pinned: MotdPin;
      /** Hosts that could not be read now: they are targets, and the step tries them. */
      unreachable: string[];
    };

export function decide(text: string, seen: readonly HostMotd[]): Decision {
  const problem = textProblem(text);
  if (problem) return { kind: 'refuse', code: MotdErrorCode.invalidText, reason: problem };
  if (seen.length === 0)
    return { kind: 'refuse', code: MotdErrorCode.noHosts, reason: 'no Host is registered with the Manager' };
  const want = motdFileOf(text);
  const targets = seen.filter((s) => !s.reachable || s.content !== want).map((s) => s.host);
  if (targets.length === 0) return { kind: 'noop' };
  return {
    kind: 'go',
    pinned: { text, targets },
    unreachable: seen.filter((s) => !s.reachable).map((s) => s.host),
  };
}
