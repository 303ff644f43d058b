import { type ConversationsHistoryResponse, LogLevel, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SLACK_DOUBLE_IDS, type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';

const TOKEN = 'xoxb-test-history';
const CH = 'C0HISTORY1';

const texts = (r: { messages?: { text?: string }[] }) => (r.messages ?? []).map((m) => m.text);
const platformError = (error: string) => ({ data: { ok: false, error } });

describe('slack double: conversations.history / .replies and message metadata through the real WebClient', () => {
  let double: SlackDouble;
  let client: WebClient;

  /** Posts to CH, in the thread of `thread.ts` when given; returns the ts. */
  const post = async (text: string, thread?: { ts: string; broadcast?: boolean }) => {
    const r = thread
      ? await client.chat.postMessage({
          channel: CH,
          text,
          thread_ts: thread.ts,
          reply_broadcast: thread.broadcast ?? false,
        })
      : await client.chat.postMessage({ channel: CH, text });
    return r.ts!;
  };

  beforeEach(async () => {
    double = await startSlackDouble({ botToken: TOKEN });
    client = new WebClient(TOKEN, {
      slackApiUrl: double.apiUrl,
      logLevel: LogLevel.ERROR,
      retryConfig: { retries: 0 },
    });
  });
  afterEach(async () => {
    await double.close();
  });

  it('lists top-level messages newest first, thread replies only when broadcast', async () => {
    const a = await post('a');
    await post('b');
    await post('r1', { ts: a });
    const r2 = await post('r2', { ts: a, broadcast: true });
    await post('c');

    const h = await client.conversations.history({ channel: CH });
    expect(texts(h)).toEqual(['c', 'r2', 'b', 'a']);
    expect(h).toMatchObject({ ok: true, has_more: false, pin_count: 0 });
    expect(h.response_metadata?.next_cursor ?? '').toBe('');
    expect(h.messages?.[1]).toMatchObject({ subtype: 'thread_broadcast', thread_ts: a });
    expect(h.messages?.[3]).toMatchObject({ ts: a, thread_ts: a, reply_count: 2, latest_reply: r2 });
    expect(h.messages?.[2]?.reply_count).toBeUndefined();

    expect((await client.conversations.history({ channel: 'C0ELSEWHERE' })).messages).toEqual([]);
    await expect(client.conversations.history({ channel: '' })).rejects.toMatchObject(
      platformError('channel_not_found'),
    );
  });

  it('pages through history with next_cursor, as WebClient.paginate reads it', async () => {
    for (let i = 0; i < 5; i++) await post(`m${i}`);

    const p1 = await client.conversations.history({ channel: CH, limit: 2 });
    expect(texts(p1)).toEqual(['m4', 'm3']);
    expect(p1.has_more).toBe(true);
    const cursor = p1.response_metadata?.next_cursor;
    expect(cursor).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const p2 = await client.conversations.history({ channel: CH, limit: 2, cursor: cursor! });
    expect(texts(p2)).toEqual(['m2', 'm1']);
    const p3 = await client.conversations.history({
      channel: CH,
      limit: 2,
      cursor: p2.response_metadata!.next_cursor!,
    });
    expect(texts(p3)).toEqual(['m0']);
    expect(p3.has_more).toBe(false);
    expect(p3.response_metadata?.next_cursor ?? '').toBe('');

    const pages: (string | undefined)[][] = [];
    for await (const page of client.paginate('conversations.history', { channel: CH, limit: 2 }))
      pages.push(texts(page as ConversationsHistoryResponse));
    expect(pages).toEqual([['m4', 'm3'], ['m2', 'm1'], ['m0']]);

    await post('m5'); // a cursor is a position, not an offset: a new message does not shift later pages
    expect(texts(await client.conversations.history({ channel: CH, limit: 2, cursor: cursor! }))).toEqual([
      'm2',
      'm1',
    ]);
    await expect(client.conversations.history({ channel: CH, cursor: 'bm9wZQ==' })).rejects.toMatchObject(
      platformError('invalid_cursor'),
    );
  });

  it('defaults limit to 100 and clamps it to 999', async () => {
    for (let i = 0; i < 1000; i++) {
      const user = SLACK_DOUBLE_IDS.defaultUser;
      double.store.post({ channel: CH, user, text: `s${i}`, blocks: [], via: 'chat.postMessage' });
    }
    const first = await client.conversations.history({ channel: CH });
    expect(first.messages).toHaveLength(100);
    expect(first.has_more).toBe(true);
    const clamped = await client.conversations.history({ channel: CH, limit: 5000 });
    expect(clamped.messages).toHaveLength(999);
    expect(clamped.messages?.[0]?.text).toBe('s999');
    expect(clamped.has_more).toBe(true);
  });

  it('bounds history by oldest and latest, exclusive unless inclusive', async () => {
    const ts: string[] = [];
    for (let i = 0; i < 4; i++) ts.push(await post(`m${i}`));
    const [t0, t1, , t3] = ts as [string, string, string, string];
    const h = (args: {
      oldest?: string;
      latest?: string;
      inclusive?: boolean;
      limit?: number;
      cursor?: string;
    }) => client.conversations.history({ channel: CH, ...args });

    expect(texts(await h({ oldest: t0, latest: t3 }))).toEqual(['m2', 'm1']);
    expect(texts(await h({ oldest: t0, latest: t3, inclusive: true }))).toEqual(['m3', 'm2', 'm1', 'm0']);
    expect(texts(await h({ oldest: t1 }))).toEqual(['m3', 'm2']);
    expect(texts(await h({ latest: t1, inclusive: true }))).toEqual(['m1', 'm0']);

    const first = await h({ oldest: t0, latest: t3, limit: 1 });
    expect(texts(first)).toEqual(['m2']);
    const second = await h({
      oldest: t0,
      latest: t3,
      limit: 1,
      cursor: first.response_metadata!.next_cursor!,
    });
    expect(texts(second)).toEqual(['m1']);
    expect(second.has_more).toBe(false);

    await expect(h({ oldest: 'yesterday' })).rejects.toMatchObject(platformError('invalid_ts_oldest'));
    await expect(h({ latest: '12:00' })).rejects.toMatchObject(platformError('invalid_ts_latest'));
  });

  it('returns a thread as its parent, then the replies oldest first, paged the same way', async () => {
    const parent = await post('parent');
    const r1 = await post('r1', { ts: parent });
    const r2 = await post('r2', { ts: parent });
    const r3 = await post('r3', { ts: r1 }); // a reply's ts means the parent's thread
    const lone = await post('lone');

    const t = await client.conversations.replies({ channel: CH, ts: parent });
    expect(texts(t)).toEqual(['parent', 'r1', 'r2', 'r3']);
    expect(t.has_more).toBe(false);
    expect(t.messages?.[0]).toMatchObject({
      ts: parent,
      thread_ts: parent,
      reply_count: 3,
      latest_reply: r3,
    });
    expect(t.messages?.slice(1).map((m) => m.thread_ts)).toEqual([parent, parent, parent]);
    expect(texts(await client.conversations.replies({ channel: CH, ts: r2 }))).toEqual(texts(t));

    const p1 = await client.conversations.replies({ channel: CH, ts: parent, limit: 2 });
    expect(texts(p1)).toEqual(['parent', 'r1']);
    expect(p1.has_more).toBe(true);
    const cursor = p1.response_metadata!.next_cursor!;
    const p2 = await client.conversations.replies({ channel: CH, ts: parent, limit: 2, cursor });
    expect(texts(p2)).toEqual(['r2', 'r3']);
    expect(p2.has_more).toBe(false);

    const alone = await client.conversations.replies({ channel: CH, ts: lone });
    expect(texts(alone)).toEqual(['lone']);
    expect(alone.messages?.[0]?.reply_count).toBeUndefined();

    await expect(client.conversations.replies({ channel: CH, ts: '1.000001' })).rejects.toMatchObject(
      platformError('thread_not_found'),
    );
    await expect(client.conversations.replies({ channel: 'C0ELSEWHERE', ts: parent })).rejects.toMatchObject(
      platformError('thread_not_found'),
    );
    await expect(client.conversations.replies({ channel: '', ts: parent })).rejects.toMatchObject(
      platformError('channel_not_found'),
    );
  });

  it('stores metadata, returns it from history and replies only with include_all_metadata', async () => {
    const alert = (id: string) => ({
      event_type: 'heartbeat_alert',
      event_payload: { event_id: id, host: 'host1' },
    });
    const posted = await client.chat.postMessage({
      channel: CH,
      text: 'host1 down',
      metadata: alert('ev-1'),
    });
    expect(posted.message?.metadata).toEqual(alert('ev-1'));
    expect(posted).not.toHaveProperty('warning');
    const parent = posted.ts!;
    const update = { event_type: 'heartbeat-update', event_payload: { event_id: 'ev-1', n: 2, up: false } };
    await client.chat.postMessage({ channel: CH, text: 'still down', thread_ts: parent, metadata: update });
    for (const id of ['ev-2', 'ev-3', 'ev-4']) {
      await client.chat.postMessage({ channel: CH, text: id, metadata: alert(id) });
    }

    const plain = await client.conversations.history({ channel: CH });
    expect(plain.messages?.some((m) => m.metadata !== undefined)).toBe(false);

    // The heartbeat monitor's question after a crash: was ev-1 already posted, and where?
    let found: string | undefined;
    const opts = { channel: CH, limit: 2, include_all_metadata: true };
    for await (const page of client.paginate('conversations.history', opts)) {
      const hit = (page as ConversationsHistoryResponse).messages?.find(
        (m) =>
          m.metadata?.event_type === 'heartbeat_alert' &&
          (m.metadata.event_payload as Record<string, unknown> | undefined)?.['event_id'] === 'ev-1',
      );
      if (hit) found = hit.ts;
    }
    expect(found).toBe(parent);

    const thread = await client.conversations.replies({
      channel: CH,
      ts: parent,
      include_all_metadata: true,
    });
    expect(thread.messages?.map((m) => m.metadata)).toEqual([alert('ev-1'), update]);
    const bare = await client.conversations.replies({ channel: CH, ts: parent });
    expect(bare.messages?.map((m) => m.metadata)).toEqual([undefined, undefined]);

    const resolved = { event_type: 'heartbeat_alert', event_payload: { event_id: 'ev-1', resolved: true } };
    const upd = await client.chat.update({ channel: CH, ts: parent, text: 'host1 up', metadata: resolved });
    expect(upd.message?.metadata).toEqual(resolved);
    await client.chat.update({ channel: CH, ts: parent, text: 'host1 up (ack)' }); // metadata kept
    expect(double.messages(CH).find((m) => m.ts === parent)?.metadata).toEqual(resolved);
  });

  it('rejects metadata that is not an object, and drops an invalid schema with a warning', async () => {
    await expect(
      client.apiCall('chat.postMessage', { channel: CH, text: 'x', metadata: 'not json' }),
    ).rejects.toMatchObject(platformError('invalid_metadata_format'));
    await expect(
      client.apiCall('chat.postMessage', { channel: CH, text: 'x', metadata: [1] }),
    ).rejects.toMatchObject(platformError('invalid_metadata_format'));
    const json = await fetch(`${double.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ channel: CH, text: 'x', metadata: 42 }),
    });
    expect(await json.json()).toEqual({ ok: false, error: 'invalid_metadata_format' });
    expect(double.messages(CH)).toEqual([]);

    const warned = {
      warning: 'invalid_metadata_schema',
      response_metadata: { warnings: ['invalid_metadata_schema'] },
    };
    const invalid = [
      { event_type: 'heartbeat.alert', event_payload: { id: 1 } }, // no periods in an event type
      { event_type: '', event_payload: {} },
      { event_payload: { id: 1 } },
      { event_type: 'heartbeat_alert', event_payload: 'down' },
      { event_type: 'heartbeat_alert' },
    ];
    for (const metadata of invalid) {
      const r = await client.apiCall('chat.postMessage', { channel: CH, text: 'posted anyway', metadata });
      expect(r).toMatchObject({ ok: true, ...warned });
    }
    expect(double.messages(CH).map((m) => [m.text, m.metadata])).toEqual(
      invalid.map(() => ['posted anyway', undefined]),
    );

    const good = { event_type: 'heartbeat_alert', event_payload: { event_id: 'ev-9' } };
    const ts = (await client.chat.postMessage({ channel: CH, text: 'ok', metadata: good })).ts!;
    await expect(
      client.apiCall('chat.update', { channel: CH, ts, text: 'y', metadata: '{' }),
    ).rejects.toMatchObject(platformError('invalid_metadata_format'));
    const schema = await client.apiCall('chat.update', { channel: CH, ts, text: 'z', metadata: invalid[0] });
    expect(schema).toMatchObject({ ok: true, ...warned });
    const after = double.messages(CH).find((m) => m.ts === ts);
    expect(after).toMatchObject({ text: 'z', metadata: good, editCount: 1 });
  });
});
