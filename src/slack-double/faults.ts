/**
 * Fault injection for the Web API double: one-shot failures queued per method, and per-method rate limits
 * over a sliding minute, answered like Slack answers them (HTTP 429 + `Retry-After` seconds, or HTTP 200
 * `{ ok: false, error }`).
 */

export interface Fault {
  /** 429 → rate limited with `Retry-After`; another status (e.g. 503) → that HTTP status. */
  status?: number;
  /** Only with status 429; default 1. */
  retryAfterSeconds?: number;
  /** The Slack error code in the body (`ratelimited`, `channel_not_found`, …); without status: HTTP 200. */
  error?: string;
}

export interface Rejection {
  status: number;
  retryAfterSeconds?: number;
  body: { ok: false; error: string };
}

export class FaultInjector {
  readonly #queued = new Map<string, Fault[]>();
  readonly #limits = new Map<string, { perMinute: number; accepted: number[] }>();

  failNext(method: string, fault: Fault): void {
    const q = this.#queued.get(method) ?? [];
    q.push(fault);
    this.#queued.set(method, q);
  }

  /** Limits `method` to `perMinute` accepted calls in any 60 s window; `undefined` removes the limit. */
  rateLimit(method: string, limit: { perMinute: number } | undefined): void {
    if (limit === undefined) this.#limits.delete(method);
    else this.#limits.set(method, { perMinute: Math.max(1, Math.floor(limit.perMinute)), accepted: [] });
  }

  reset(): void {
    this.#queued.clear();
    this.#limits.clear();
  }

  /** Decides the fate of one call to `method` at time `now` (ms): a rejection, or undefined to serve it. */
  check(method: string, now: number): Rejection | undefined {
    const fault = this.#queued.get(method)?.shift();
    if (fault) return toRejection(fault);
    const limit = this.#limits.get(method);
    if (!limit) return undefined;
    limit.accepted = limit.accepted.filter((t) => t > now - 60_000);
    const oldest = limit.accepted[0];
    if (oldest !== undefined && limit.accepted.length >= limit.perMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
      return { status: 429, retryAfterSeconds, body: { ok: false, error: 'ratelimited' } };
    }
    limit.accepted.push(now);
    return undefined;
  }
}

function toRejection(f: Fault): Rejection {
  if (f.status === 429) {
    return {
      status: 429,
      retryAfterSeconds: f.retryAfterSeconds ?? 1,
      body: { ok: false, error: f.error ?? 'ratelimited' },
    };
  }
  return { status: f.status ?? 200, body: { ok: false, error: f.error ?? 'internal_error' } };
}
