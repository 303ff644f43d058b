/**
 * The audit trail: a Redis stream (who, what, where, when, outcome), capped, readable with `/flexvdi audit`.
 * Args are stored as typed in chat (they never contain secrets: passwords are never typed in chat).
 */
import type { Redis } from 'ioredis';

export type AuditOutcome =
  | 'requested'
  | 'refused'
  | 'planned'
  | 'noop'
  | 'confirmed'
  | 'cancelled'
  | 'completed'
  | 'failed'
  | 'retried'
  | 'expired';

export interface AuditRecord {
  id?: string;
  at: string;
  user: string;
  command: string;
  channel: string;
  outcome: AuditOutcome;
  jobId?: string;
  detail?: string;
}

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly maxLen = 100_000,
  ) {}

  async record(r: Omit<AuditRecord, 'at' | 'id'>): Promise<void> {
    const fields: string[] = ['at', new Date().toISOString()];
    for (const [k, v] of Object.entries(r)) if (v !== undefined) fields.push(k, String(v).slice(0, 2000));
    await this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', ...fields);
  }

  async recent(count = 20): Promise<AuditRecord[]> {
    const rows = await this.redis.xrevrange(this.key, '+', '-', 'COUNT', count);
    return rows.map(([id, flat]) => {
      const o: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
      return { id, ...o } as unknown as AuditRecord;
    });
  }
}
