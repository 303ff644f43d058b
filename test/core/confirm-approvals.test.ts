/**
 * The four-eyes state in the pending confirmation (src/jobs/confirmations.ts), on real Redis: approvals
 * added concurrently are all kept (compare-and-set, no lost update), once per user; the record keeps its
 * TTL, so a plan approved once still expires on time; a claim after that says "expired".
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { md } from '../../src/core/text.js';
import { Confirmations, type NewPending } from '../../src/jobs/confirmations.js';
import { keys } from '../../src/jobs/keys.js';
import { until } from '../support/flow.js';

const prefix = `t${randomBytes(5).toString('hex')}`;
const k = keys(prefix);
let redis: Redis;
let confirmations: Confirmations;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  confirmations = new Confirmations(redis, k.confirm, k.confirmUsed);
});
afterAll(async () => {
  const left = await redis.keys(`${prefix}:*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
});

const pending = (confirmId: string, ttlMs: number): NewPending => ({
  confirmId,
  recordId: `p-${confirmId}`,
  command: 'test change',
  text: 'test change h1',
  args: { host: 'h1' },
  pinned: null,
  plan: { summary: md`Change h1`, sections: [], warnings: [] },
  requester: 'U0ADMIN01',
  channel: 'C0OPS0001',
  messageTs: '1.000100',
  createdAt: Date.now(),
  expiresAt: Date.now() + ttlMs,
});

describe('Confirmations.approve', () => {
  it('keeps every approval of concurrent clicks, each user once, and leaves the plan pending', async () => {
    await confirmations.create(pending('cconc', 60_000));
    const users = Array.from({ length: 8 }, (_, i) => `U0ADMIN${String(i).padStart(2, '0')}`);
    const results = await Promise.all(
      [...users, ...users].map((user, i) => confirmations.approve('cconc', { user, at: i })),
    );
    expect(results.filter((r) => r.kind === 'approved')).toHaveLength(users.length);
    expect(results.filter((r) => r.kind === 'already')).toHaveLength(users.length);
    const p = await confirmations.peek('cconc');
    expect(p?.approvals.map((a) => a.user).sort()).toEqual(users);
    expect(await confirmations.isUsed('cconc')).toBe(false);
  });

  it('keeps the TTL: a plan approved once expires on time, and a later claim says expired', async () => {
    await confirmations.create(pending('cttl', 1500));
    const before = await redis.pttl(k.confirm('cttl'));
    expect(await confirmations.approve('cttl', { user: 'U0ADMIN01', at: 1 })).toMatchObject({
      kind: 'approved',
    });
    const after = await redis.pttl(k.confirm('cttl'));
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(before);
    await until(async () => (await redis.exists(k.confirm('cttl'))) === 0, 10_000, 'the plan to expire');
    expect(await confirmations.approve('cttl', { user: 'U0ADMIN02', at: 2 })).toEqual({ kind: 'gone' });
    expect(await confirmations.claim('cttl', 'U0ADMIN02', 'confirmed', 'j-x')).toMatchObject({
      kind: 'expired',
      text: 'test change h1',
    });
  });

  it('a claimed plan takes no approval, and the claim carries the approvals made before it', async () => {
    await confirmations.create(pending('cclaim', 60_000));
    await confirmations.approve('cclaim', { user: 'U0ADMIN01', at: 1 });
    const claim = await confirmations.claim('cclaim', 'U0ADMIN02', 'confirmed', 'j-y');
    expect(claim.kind === 'claimed' && claim.pending.approvals).toEqual([{ user: 'U0ADMIN01', at: 1 }]);
    expect(await confirmations.approve('cclaim', { user: 'U0ADMIN03', at: 3 })).toEqual({ kind: 'gone' });
  });
});
