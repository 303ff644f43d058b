/**
 * The monitor's loss journal: losses seen while Redis could not be reached are told late, once, unless an
 * incident on record covers them or is newer; losses seen while all was well are never told twice.
 */
import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/monitor/incidents.js';
import { LossJournal } from '../../src/monitor/journal.js';
import { incidentFixture } from '../support/incident.js';

const inc = (over: Partial<Incident>): Incident =>
  incidentFixture({
    id: 'h1-x',
    host: 'h1',
    state: 'resolved',
    resolvedAt: 2000,
    channel: 'C1',
    threadTs: '1.1',
    version: 1,
    ...over,
  });

describe('LossJournal', () => {
  it('a loss entirely inside a Redis outage is told once when Redis is back', () => {
    const j = new LossJournal();
    expect(j.owed).toBe(false);
    j.trouble(5000);
    j.lost('h1', 5200, ['heartbeat']);
    j.back('h1', 9000);
    expect(j.owed).toBe(true);
    const { tell, dropped } = j.settle(new Map());
    expect(tell).toEqual([{ host: 'h1', lostAt: 5200, failing: ['heartbeat'], backAt: 9000, missed: true }]);
    expect(dropped).toEqual([]);
    expect(j.owed).toBe(false);
    expect(j.settle(new Map()).tell).toEqual([]);
  });

  it('a loss that began before the outage and ended during it is missed too; one still going is left to the level-triggered decision', () => {
    const j = new LossJournal();
    j.lost('h1', 1000, ['sshd']);
    j.lost('h2', 1500, ['heartbeat']);
    j.trouble(2000);
    j.back('h1', 3000);
    const { tell } = j.settle(new Map());
    expect(tell.map((l) => l.host)).toEqual(['h1']);
    j.back('h2', 4000); // over after Redis came back: the live decision saw it
    expect(j.settle(new Map()).tell).toEqual([]);
  });

  it('a loss while all was well is never told late; one covered by the incident on record neither', () => {
    const j = new LossJournal();
    j.lost('h1', 1000, ['heartbeat']);
    j.back('h1', 2000);
    expect(j.owed).toBe(false);
    expect(j.settle(new Map()).tell).toEqual([]);
    j.lost('h1', 3000, ['heartbeat']);
    j.trouble(3500);
    j.back('h1', 4000);
    const covering = inc({ openedAt: 3000, lostAt: 3000, resolvedAt: 4200 });
    expect(j.settle(new Map([['h1', covering]]))).toEqual({ tell: [], dropped: [] });
  });

  it('a missed loss older than a newer incident on record is dropped, not written over it', () => {
    const j = new LossJournal();
    j.trouble(1000);
    j.lost('h1', 1100, ['heartbeat']);
    j.back('h1', 1500);
    const newer = inc({ openedAt: 1800, lostAt: 1800, resolvedAt: 2500 });
    const r = j.settle(new Map([['h1', newer]]));
    expect(r.tell).toEqual([]);
    expect(r.dropped.map((l) => l.lostAt)).toEqual([1100]);
  });

  it('a loss that began inside a maintenance window was muted: not told late', () => {
    const j = new LossJournal();
    j.trouble(1000);
    j.lost('h1', 1100, ['heartbeat']);
    j.back('h1', 1500);
    const w = { id: 'w', host: 'h1', by: 'U1', reason: null, since: 1000, until: 5000, endedBy: null };
    expect(j.settle(new Map(), [w])).toEqual({ tell: [], dropped: [] });
  });

  it('a standby forgets what it missed (the leader tells it); a loss that could not be written is kept', () => {
    const j = new LossJournal();
    j.trouble(1000);
    j.lost('h1', 1100, ['heartbeat']);
    j.back('h1', 1500);
    j.standingBy();
    expect(j.owed).toBe(false);
    expect(j.settle(new Map()).tell).toEqual([]);
    j.trouble(2000);
    j.lost('h2', 2100, ['sshd']);
    j.back('h2', 2500);
    const { tell } = j.settle(new Map());
    expect(tell).toHaveLength(1);
    j.restore(tell);
    expect(j.owed).toBe(true);
    expect(j.settle(new Map()).tell.map((l) => l.host)).toEqual(['h2']);
  });
});
