/**
 * Pending confirmations live in Redis (they survive a bot restart and are shared by every bot replica).
 * Claiming is one atomic script: the first click takes the record and leaves a "used" marker naming who
 * confirmed and which job; every later click (double click, second replica, Slack redelivery) sees the
 * marker. Expiry is the key's TTL, plus a longer-lived tombstone so "expired" can be told from "unknown".
 * A plan that needs four eyes (src/jobs/approvals.ts) keeps its first approval in the same record, added by
 * a compare-and-set script that keeps the TTL, so a click that raced with another one is read again.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseJson } from '../core/json.js';
import { storedPlanSchema } from '../core/plugin.js';
import { type Approval, approvalSchema } from './approvals.js';

export const pendingSchema = z.object({
  confirmId: z.string(),
  /** The job-state record the plan is shown in (the run job shows its progress there too). */
  recordId: z.string(),
  command: z.string(),
  text: z.string(),
  args: z.unknown(),
  /** What the plan pinned: opaque here, parsed by the command's own schema when the run job binds it. */
  pinned: z.unknown(),
  /** The plan as shown, so the message can be re-rendered (expired, restored) without planning again. */
  plan: storedPlanSchema,
  requester: z.string(),
  channel: z.string(),
  messageTs: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  /** Four eyes: the approvals recorded so far, in order (the final one claims the record instead). */
  approvals: z.array(approvalSchema).default([]),
});
export type Pending = z.output<typeof pendingSchema>;
export type NewPending = z.input<typeof pendingSchema>;

export type ClaimResult =
  | { kind: 'claimed'; pending: Pending }
  | { kind: 'used'; by: string; outcome: string; jobId: string }
  | { kind: 'expired'; text: string; requester: string; recordId?: string | undefined }
  | { kind: 'unknown' };

const usedSchema = z.object({ by: z.string(), outcome: z.string(), jobId: z.string() });
const metaSchema = z.object({
  expiresAt: z.number(),
  text: z.string(),
  requester: z.string(),
  recordId: z.string().optional(),
});

// KEYS: pending, used marker, meta. Refuses once claimed; keeps the first pending record of a plan job.
const CREATE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'used', ''} end
local v = redis.call('GET', KEYS[1])
if v then return {'existing', v} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
return {'created', ''}`;

const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  return {'claimed', v}
end
local u = redis.call('GET', KEYS[2])
if u then return {'used', u} end
return {'none', ''}`;

// KEYS: pending. ARGV: the value it was read as, the new value. Replaces it only if unchanged, keeping its TTL.
const REPLACE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

export type ApproveResult =
  | { kind: 'approved'; pending: Pending }
  | { kind: 'already'; pending: Pending }
  /** Not pending any more (claimed or expired): `claim` tells which. */
  | { kind: 'gone' };

export class Confirmations {
  constructor(
    private readonly redis: Redis,
    private readonly key: (id: string) => string,
    private readonly usedKey: (id: string) => string,
  ) {}

  /**
   * Stores a pending confirmation once. A re-run of the same plan job (stalled) gets the first one back
   * (`existing`), and one whose plan was already claimed — confirmed, cancelled or edited — gets `used`:
   * nothing is stored, so no second Confirm button can appear for a plan that was acted on.
   */
  async create(
    input: NewPending,
  ): Promise<{ kind: 'created' | 'existing'; pending: Pending } | { kind: 'used' }> {
    const p = pendingSchema.parse(JSON.parse(JSON.stringify(input)));
    const ttl = Math.max(1, p.expiresAt - Date.now());
    const meta = JSON.stringify({
      expiresAt: p.expiresAt,
      text: p.text,
      requester: p.requester,
      recordId: p.recordId,
    });
    const reply = await this.redis.eval(
      CREATE,
      3,
      this.key(p.confirmId),
      this.usedKey(p.confirmId),
      this.usedKey(`${p.confirmId}:meta`),
      JSON.stringify(p),
      String(ttl),
      meta,
      String(7 * 86_400),
    );
    const [kind, value] = z.tuple([z.string(), z.string()]).parse(reply);
    if (kind === 'used') return { kind: 'used' };
    if (kind === 'created') return { kind: 'created', pending: p };
    const existing = pendingSchema.safeParse(parseJson(value));
    return existing.success ? { kind: 'existing', pending: existing.data } : { kind: 'created', pending: p };
  }

  /** Whether the confirmation was already claimed (confirmed, cancelled or edited). */
  async isUsed(id: string): Promise<boolean> {
    return (await this.redis.exists(this.usedKey(id))) === 1;
  }

  async peek(id: string): Promise<Pending | undefined> {
    const v = await this.redis.get(this.key(id));
    if (!v) return undefined;
    const parsed = pendingSchema.safeParse(parseJson(v));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Takes the confirmation for `by` with `outcome` ('confirmed' | 'cancelled'), exactly once across every
   * process. `jobId` is recorded in the used marker so later clicks can name the job.
   */
  async claim(id: string, by: string, outcome: string, jobId: string): Promise<ClaimResult> {
    const marker = JSON.stringify({ by, outcome, jobId });
    const reply = await this.redis.eval(CLAIM, 2, this.key(id), this.usedKey(id), marker, String(7 * 86_400));
    const [kind, value] = z.tuple([z.string(), z.string()]).parse(reply);
    if (kind === 'claimed') {
      const pending = pendingSchema.safeParse(parseJson(value));
      // A record that no longer parses (written by an older version) cannot be run: say it is unknown.
      return pending.success ? { kind: 'claimed', pending: pending.data } : { kind: 'unknown' };
    }
    if (kind === 'used') {
      const u = usedSchema.safeParse(parseJson(value));
      return u.success ? { kind: 'used', ...u.data } : { kind: 'unknown' };
    }
    const raw = await this.redis.get(this.usedKey(`${id}:meta`));
    const parsedMeta = raw ? metaSchema.safeParse(parseJson(raw)) : undefined;
    const meta = parsedMeta?.success ? parsedMeta.data : undefined;
    return meta && meta.expiresAt <= Date.now()
      ? { kind: 'expired', text: meta.text, requester: meta.requester, recordId: meta.recordId }
      : { kind: 'unknown' };
  }

  /**
   * Adds `approval` to a pending confirmation, once per user, without taking it: read, add, and write back
   * only if nobody changed it meanwhile (else read again). Two clicks at once record one approval each.
   */
  async approve(id: string, approval: Approval): Promise<ApproveResult> {
    // Each retry follows someone else's change, and a plan takes few: the bound only guards against a bug.
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(this.key(id));
      const parsed = raw ? pendingSchema.safeParse(parseJson(raw)) : undefined;
      if (!raw || !parsed?.success) return { kind: 'gone' };
      const p = parsed.data;
      if (p.approvals.some((a) => a.user === approval.user)) return { kind: 'already', pending: p };
      const next: Pending = { ...p, approvals: [...p.approvals, approval] };
      if (Number(await this.redis.eval(REPLACE, 1, this.key(id), raw, JSON.stringify(next))) === 1)
        return { kind: 'approved', pending: next };
      // Changed (another approval) or just expired or claimed: the next read tells.
    }
    throw new Error(`confirmation ${id}: the record kept changing while an approval was being added`);
  }

  /** Puts a claimed confirmation back (the enqueue after a claim failed, so the user can click again). */
  async restore(p: Pending): Promise<void> {
    const ttl = p.expiresAt - Date.now();
    if (ttl <= 0) return;
    await this.redis
      .multi()
      .del(this.usedKey(p.confirmId))
      .set(this.key(p.confirmId), JSON.stringify(p), 'PX', ttl)
      .exec();
  }
}
