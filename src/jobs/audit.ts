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
  /** A four-eyes plan's first approval (the plan then waits for a second admin's, audited `confirmed`). */
  'approved',
  'confirmed',
  'cancelled',
  /** The first acknowledgement of an alert (its Acknowledge button). */
  'acknowledged',
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

function fieldsOf(r: Record<string, string | undefined>): string[] {
  const fields: string[] = ['at', new Date().toISOString()];
  for (const [k, v] of Object.entries(r)) if (v !== undefined) fields.push(k, String(v).slice(0, 2000));
  return fields;
}

// Records each record unless its marker key exists (then sets the marker). KEYS: the stream, then one marker
// per record. ARGV: marker TTL (s), MAXLEN, then per record its number of field/value strings and those.
const RECORD_ONCE = `
local at = 3
local n = 0
for i = 2, #KEYS do
  local len = tonumber(ARGV[at])
  if redis.call('SET', KEYS[i], '1', 'EX', ARGV[1], 'NX') then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, at + 1, at + len))
    n = n + 1
  end
  at = at + 1 + len
end
return n`;

type AuditInput = {
  user: string;
  command: string;
  channel: string;
  outcome: AuditOutcome;
  jobId?: string | undefined;
  detail?: string | undefined;
};

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly maxLen = 100_000,
  ) {}

  async record(r: AuditInput): Promise<void> {
    await this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', ...fieldsOf(r));
  }

  /**
   * Records each `record` unless a record was already made under its `marker` (kept `ttlSeconds`), so a
   * request delivered several times is in the trail once. One script call for all (markers and records
   * together); resolves with how many it recorded.
   */
  async recordOnceMany(items: { marker: string; record: AuditInput }[], ttlSeconds: number): Promise<number> {
    if (!items.length) return 0;
    const args: string[] = [String(ttlSeconds), String(this.maxLen)];
    for (const { record } of items) {
      const fields = fieldsOf(record);
      args.push(String(fields.length), ...fields);
    }
    const n = await this.redis.eval(
      RECORD_ONCE,
      1 + items.length,
      this.key,
      ...items.map((i) => i.marker),
      ...args,
    );
    return Number(n);
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
