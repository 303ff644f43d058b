/**
 * Durations as people type them for a maintenance window: `30m`, `2h`, `1h30m`, `90s`, `1d` (units in
 * descending order, each at most once), within bounds. Pure: every rule is a unit test.
 */
import { duration } from '../../monitor/messages.js';

export const MIN_WINDOW_MS = 60_000;
export const MAX_WINDOW_MS = 7 * 86_400_000;
/** A window without `--for`. */
export const DEFAULT_WINDOW_MS = 3_600_000;

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
const SHAPE = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,8})s)?$/;

/** Milliseconds of `text` (`1h30m` → 5 400 000), or why it is not a duration. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; error: string } {
  const t = text.trim().toLowerCase();
  const m = SHAPE.exec(t);
  if (!t || !m || m.slice(1).every((x) => x === undefined))
    return {
      ok: false,
      error: `\`${text.slice(0, 40)}\` is not a duration: write it as \`30m\`, \`2h\`, \`1h30m\` or \`90s\` (units d, h, m, s, largest first)`,
    };
  const [, d, h, min, s] = m;
  const ms =
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s;
  return { ok: true, ms };
}

/** A window's length from `--for` (the default when absent), or what is wrong with it and how to fix it. */
export function windowLength(
  text: string | undefined,
): { ok: true; ms: number } | { ok: false; error: string } {
  if (text === undefined) return { ok: true, ms: DEFAULT_WINDOW_MS };
  const p = parseDuration(text);
  if (!p.ok) return p;
  if (p.ms < MIN_WINDOW_MS)
    return {
      ok: false,
      error: `\`--for ${text.trim()}\` is too short: a maintenance window lasts at least ${duration(MIN_WINDOW_MS)} (e.g. \`--for 30m\`)`,
    };
  if (p.ms > MAX_WINDOW_MS)
    return {
      ok: false,
      error: `\`--for ${text.trim()}\` is too long: a maintenance window lasts at most 7 days (\`--for 7d\`); set it again before it ends if the work takes longer`,
    };
  return p;
}
