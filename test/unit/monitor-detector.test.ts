/**
 * The heartbeat detector as a pure function: every state change, the thresholds and jitter below the
 * threshold (no alert).
 */
import { describe, expect, it } from 'vitest';
import {
  assess,
  type Health,
  initialHealth,
  type Observation,
  type Thresholds,
} from '../../src/monitor/detector.js';

const T: Thresholds = { suspectAfterMs: 1500, lostAfterMs: 2500, recoverAfterMs: 5000 };
const obs = (at: number, lastBeatAt: number | null, o: Partial<Observation> = {}): Observation => ({
  at,
  lastBeatAt,
  listening: true,
  refused: false,
  ...o,
});

/** Runs observations through the detector; the states and transitions seen. */
function run(steps: Observation[], from: Health = initialHealth(0)) {
  let h = from;
  const states: string[] = [];
  const transitions: string[] = [];
  for (const o of steps) {
    const r = assess(h, o, T);
    h = r.next;
    states.push(h.state);
    if (r.transition)
      transitions.push(
        `${r.transition.kind}@${o.at}:${'failing' in r.transition ? r.transition.failing.join('+') : ''}`,
      );
  }
  return { h, states, transitions };
}

/** Heartbeats every 500 ms from `from` to `to` (inclusive), observed at each beat. */
const beats = (from: number, to: number, o: Partial<Observation> = {}) =>
  Array.from({ length: Math.floor((to - from) / 500) + 1 }, (_, i) => obs(from + i * 500, from + i * 500, o));

describe('detector', () => {
  it('starts, becomes healthy on the first heartbeat, and stays so with heartbeats every 500 ms', () => {
    const r = run([obs(100, null), ...beats(200, 10_000)]);
    expect(r.states[0]).toBe('starting');
    expect(new Set(r.states.slice(1))).toEqual(new Set(['healthy']));
    expect(r.transitions).toEqual([]);
  });

  it('goes suspect after 1.5 s of silence and lost at 2.5 s, naming the heartbeat', () => {
    const r = run([...beats(0, 2000), obs(3400, 2000), obs(3600, 2000), obs(4499, 2000), obs(4500, 2000)]);
    expect(r.states.slice(-4)).toEqual(['healthy', 'suspect', 'suspect', 'lost']);
    expect(r.transitions).toEqual(['lost@4500:heartbeat']);
    expect(r.h.lostAt).toBe(2000); // since its last heartbeat, not since it was noticed
  });

  it('a Host that never answers after the monitor starts is lost after 2.5 s', () => {
    const r = run([obs(1000, null), obs(2499, null), obs(2500, null)]);
    expect(r.states).toEqual(['starting', 'suspect', 'lost']);
  });

  it('jitter: pauses of 1 s every few seconds make it suspect at most, never lost', () => {
    const steps: Observation[] = [];
    let last = 0;
    let longest = 0;
    for (let at = 0; at <= 60_000; at += 100) {
      const paused = at % 4000 >= 2600 && at % 4000 < 3600; // frozen 1 s of every 4 s
      if (!paused && at % 500 === 0) last = at;
      longest = Math.max(longest, at - last);
      steps.push(obs(at, last));
    }
    const r = run(steps);
    expect(longest).toBeGreaterThanOrEqual(1400); // the pauses did silence it
    expect(r.transitions).toEqual([]);
    expect(r.states).not.toContain('lost');
  });

  it('a pause of 2 s (longer than the suspect threshold, shorter than the lost one) is suspect, not lost', () => {
    const r = run([...beats(0, 2000), obs(3000, 2000), obs(4000, 2000), ...beats(4100, 6000)]);
    expect(r.states).toContain('suspect');
    expect(r.states).not.toContain('lost');
    expect(r.transitions).toEqual([]);
  });

  it('sshd not listening: suspect at once, lost after 2.5 s; refused connections count at once', () => {
    const down = beats(0, 4000, { listening: false });
    const r = run([
      ...beats(0, 1000).map((o) => ({ ...o, at: o.at - 2000, lastBeatAt: o.at - 2000 })),
      ...down,
    ]);
    expect(r.transitions).toEqual(['lost@2500:sshd']);
    // Counted from the last beat that said sshd listened (it stopped somewhere after it), like silence.
    const known = run([obs(0, 0), ...beats(500, 4000, { listening: false, lastListeningAt: 0 })]);
    expect(known.transitions).toEqual(['lost@2500:sshd']);
    const late = run([obs(0, 0), ...beats(500, 4000, { listening: false, lastListeningAt: 400 })]);
    expect(late.transitions).toEqual(['lost@3000:sshd']);
    const refused = run([obs(0, 0), obs(200, 0, { refused: true })]);
    expect(refused.transitions).toEqual(['lost@200:sshd']);
  });

  it('reports a change of failing signals while lost', () => {
    const r = run([
      ...beats(0, 1000),
      obs(3500, 1000),
      obs(6500, 1000, { listening: false }),
      obs(9100, 1000, { listening: false }),
    ]);
    expect(r.transitions).toEqual(['lost@3500:heartbeat', 'signals@9100:heartbeat+sshd']);
  });

  it('recovers only after 5 s of continuous health; a relapse meanwhile is reported as such', () => {
    const lost = run([...beats(0, 1000), obs(3500, 1000)]);
    expect(lost.h.state).toBe('lost');
    const back = run(beats(4000, 8500), lost.h);
    expect(back.states[0]).toBe('recovering');
    expect(back.transitions).toEqual([]);
    const done = run(beats(9000, 9000), back.h);
    expect(done.transitions).toEqual(['recovered@9000:']);
    expect(done.h.state).toBe('healthy');
    const relapse = run([...beats(4000, 6000), obs(8600, 6000)], lost.h);
    expect(relapse.transitions).toEqual(['relapsed@8600:heartbeat']);
    expect(relapse.h.lostAt).toBe(1000);
  });
});
