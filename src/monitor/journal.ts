/**
 * What a monitor saw while it could not record it. Incidents live in Redis and are decided level-triggered:
 * a Host lost and back again while Redis was unreachable would leave no trace. So every replica keeps, in
 * memory, each loss its detector saw (onset, signals, when it was over); a loss during which Redis could
 * not be reached is marked missed, and once the leader can write again, a missed loss that is over and
 * that no incident on record covers is told late: an incident opened and resolved with the real times.
 * Pure bookkeeping, no I/O; bounded (the oldest losses go first).
 */
import type { Maintenance } from './board.js';
import type { Signal } from './detector.js';
import type { Incident } from './incidents.js';

export interface Loss {
  host: string;
  /** Onset of the loss (wall clock). */
  lostAt: number;
  failing: Signal[];
  /** When the detector saw the Host healthy again (null: not yet). */
  backAt: number | null;
  /** Redis could not be reached at some point during it. */
  missed: boolean;
}

const MAX_PER_HOST = 20;

export class LossJournal {
  readonly #losses = new Map<string, Loss[]>();
  /** Since when Redis has failed this replica without a successful decision after (null: fine). */
  #troubleSince: number | null = null;

  lost(host: string, lostAt: number, failing: Signal[]): void {
    const list = this.#losses.get(host) ?? [];
    list.push({ host, lostAt, failing, backAt: null, missed: this.#troubleSince !== null });
    if (list.length > MAX_PER_HOST) list.shift();
    this.#losses.set(host, list);
  }

  back(host: string, at: number): void {
    const last = this.#losses.get(host)?.at(-1);
    if (last && last.backAt === null) last.backAt = at;
  }

  /** Redis failed: every loss going on now is missed (as is any that ends before the next decision). */
  trouble(now: number): void {
    this.#troubleSince ??= now;
    for (const list of this.#losses.values()) for (const l of list) if (l.backAt === null) l.missed = true;
  }

  /**
   * Redis answers again but another replica leads: telling what was missed is the leader's job (with its
   * own journal), so this replica forgets — it must not tell old losses when it leads days later.
   */
  standingBy(): void {
    this.#troubleSince = null;
    for (const list of this.#losses.values()) for (const l of list) l.missed = false;
  }

  /** Puts back losses that could not be told (a write failed): they are tried again on the next decision. */
  restore(losses: readonly Loss[]): void {
    for (const l of losses) {
      const list = this.#losses.get(l.host) ?? [];
      list.push(l);
      list.sort((a, b) => a.lostAt - b.lostAt);
      this.#losses.set(l.host, list);
    }
  }

  /** Whether a decision may have something to tell late (cheap: checked on every tick). */
  get owed(): boolean {
    if (this.#troubleSince !== null) return true;
    for (const list of this.#losses.values())
      if (list.some((l) => l.missed && l.backAt !== null)) return true;
    return false;
  }

  /**
   * A decision was written: the missed losses that are over and that the Host's incident on record does not
   * cover, oldest first, to be told late; losses that need nothing more are forgotten, as are losses that
   * began inside one of the Host's maintenance windows (they were muted). A loss older than the incident on
   * record cannot be told without rewriting history: it is dropped (and returned in `dropped`).
   */
  settle(
    latest: ReadonlyMap<string, Incident>,
    windows: readonly Maintenance[] = [],
  ): { tell: Loss[]; dropped: Loss[] } {
    const tell: Loss[] = [];
    const dropped: Loss[] = [];
    if (this.#troubleSince !== null) {
      // A loss that ended while the trouble lasted was missed too.
      for (const list of this.#losses.values())
        for (const l of list) if (l.backAt !== null && l.backAt >= this.#troubleSince) l.missed = true;
    }
    this.#troubleSince = null;
    for (const [host, list] of this.#losses) {
      const inc = latest.get(host);
      const keep: Loss[] = [];
      for (const l of list) {
        if (l.backAt === null) {
          // Still going: the live decision sees it from now on.
          keep.push({ ...l, missed: false });
          continue;
        }
        if (!l.missed) continue;
        if (windows.some((w) => w.host === host && w.since <= l.lostAt && l.lostAt < w.until)) continue;
        const covered =
          inc && inc.openedAt <= l.backAt && (inc.resolvedAt === null || inc.resolvedAt >= l.lostAt);
        if (covered) continue;
        if (inc && inc.resolvedAt !== null && inc.resolvedAt > l.lostAt) dropped.push(l);
        else if (inc && inc.state === 'open') dropped.push(l);
        else tell.push(l);
      }
      this.#losses.set(host, keep);
    }
    return { tell: tell.sort((a, b) => a.lostAt - b.lostAt), dropped };
  }
}
