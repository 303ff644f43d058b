/**
 * The options of the testbed's timing faults, checked before anything is touched (pure: unit-tested):
 *   jitter  pauseMs (default 1000) out of every everyMs (default 3000): the Host freezes, runs, freezes…
 *   slow    cpuPercent (default 10): the Host's processes together get that share of one core
 * The other faults take no options; giving one is refused rather than ignored.
 */
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';

export interface JitterOptions {
  /** How long each pause lasts. */
  pauseMs: number;
  /** One pause starts every `everyMs` (the first one at once). */
  everyMs: number;
}

export interface SlowOptions {
  /** The Host's CPU budget, in % of one core. */
  cpuPercent: number;
}

export type FaultOptions = JitterOptions | SlowOptions;

/** What a caller may pass (the CLI's flags, the API's fields). */
export interface RawFaultOptions {
  pauseMs?: number | undefined;
  everyMs?: number | undefined;
  cpuPercent?: number | undefined;
}

export const JITTER_DEFAULTS: JitterOptions = Object.freeze({ pauseMs: 1000, everyMs: 3000 });
export const SLOW_DEFAULTS: SlowOptions = Object.freeze({ cpuPercent: 10 });

/** Bounds: a pause the freezer and a shell `sleep` can time (≥ 50 ms), and a Host that runs between pauses. */
export const JITTER_LIMITS = {
  minPauseMs: 50,
  maxPauseMs: 60_000,
  minRunMs: 100,
  maxEveryMs: 600_000,
} as const;
/** The cpu controller's quota is at least 1 ms per 100 ms period: 1 %; 100 % is one whole core. */
export const SLOW_LIMITS = { minPercent: 1, maxPercent: 100 } as const;

const OPTION_FLAGS: Record<keyof RawFaultOptions, string> = {
  pauseMs: 'pauseMs (--pause-ms)',
  everyMs: 'everyMs (--every-ms)',
  cpuPercent: 'cpuPercent (--cpu-percent)',
};
const TAKES: Record<string, ReadonlyArray<keyof RawFaultOptions>> = {
  jitter: ['pauseMs', 'everyMs'],
  slow: ['cpuPercent'],
};

const invalid = (message: string) => new AppError(TestbedErrorCode.invalidOptions, message);

function wholeIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}, got ${v}`);
  }
  return v;
}

/**
 * The options of fault `mode`, defaults filled in: `JitterOptions` for jitter, `SlowOptions` for slow, null
 * for the faults that take none. Throws `testbed.invalid_options` naming the option and the rule.
 */
export function parseFaultOptions(mode: string, raw: RawFaultOptions = {}): FaultOptions | null {
  const takes = TAKES[mode] ?? [];
  for (const k of Object.keys(OPTION_FLAGS) as Array<keyof RawFaultOptions>) {
    if (raw[k] !== undefined && !takes.includes(k)) {
      const which = takes.length
        ? `takes only ${takes.map((t) => OPTION_FLAGS[t]).join(' and ')}`
        : 'takes none';
      throw invalid(`${OPTION_FLAGS[k]} is not an option of fault ${mode} (${mode} ${which})`);
    }
  }
  if (mode === 'jitter') {
    const L = JITTER_LIMITS;
    const pauseMs = wholeIn('pauseMs', raw.pauseMs ?? JITTER_DEFAULTS.pauseMs, L.minPauseMs, L.maxPauseMs);
    const everyMs = wholeIn('everyMs', raw.everyMs ?? JITTER_DEFAULTS.everyMs, 1, L.maxEveryMs);
    if (everyMs - pauseMs < L.minRunMs) {
      throw invalid(
        `pauseMs (${pauseMs}) must be at least ${L.minRunMs} ms less than everyMs (${everyMs}): ` +
          'the Host has to run between pauses (for a Host that never runs, use the freeze fault)',
      );
    }
    return { pauseMs, everyMs };
  }
  if (mode === 'slow') {
    const cpuPercent = wholeIn(
      'cpuPercent',
      raw.cpuPercent ?? SLOW_DEFAULTS.cpuPercent,
      SLOW_LIMITS.minPercent,
      SLOW_LIMITS.maxPercent,
    );
    return { cpuPercent };
  }
  return null;
}

/** How a fault's options read in `status` and in messages: `1000 ms every 3000 ms`, `10 % of one core`. */
export function describeFaultOptions(o: FaultOptions | null | undefined): string {
  if (!o) return '';
  return 'cpuPercent' in o ? `${o.cpuPercent} % of one core` : `${o.pauseMs} ms every ${o.everyMs} ms`;
}
