/**
 * The monitor's board on real Redis: the first acknowledgement is kept (30 days, per incident), a window is
 * ended only if it is still the one asked for, Home users who stopped looking are forgotten after 30 days,
 * and an incident read from the board carries the thread the poster recorded beside it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Maintenance, MonitorBoard } from '../../src/monitor/board.js';
import { monitorKeys } from '../../src/monitor/incidents.js';
import { incidentFixture } from '../support/incident.js';

const PREFIX = `board-${process.pid}`;
let redis: Redis;
let board: MonitorBoard;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  board = new MonitorBoard(redis, PREFIX);
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('MonitorBoard', () => {
  it('keeps the first acknowledgement of an incident, for 30 days; a later click learns who was first', async () => {
    expect(await board.acknowledge('host1-a', 'U0FIRST1', 1000)).toEqual({
      first: true,
      ack: { by: 'U0FIRST1', at: 1000 },
    });
    expect(await board.acknowledge('host1-a', 'U0LATER1', 2000)).toEqual({
      first: false,
      ack: { by: 'U0FIRST1', at: 1000 },
    });
    const ttl = await redis.pttl(monitorKeys(PREFIX).ack('host1-a'));
    expect(ttl).toBeGreaterThan(29 * 86_400_000);
    expect([...(await board.acks(['host1-a', 'host2-b'])).keys()]).toEqual(['host1-a']);
  });

  it('ends a window only if it is still the one asked for; the fields survive the rewrite', async () => {
    const w: Maintenance = {
      id: 'mw-1',
      host: 'host2',
      by: 'U0ADMIN1',
      reason: null,
      since: 1_764_633_600_123,
      until: 1_764_637_200_456,
      endedBy: null,
    };
    await board.setMaintenance(w);
    expect(await board.endMaintenance('host2', 'U0ADMIN2', 1_764_634_000_789, 'mw-other')).toBeNull();
    expect(await board.maintenance()).toEqual([w]);
    expect(await board.endMaintenance('host2', 'U0ADMIN2', 1_764_634_000_789, 'mw-1')).toEqual(w);
    expect(await board.maintenance()).toEqual([{ ...w, until: 1_764_634_000_789, endedBy: 'U0ADMIN2' }]);
    // Already over: left as it is.
    expect(await board.endMaintenance('host2', 'U0ADMIN3', 1_764_635_000_000)).toMatchObject({
      endedBy: 'U0ADMIN2',
    });
    expect((await board.maintenance())[0]?.endedBy).toBe('U0ADMIN2');
    expect(await board.endMaintenance('host9', 'U0ADMIN2', 1)).toBeNull();
  });

  it('forgets Home users who have not opened the tab for 30 days', async () => {
    const now = Date.now();
    await board.addHomeUser('U0OLD0001', now - 31 * 86_400_000);
    await board.addHomeUser('U0NEW0001', now - 1000);
    expect(await board.homeUsers(now)).toEqual(['U0NEW0001']);
  });

  it('reads an incident with the thread the poster recorded beside it', async () => {
    const keys = monitorKeys(PREFIX);
    const inc = incidentFixture({ id: 'host3-x', host: 'host3', openedAt: 1, lostAt: 1 });
    await redis.set(keys.incident('host3'), JSON.stringify(inc));
    expect((await board.incidents(['host3'])).get('host3')?.threadTs).toBeNull();
    await redis.set(keys.thread('host3-x'), '1700000000.000100');
    expect((await board.incidents(['host3', 'host4'])).get('host3')?.threadTs).toBe('1700000000.000100');
  });
});
