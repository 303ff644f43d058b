import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESPONSE_URL_LIMITS, type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';

const CH = 'C0RESPURL1';
const USER = 'U0RESPURL1';

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

describe('slack double: response_url', () => {
  let double: SlackDouble;
  let now: number;

  beforeEach(async () => {
    now = 1_700_000_000_000;
    double = await startSlackDouble({ now: () => now });
  });
  afterEach(async () => {
    await double.close();
  });

  it('posts ephemeral by default and in_channel on request', async () => {
    const url = double.responseUrl(CH, USER);
    expect(url.startsWith(`${double.url}/response/`)).toBe(true);
    expect(await post(url, { text: 'only for you' })).toEqual({ status: 200, body: { ok: true } });
    expect(await post(url, { response_type: 'in_channel', text: 'for everyone' })).toMatchObject({
      status: 200,
    });
    expect(double.ephemerals(CH, USER)).toMatchObject([{ text: 'only for you', via: 'response_url' }]);
    expect(double.messages(CH)).toMatchObject([{ text: 'for everyone', via: 'response_url' }]);
  });

  it('allows 5 uses, then answers 404 used_url', async () => {
    const url = double.responseUrl(CH, USER);
    for (let i = 1; i <= RESPONSE_URL_LIMITS.uses; i++) {
      expect((await post(url, { text: `use ${i}` })).status).toBe(200);
    }
    expect(await post(url, { text: 'use 6' })).toEqual({
      status: 404,
      body: { ok: false, error: 'used_url' },
    });
    expect(double.ephemerals(CH)).toHaveLength(5);
  });

  it('expires after 30 minutes', async () => {
    const url = double.responseUrl(CH, USER);
    now += RESPONSE_URL_LIMITS.ttlMs;
    expect((await post(url, { text: 'just in time' })).status).toBe(200);
    now += 1;
    expect(await post(url, { text: 'too late' })).toEqual({
      status: 404,
      body: { ok: false, error: 'expired_url' },
    });
    expect((await post(`${double.url}/response/nope`, { text: 'x' })).status).toBe(404);
  });

  it('replaces and deletes the message an interaction came from', async () => {
    const res = await fetch(`${double.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-any' },
      body: new URLSearchParams({ channel: CH, text: 'Confirm?', blocks: '[{"type":"divider"}]' }),
    });
    const { ts } = (await res.json()) as { ts: string };
    const url = double.responseUrl(CH, USER, { messageTs: ts });
    expect((await post(url, { replace_original: true, text: 'Confirmed by <@U0RESPURL1>' })).status).toBe(
      200,
    );
    expect(double.messages(CH)).toMatchObject([
      { ts, text: 'Confirmed by <@U0RESPURL1>', blocks: [], editCount: 1 },
    ]);
    expect(double.edits(CH, ts)).toMatchObject([{ via: 'response_url', text: 'Confirmed by <@U0RESPURL1>' }]);
    expect((await post(url, { delete_original: true })).status).toBe(200);
    expect(double.messages(CH)).toEqual([]);
  });

  it('rejects what Slack rejects: bad blocks, no content, non-JSON', async () => {
    const url = double.responseUrl(CH, USER);
    const blocks = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    expect(await post(url, { text: 'x', blocks })).toEqual({
      status: 400,
      body: { ok: false, error: 'invalid_blocks' },
    });
    expect(await post(url, { response_type: 'ephemeral' })).toEqual({
      status: 400,
      body: { ok: false, error: 'no_text' },
    });
    const notJson = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect(double.ephemerals()).toEqual([]);
    // rejected posts do not use the URL up
    for (let i = 0; i < RESPONSE_URL_LIMITS.uses; i++)
      expect((await post(url, { text: 'ok' })).status).toBe(200);
  });
});
