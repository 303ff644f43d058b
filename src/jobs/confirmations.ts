/**
 * Pending confirmations live in Redis (they survive a bot restart and are shared by every bot replica).
 * Claiming is one atomic script: the first click takes the record and leaves a "used" marker naming who
 * confirmed and which job; every later click (double click, second replica, Slack redelivery) sees the
 * marker. Expiry is the key's TTL, plus a longer-lived tombstone so "expired" can be told from "unknown".
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Plan } from '../core/plugin.js';

export const pendingSchema = z.object({
  confirmId: z.string(),
  command: z.string(),
  text: z.string(),
  args: z.unknown(),
  pinned: z.record(z.unknown()).default({}),
  /** The plan as shown, so the message can be re-rendered (expired, restored) without planning again. */
  plan: z.custom<Plan>((v) => typeof v === 'object' && v !== null),
  requester: z.string(),
  channel: z.string(),
  messageTs: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
});
export type Pending = z.infer<typeof pendingSchema>;

export type ClaimResult =
  | { kind: 'claimed'; pending: Pending }
  | { kind: 'used'; by: string; outcome: string; jobId: string }
  | { kind: 'expired'; text: string; requester: string }
  | { kind: 'unknown' };

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

export class Confirmations {
  constructor(
    private readonly redis: Redis,
    private readonly key: (id: string) => string,
    private readonly usedKey: (id: string) => string,
  ) {}

  /** Stores a pending confirmation once (a re-run of the same plan job keeps the first). */
  async create(p: Pending): Promise<Pending> {
    const ttl = Math.max(1, p.expiresAt - Date.now());
    const ok = await this.redis.set(this.key(p.confirmId), JSON.stringify(p), 'PX', ttl, 'NX');
    const meta = JSON.stringify({ expiresAt: p.expiresAt, text: p.text, requester: p.requester });
    await this.redis.set(this.usedKey(`${p.confirmId}:meta`), meta, 'EX', 7 * 86_400);
    if (ok === 'OK') return p;
    const existing = await this.peek(p.confirmId);
    return existing ?? p;
  }

  async peek(id: string): Promise<Pending | undefined> {
    const v = await this.redis.get(this.key(id));
    if (!v) return undefined;
    const parsed = pendingSchema.safeParse(JSON.parse(v));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Takes the confirmation for `by` with `outcome` ('confirmed' | 'cancelled'), exactly once across every
   * process. `jobId` is recorded in the used marker so later clicks can name the job.
   */
  async claim(id: string, by: string, outcome: string, jobId: string): Promise<ClaimResult> {
    const marker = JSON.stringify({ by, outcome, jobId });
    const [kind, value] = (await this.redis.eval(
      CLAIM,
      2,
      this.key(id),
      this.usedKey(id),
      marker,
      String(7 * 86_400),
    )) as [string, string];
    if (kind === 'claimed') return { kind: 'claimed', pending: pendingSchema.parse(JSON.parse(value)) };
    if (kind === 'used') {
      const u = JSON.parse(value) as { by: string; outcome: string; jobId: string };
      return { kind: 'used', ...u };
    }
    const raw = await this.redis.get(this.usedKey(`${id}:meta`));
    const meta = raw
      ? (JSON.parse(raw) as { expiresAt: number; text: string; requester: string })
      : undefined;
    return meta && meta.expiresAt <= Date.now()
      ? { kind: 'expired', text: meta.text, requester: meta.requester }
      : { kind: 'unknown' };
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
