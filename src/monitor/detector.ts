/**
 * The per-Host failure detector, as a pure function of what the probe saw: healthy → suspect → lost →
 * recovering → healthy. No I/O and no clock of its own (`at` comes with each observation), so every rule is
 * a unit test.
 *
 * Signals (what failed is named in the alert):
 * - `heartbeat`: no heartbeat line from the Host's persistent SSH stream for `lostAfterMs` (link down, Host
 *   frozen or crashed, or the stream could not be reopened);
 * - `sshd`: the Host reports that nothing listens on its SSH port any more, for `lostAfterMs` (new connections
 *   would be refused: nobody could log in or run a procedure on it), or a new connection was refused.
 * A silence shorter than `lostAfterMs` only makes the Host suspect (shown, never alerted): a GC pause or a
 * busy Host is not an incident. A lost Host is resolved only after `recoverAfterMs` of continuous health; a
 * relapse meanwhile stays the same incident.
 */
export const PROBE_STATES = ['starting', 'healthy', 'suspect', 'lost', 'recovering'] as const;
export type ProbeState = (typeof PROBE_STATES)[number];
export const SIGNALS = ['heartbeat', 'sshd'] as const;
export type Signal = (typeof SIGNALS)[number];

export interface Thresholds {
  suspectAfterMs: number;
  lostAfterMs: number;
  recoverAfterMs: number;
}

/** What the probe knows at `at`. */
export interface Observation {
  at: number;
  /** When the last heartbeat line arrived (null: none yet since the monitor started). */
  lastBeatAt: number | null;
  /** Whether the last heartbeat said sshd listens; null when unknown. */
  listening: boolean | null;
  /** When a heartbeat last said sshd listens (null: none yet): a stop is counted from there. */
  lastListeningAt?: number | null;
  /** A new connection was just refused (nothing listens on the port). */
  refused: boolean;
}

export interface Health {
  state: ProbeState;
  /** When the current state began. */
  since: number;
  /** When the monitor started watching (silence before the first heartbeat counts from here). */
  watchingSince: number;
  /** Since when sshd has been reported not listening (null: listening or unknown). */
  sshdDownSince: number | null;
  /** The signals failing now (empty when none). */
  failing: Signal[];
  /**
   * Since when the Host has been lost (kept through recovering; null otherwise): the onset of the first
   * failing signal — its last heartbeat, or when sshd stopped listening — not the moment it was detected.
   */
  lostAt: number | null;
  /** Since when every signal has been fine without a break (null while any is failing or uneasy). */
  okSince: number | null;
}

export type Transition =
  | { kind: 'lost'; at: number; failing: Signal[] }
  | { kind: 'relapsed'; at: number; failing: Signal[] }
  | { kind: 'signals'; at: number; failing: Signal[] }
  | { kind: 'recovered'; at: number; lostAt: number };

export const initialHealth = (at: number): Health => ({
  state: 'starting',
  since: at,
  watchingSince: at,
  sshdDownSince: null,
  failing: [],
  lostAt: null,
  okSince: null,
});

/** The same signals, in any order. */
export const same = (a: readonly Signal[], b: readonly Signal[]) =>
  a.length === b.length && a.every((s) => b.includes(s));

/** The next health of a Host given an observation, and the transition to report (if any). */
export function assess(
  prev: Health,
  o: Observation,
  t: Thresholds,
): { next: Health; transition?: Transition } {
  const silence = o.at - (o.lastBeatAt ?? prev.watchingSince);
  // The common case, checked first and without building a new Health: a healthy Host still healthy (the monitor asks
  // five times a second for every Host).
  if (
    prev.state === 'healthy' &&
    prev.okSince !== null &&
    o.lastBeatAt !== null &&
    silence < t.suspectAfterMs &&
    !o.refused &&
    o.listening !== false
  )
    return { next: prev };
  // Like silence, counted from the last time sshd was known to listen (it stopped somewhere after it).
  const sshdDownSince =
    o.refused || o.listening === false ? (prev.sshdDownSince ?? o.lastListeningAt ?? o.at) : null;
  const failing: Signal[] = [];
  if (silence >= t.lostAfterMs) failing.push('heartbeat');
  if (o.refused || (sshdDownSince !== null && o.at - sshdDownSince >= t.lostAfterMs)) failing.push('sshd');
  const uneasy = silence >= t.suspectAfterMs || sshdDownSince !== null;
  const ok = !uneasy && failing.length === 0 && o.lastBeatAt !== null;
  const base = {
    watchingSince: prev.watchingSince,
    sshdDownSince,
    failing,
    okSince: ok ? (prev.okSince ?? o.at) : null,
  };
  const to = (state: ProbeState, lostAt: number | null): Health => ({
    ...base,
    state,
    since: state === prev.state ? prev.since : o.at,
    lostAt,
  });

  switch (prev.state) {
    case 'starting':
    case 'healthy':
    case 'suspect': {
      if (failing.length) {
        const onsets = failing.map((f) =>
          f === 'heartbeat' ? (o.lastBeatAt ?? prev.watchingSince) : (sshdDownSince ?? o.at),
        );
        return { next: to('lost', Math.min(...onsets)), transition: { kind: 'lost', at: o.at, failing } };
      }
      if (uneasy) return { next: to('suspect', null) };
      // `starting` becomes healthy with the first heartbeat; before it, it stays starting
      if (prev.state === 'starting' && o.lastBeatAt === null) return { next: to('starting', null) };
      return { next: to('healthy', null) };
    }
    case 'lost': {
      const lostAt = prev.lostAt ?? prev.since;
      if (failing.length) {
        const next = to('lost', lostAt);
        return same(failing, prev.failing)
          ? { next }
          : { next, transition: { kind: 'signals', at: o.at, failing } };
      }
      if (uneasy) return { next: to('lost', lostAt) };
      return { next: to('recovering', lostAt) };
    }
    case 'recovering': {
      const lostAt = prev.lostAt ?? prev.since;
      if (failing.length)
        return { next: to('lost', lostAt), transition: { kind: 'relapsed', at: o.at, failing } };
      if (uneasy) return { next: { ...to('recovering', lostAt), since: o.at } };
      if (o.at - prev.since >= t.recoverAfterMs)
        return { next: to('healthy', null), transition: { kind: 'recovered', at: o.at, lostAt } };
      return { next: to('recovering', lostAt) };
    }
  }
}
