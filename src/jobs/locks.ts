/**
 * Per-Host mutual exclusion for mutating jobs (BullMQ groups are a Pro feature). A lock is a Redis key
 * holding `jobId:fence`; the fence is a global counter so a holder that lost its lease (paused process, lost
 * network) can tell: renew and release only succeed while the key still holds its own value. The same job
 * (e.g. resumed by BullMQ after its worker crashed) may take over its own lock.
 *
 * A second key per resource (`<lock>:last`, long-lived) names the last holder. A lease that merely expired
 * while nobody else took the resource (Redis restarted after more than the TTL, a long pause) is re-taken
 * on renew instead of aborting the job: `last` still naming this holder proves no other job held it since.
 */
import type { Redis } from 'ioredis';
import { AppError, ErrorCode } from '../errors.js';

// KEYS: lock, last holder. The last-holder key outlives any lease (7 days).
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and string.sub(holder, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. ':' then return holder end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. ARGV[3], 'EX', 604800)
return false`;

// Fix (core tests, Redis restart): a lease that expired while Redis was down (or this process paused) made
// the renew fail, the job's AbortSignal fire and the job end as "Cancelled by someone". If the lock is free
// and no one else has held it since (last holder is still us), it is simply taken again.
const RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

// Also forgets the last holder, so a renew racing with the release cannot take the lock again.
const RELEASE = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const lastKey = (lockKey: string) => `${lockKey}:last`;

export interface HeldLocks {
  resources: string[];
  /** Renews every lease; throws lock.lost if any was taken over. */
  renew(): Promise<void>;
  release(): Promise<void>;
}

export class HostLocks {
  constructor(
    private readonly redis: Redis,
    private readonly lockKey: (r: string) => string,
    private readonly fenceKey: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes every lock or none (sorted order; on a conflict the ones already taken are released). */
  async acquire(jobId: string, resources: string[]): Promise<HeldLocks> {
    const sorted = [...new Set(resources.map((r) => r.toLowerCase()))].sort();
    const held: { key: string; value: string }[] = [];
    for (const r of sorted) {
      const fence = await this.redis.incr(this.fenceKey);
      const key = this.lockKey(r);
      const holder = await this.redis.eval(
        ACQUIRE,
        2,
        key,
        lastKey(key),
        jobId,
        String(this.ttlMs),
        String(fence),
      );
      if (typeof holder === 'string') {
        await Promise.all(held.map((h) => this.redis.eval(RELEASE, 2, h.key, lastKey(h.key), h.value)));
        const other = holder.slice(0, holder.lastIndexOf(':'));
        const what = r.startsWith('host:') ? `Host ${r.slice(5)}` : `\`${r}\``;
        throw new AppError(ErrorCode.lockBusy, `${r} is locked by job ${other}`, {
          userMessage: `Waiting: ${what} is busy with job ${other}.`,
          details: { resource: r, holder: other },
        });
      }
      held.push({ key, value: `${jobId}:${fence}` });
    }
    return {
      resources: sorted,
      renew: async () => {
        for (const h of held) {
          const ok = await this.redis.eval(RENEW, 2, h.key, lastKey(h.key), h.value, String(this.ttlMs));
          if (ok !== 1)
            throw new AppError(ErrorCode.lockLost, `lost the lock ${h.key}`, {
              userMessage: 'Lost the Host lock (another job took it over); stopped.',
            });
        }
      },
      release: async () => {
        await Promise.all(held.map((h) => this.redis.eval(RELEASE, 2, h.key, lastKey(h.key), h.value)));
      },
    };
  }
}
