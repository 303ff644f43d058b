/**
 * What each Host does, as the plugins last said (the registry's hostRoles: an OCFS2 node and when the cluster
 * fences it, the Manager and who can start it), for the Host's alert. Read by the leader when it starts
 * leading, again when the audit log's newest entry changed (plans, confirmations and job ends are recorded
 * there: a procedure may have moved the Manager or changed the cluster) but at most every AFTER_CHANGE_MS,
 * and every EVERY_MS for changes made by hand. Each read opens SSH connections to the Hosts: not every minute
 * for nothing. A read that fails keeps what was known (a lost Host's role is what matters most).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InventoryHost } from '../config.js';
import { keys } from '../jobs/keys.js';
import type { LostRole } from './incidents.js';

const EVERY_MS = 600_000;
const AFTER_CHANGE_MS = 5000;
/** How long reading one Host's roles may take. */
const TIMEOUT_MS = 20_000;

export type ReadRoles = (host: InventoryHost, signal: AbortSignal) => Promise<LostRole[]>;

export class HostRoles {
  readonly #known = new Map<string, LostRole[]>();
  readonly #auditKey: string;
  #readAt = Number.NEGATIVE_INFINITY;
  #readAtAudit: string | null = null;
  #reading = false;

  constructor(
    private readonly d: {
      read: ReadRoles;
      redis: Redis;
      prefix: string;
      hosts: readonly InventoryHost[];
      /** Whether a Host is healthy now: a Host that is not keeps what it was last seen doing. */
      healthy: (host: string) => boolean;
      stopped: () => boolean;
      log: Logger;
    },
  ) {
    this.#auditKey = keys(d.prefix).audit;
  }

  /** What the Host was last seen doing (undefined: not read yet). */
  get(host: string): LostRole[] | undefined {
    return this.#known.get(host);
  }

  /** Every Host's roles as last read. */
  get all(): ReadonlyMap<string, LostRole[]> {
    return this.#known;
  }

  /**
   * The id of the audit log's newest entry, or what the last read saw when Redis cannot say: a failed read
   * must not hold up alerting, and only triggers a re-read.
   */
  async auditHead(): Promise<string | null> {
    return (
      (await this.d.redis.xrevrange(this.#auditKey, '+', '-', 'COUNT', 1).catch(() => null))?.[0]?.[0] ??
      this.#readAtAudit
    );
  }

  /** Reads every Host's roles again when it is time (see above); the leader calls it after each decision. */
  async refresh(auditHead: string | null): Promise<void> {
    if (this.#reading) return;
    const since = performance.now() - this.#readAt;
    const changed = auditHead !== this.#readAtAudit && since >= AFTER_CHANGE_MS;
    if (!changed && since < EVERY_MS) return;
    this.#reading = true;
    this.#readAt = performance.now();
    this.#readAtAudit = auditHead;
    try {
      for (const h of this.d.hosts) {
        if (this.d.stopped()) return;
        // A Host that is not healthy keeps what it was last seen doing: its alert needs that most, and what
        // the plugins can read about it now (little, or nothing) would replace it.
        if (!this.d.healthy(h.name) && this.#known.has(h.name)) continue;
        const r = await this.d.read(h, AbortSignal.timeout(TIMEOUT_MS)).catch((err: Error) => {
          this.d.log.warn({ host: h.name, err: err.message }, 'could not read what the Host does');
          return undefined;
        });
        if (r) this.#known.set(h.name, r);
      }
      this.d.log.info({ hosts: this.#known.size }, 'read what each Host does (shown in its alert)');
    } finally {
      this.#reading = false;
    }
  }
}
