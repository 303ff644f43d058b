/**
 * The monitor's outbox and poster on real Redis and the Slack double (no testbed): events post in order,
 * once; a leader that crashed between posting and dequeuing is followed by one that finds the message by its
 * metadata instead of posting it again; Slack answering 429 holds the line (Retry-After) and everything lands
 * in order afterwards; a replica without the lease changes nothing.
 */
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { type Incident, IncidentStore, monitorKeys } from '../../src/monitor/incidents.js';
import { Poster } from '../../src/monitor/poster.js';
import { type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';
import { tempDir } from '../manager/helpers.js';
import { writeInventory } from '../support/harness.js';
import { incidentFixture } from '../support/incident.js';

const ALERTS = 'C0ALERTS1';
const log = createLogger({ level: 'silent' });
let double: SlackDouble;
let redis: Redis;
let config: Config;
const tmp = tempDir('poster');
let n = 0;

beforeAll(async () => {
  double = await startSlackDouble({ botToken: 'xoxb-poster' });
  redis = new Redis(inject('redisUrl'));
  const inventory = writeInventory(tmp.dir, {
    prefix: `poster-${process.pid}`,
    extra: `monitor:\n  recoverAfterMs: 2000\n`,
  });
  config = loadConfig({
    FLEXVDI_CONFIG: inventory,
    REDIS_URL: inject('redisUrl'),
    SLACK_BOT_TOKEN: 'xoxb-poster',
    SLACK_SIGNING_SECRET: 'x',
    SLACK_API_URL: double.apiUrl,
  });
});
afterAll(async () => {
  const keys = await redis.keys(`poster-${process.pid}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await double.close();
  tmp.remove();
});

/** A store and a poster on their own key prefix, leading; the poster's clock is `clock.now`. */
async function leader(id = 'replica-a', clock = { now: Date.now() }) {
  const keys = monitorKeys(`poster-${process.pid}-${++n}`);
  const store = new IncidentStore(redis, keys, id);
  expect(await store.lead(5000)).toBe(true);
  const slack = new WebClient('xoxb-poster', {
    slackApiUrl: double.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 10_000,
  });
  return { keys, store, poster: new Poster({ config, store, slack, log, now: () => clock.now }), slack };
}

const incident = (host: string, over: Partial<Incident> = {}): Omit<Incident, 'version'> =>
  incidentFixture({
    id: `${host}-x${n}`,
    host,
    openedAt: Date.now(),
    lostAt: Date.now(),
    channel: ALERTS,
    ...over,
  });

/** The first characters of the alert channel's messages posted after the first `before`. */
const postedSince = (before: number) =>
  double
    .messages(ALERTS)
    .slice(before)
    .map((m) => m.text.slice(0, 9));

async function open(store: IncidentStore, host: string) {
  const next = incident(host);
  expect(
    await store.transition(host, undefined, next, {
      kind: 'opened',
      host,
      incidentId: next.id,
      at: next.lostAt,
      manager: null,
    }),
  ).toBe('ok');
  return next;
}

async function resolve(store: IncidentStore, host: string) {
  const cur = (await store.incidents([host])).get(host)!;
  const next = { ...cur, state: 'resolved' as const, resolvedAt: Date.now() };
  expect(
    await store.transition(host, cur, next, {
      kind: 'resolved',
      host,
      incidentId: cur.id,
      at: Date.now(),
      manager: null,
    }),
  ).toBe('ok');
}

describe('poster', () => {
  it('posts the parent, then the resolution in its thread with the parent edited; the outbox ends empty', async () => {
    const clock = { now: Date.now() };
    const { store, poster } = await leader('replica-a', clock);
    await open(store, 'host1');
    await poster.drain();
    const parent = double.messages(ALERTS).at(-1)!;
    expect(parent.text).toMatch(/^🔴 \*host1\*/);
    expect(await store.threadOf((await store.incidents(['host1'])).get('host1')!.id)).toBe(parent.ts);
    await resolve(store, 'host1');
    // Within a second of the last post in the channel, drain leaves it for the next tick (no waiting).
    await poster.drain();
    expect(double.thread(ALERTS, parent.ts)).toEqual([]);
    clock.now += 1000;
    await poster.drain();
    expect(double.thread(ALERTS, parent.ts).map((m) => m.text)).toEqual([
      expect.stringMatching(/^✅ Recovered at /),
    ]);
    expect(double.messages(ALERTS).find((m) => m.ts === parent.ts)?.text).toMatch(/^✅ \*host1\* is back/);
    expect(await store.outboxLength()).toBe(0);
  });

  it('a successor finds an event its crashed predecessor posted but did not dequeue, and does not post it again', async () => {
    const clock = { now: Date.now() };
    const { keys, store, slack } = await leader('replica-a', clock);
    const inc = await open(store, 'host1');
    const head = (await store.head())!;
    // replica-a marks the attempt, posts (with the event's metadata), and dies before dequeuing
    expect(await store.attempting(head.seq, clock.now, 1000)).toBeNull();
    const posted = await slack.chat.postMessage({
      channel: ALERTS,
      text: 'posted by the crashed leader',
      metadata: {
        event_type: 'flexvdi_monitor_event',
        event_payload: { seq: head.seq, incident: inc.id, kind: 'opened' },
      },
    });
    await redis.del(keys.leader); // its lease runs out
    const b = new IncidentStore(redis, keys, 'replica-b');
    expect(await b.lead(5000)).toBe(true);
    const successor = new Poster({
      config,
      store: b,
      slack,
      log,
      now: () => clock.now,
    });
    const before = double.messages(ALERTS).length;
    // while the predecessor's post could still be landing, the successor waits
    await successor.drain();
    expect(await b.outboxLength()).toBe(1);
    clock.now += 12_001;
    await successor.drain();
    expect(double.messages(ALERTS)).toHaveLength(before);
    expect(await b.threadOf(inc.id)).toBe(posted.ts);
    expect(await b.outboxLength()).toBe(0);
  });

  it('an event Slack refuses for good goes to the dead list; the events behind it still go out', async () => {
    const clock = { now: Date.now() };
    const { keys, store, poster } = await leader('replica-a', clock);
    await open(store, 'host1');
    await open(store, 'host2');
    double.failNext('chat.postMessage', { error: 'not_in_channel' });
    const before = double.messages(ALERTS).length;
    await poster.drain();
    clock.now += 1000;
    await poster.drain();
    expect(postedSince(before)).toEqual(['🔴 *host2']);
    const dead = await redis.lrange(keys.dead, 0, -1);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!)).toMatchObject({
      error: 'not_in_channel',
      event: { host: 'host1', kind: 'opened' },
    });
    expect(await store.outboxLength()).toBe(0);
  });

  it('holds the line while Slack answers 429, then posts everything in order, once', async () => {
    const clock = { now: Date.now() };
    const { store, poster } = await leader('replica-a', clock);
    await open(store, 'host1');
    await open(store, 'host2');
    double.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 30 });
    const before = double.messages(ALERTS).length;
    await poster.drain();
    expect(double.messages(ALERTS)).toHaveLength(before);
    expect(await store.outboxLength()).toBe(2);
    clock.now += 29_000; // within Slack's Retry-After: nothing is tried
    await poster.drain();
    expect(double.calls('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(1);
    expect(double.messages(ALERTS)).toHaveLength(before);
    clock.now += 1000;
    await poster.drain();
    expect(postedSince(before)).toEqual(['🔴 *host1']);
    clock.now += 1000;
    await poster.drain();
    expect(postedSince(before)).toEqual(['🔴 *host1', '🔴 *host2']);
    expect(await store.outboxLength()).toBe(0);
  });

  it('reads the outbox again only once this store queued an event or took the lead back', async () => {
    const clock = { now: Date.now() };
    const { keys, store, poster } = await leader('replica-a', clock);
    const heads = vi.spyOn(store, 'head');
    await poster.drain();
    expect([heads.mock.calls.length, poster.pending]).toEqual([1, false]);
    await poster.drain();
    expect(heads.mock.calls.length).toBe(1); // nothing can have been queued: no Redis read
    await open(store, 'host7');
    expect(poster.pending).toBe(true);
    const before = double.messages(ALERTS).length;
    await poster.drain();
    expect(postedSince(before)).toEqual(['🔴 *host7']);
    clock.now += 1500;
    await poster.drain();
    expect(poster.pending).toBe(false);
    const reads = heads.mock.calls.length;
    // Another replica leads for a while and queues an event; this one takes the lead back: it looks again.
    await redis.del(keys.leader);
    const other = new IncidentStore(redis, keys, 'replica-b');
    expect(await other.lead(5000)).toBe(true);
    await open(other, 'host8');
    await redis.del(keys.leader);
    expect(poster.pending).toBe(false);
    expect(await store.lead(5000)).toBe(true);
    expect(poster.pending).toBe(true);
    await poster.drain();
    expect(heads.mock.calls.length).toBeGreaterThan(reads);
    expect(postedSince(before + 1)).toEqual(['🔴 *host8']);
  });

  it('a replica without the lease can neither change an incident nor dequeue', async () => {
    const { keys, store } = await leader('replica-a');
    const other = new IncidentStore(redis, keys, 'replica-b');
    expect(await other.lead(5000)).toBe(false);
    const next = incident('host3');
    expect(
      await other.transition('host3', undefined, next, {
        kind: 'opened',
        host: 'host3',
        incidentId: next.id,
        at: 1,
        manager: null,
      }),
    ).toBe('not-leader');
    await open(store, 'host3');
    const head = (await store.head())!;
    expect(await other.attempting(head.seq, Date.now(), 1000)).toBe('not-leader');
    expect(await other.delivered(head, null)).toBe('not-leader');
    expect(await store.outboxLength()).toBe(1);
    // the leader's own attempt is untouched by the other's calls
    expect(await store.attempting(head.seq, Date.now(), 1000)).toBeNull();
  });
});
