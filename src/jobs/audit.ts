/**
 * The audit trail: a Redis stream (who, what, where, when, outcome), capped, readable with `/flexvdi audit`.
 * Args are stored as typed in chat (they never contain secrets: passwords are never typed in chat).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const AUDIT_OUTCOMES = [
  'requested',
  'refused',
  'planned',
  'noop',
  'confirmed',
  'cancelled',
  'completed',
  'findings',
  'partial',
  'failed',
  'retried',
  'expired',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

const auditRecordSchema = z.object({
  id: z.string().optional(),
  at: z.string(),
  user: z.string(),
  command: z.string(),
  channel: z.string().default(''),
  outcome: z.enum(AUDIT_OUTCOMES).or(z.string()),
  jobId: z.string().optional(),
  detail: z.string().optional(),
});
export type AuditRecord = z.output<typeof auditRecordSchema>;

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly maxLen = 100_000,
  ) {}

  async record(r: {
    user: string;
    command: string;
    channel: string;
    outcome: AuditOutcome;
    jobId?: string | undefined;
    detail?: string | undefined;
  }): Promise<void> {
    const fields: string[] = ['at', new Date().toISOString()];
    for (const [k, v] of Object.entries(r)) if (v !== undefined) fields.push(k, String(v).slice(0, 2000));
    await this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', ...fields);
  }

  async recent(count = 20): Promise<AuditRecord[]> {
    const rows = await this.redis.xrevrange(this.key, '+', '-', 'COUNT', count);
    return rows.flatMap(([id, flat]) => {
      const o: Record<string, string> = { id };
      for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
      const parsed = auditRecordSchema.safeParse(o);
      return parsed.success ? [parsed.data] : [];
    });
  }
}
