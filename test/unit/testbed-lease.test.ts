/**
 * The Manager guest's lease as the stand-in holds it (src/testbed/manager/lease.ts), on a real file with the
 * real flock(1): renewed while it names this owner and has not run out, lost to another owner or to time,
 * and given up only when it is ours.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lease } from '../../src/testbed/manager/lease.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'flexvdi-manager.lease');
const write = (owner: string, expiresMs: number) =>
  writeFileSync(file, `owner=${owner}\nexpires_ms=${expiresMs}\n`);
const read = () =>
  Object.fromEntries(
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('=')),
  );

describe('Lease', () => {
  it('renews while the file names it and has not run out, pushing the expiry; holds until then', async () => {
    write('host1', Date.now() + 5000);
    const lease = new Lease({ file, owner: 'host1', ttlMs: 4000 });
    expect(lease.holds()).toBe(false); // never renewed by this process yet
    const before = Date.now();
    expect(await lease.renew()).toEqual({ ok: true });
    const after = Date.now();
    // The renewal's clock is read somewhere between `before` and `after`: held until then + ttl, not after.
    expect(lease.holds()).toBe(true);
    expect(lease.holds(before + 3999)).toBe(true);
    expect(lease.holds(after + 4000)).toBe(false);
    expect(read()['owner']).toBe('host1');
    expect(Number(read()['expires_ms'])).toBeGreaterThanOrEqual(before + 4000);
  });

  it('is lost to another owner, and to a lease that ran out; a lost lease is never renewed by time alone', async () => {
    write('host2', Date.now() + 5000);
    const lease = new Lease({ file, owner: 'host1', ttlMs: 4000 });
    const other = await lease.renew();
    expect(other).toMatchObject({ ok: false, lost: true });
    expect(other.ok ? '' : other.reason).toContain('held by host2');
    expect(read()['owner']).toBe('host2');
    write('host1', Date.now() - 1);
    const expired = await lease.renew();
    expect(expired).toMatchObject({ ok: false, lost: true });
    expect(expired.ok ? '' : expired.reason).toContain('expired');
  });

  it('gives the lease up only when it is ours', async () => {
    write('host2', Date.now() + 5000);
    await new Lease({ file, owner: 'host1', ttlMs: 4000 }).release();
    expect(read()['owner']).toBe('host2');
    write('host1', Date.now() + 5000);
    const mine = new Lease({ file, owner: 'host1', ttlMs: 4000 });
    await mine.renew();
    await mine.release();
    expect(mine.holds()).toBe(false);
    expect(() => readFileSync(file)).toThrow();
  });
});
