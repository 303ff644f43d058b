/**
 * Channel slots of one connection: a counting semaphore with FIFO hand-over (a released slot goes straight
 * to the oldest waiter, so a burst of new calls cannot starve queued ones) and a limit that can be lowered
 * when the server turns out to accept fewer sessions than configured.
 */
export class ChannelSlots {
  #active = 0;
  #limit: number;
  #closedError: (() => unknown) | undefined;
  #waiters: Array<{ grant: () => void; fail: (err: unknown) => void }> = [];

  #okSinceChange = 0;

  constructor(
    /** The configured limit: the most slots ever handed out at once. */
    readonly max: number,
    /** Called whenever no slot is in use and nobody waits. */
    private readonly onIdle: () => void,
  ) {
    this.#limit = max;
  }

  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#waiters.length;
  }
  get limit(): number {
    return this.#limit;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#closedError) return Promise.reject(this.#closedError());
    if (this.#active < this.#limit && this.#waiters.length === 0) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.#waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    this.#active--;
    this.pump();
  }

  /** Hands free slots to waiters (call when the connection becomes usable); reports idleness. */
  pump(): void {
    while (!this.#closedError && this.#active < this.#limit && this.#waiters.length > 0) {
      this.#active++;
      this.#waiters.shift()!.grant();
    }
    if (this.#active === 0 && this.#waiters.length === 0) this.onIdle();
  }

  /**
   * The server refused a channel while `active` (ours included) were in use: lower the limit by one below
   * what was in flight (a burst of k refusals out of L ends at L − k, what the server accepted). Refusals
   * also happen transiently at the right limit (OpenSSH frees a closed session only on its next loop turn,
   * so a close and an open in one read can overlap), hence `opened()` raises the limit back step by step.
   */
  lowerLimit(): number {
    this.#limit = Math.max(1, Math.min(this.#limit, this.#active) - 1);
    this.#okSinceChange = 0;
    return this.#limit;
  }

  /** A channel opened: after 2 × limit clean opens below the configured maximum, try one more slot. */
  opened(): void {
    if (this.#limit >= this.max) return;
    if (++this.#okSinceChange < 2 * this.#limit) return;
    this.#okSinceChange = 0;
    this.#limit++;
    this.pump();
  }

  /** No more grants: every waiter (now and later) gets `err`. */
  closeWith(err: () => unknown): void {
    this.#closedError = err;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.fail(err());
  }
}
