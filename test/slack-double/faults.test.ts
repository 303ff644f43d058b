import { LogLevel, WebClient, WebClientEvent, ErrorCode as WebErrorCode } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';

const TOKEN = 'xoxb-test-faults';
const CH = 'C0FAULTS01';

describe('slack double: fault injection and rate limits', () => {
  let double: SlackDouble;
  let now: number;
  const client = (opts: ConstructorParameters<typeof WebClient>[1] = {}) =>
    new WebClient(TOKEN, { slackApiUrl: double.apiUrl, logLevel: LogLevel.ERROR, ...opts });

  beforeEach(async () => {
    now = 1_700_000_000_000;
    double = await startSlackDouble({ botToken: TOKEN, now: () => now });
  });
  afterEach(async () => {
    await double.close();
  });

  it('answers an injected 429 with Retry-After, which rejectRateLimitedCalls surfaces', async () => {
    double.failNext('chat.update', { status: 429, retryAfterSeconds: 7 });
    const { ts } = await client().chat.postMessage({ channel: CH, text: 'progress 0%' });
    const strict = client({ rejectRateLimitedCalls: true });
    await expect(strict.chat.update({ channel: CH, ts: ts!, text: 'progress 10%' })).rejects.toMatchObject({
      code: WebErrorCode.RateLimitedError,
      retryAfter: 7,
    });
    expect(double.messages(CH)[0]?.text).toBe('progress 0%');
    // one-shot: the next call goes through
    await strict.chat.update({ channel: CH, ts: ts!, text: 'progress 20%' });
    expect(double.calls('chat.update').map((c) => c.status)).toEqual([429, 200]);

    const raw = await fetch(`${double.apiUrl}chat.update`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new URLSearchParams({ channel: CH, ts: ts!, text: 'x' }),
    }).then(async (r) => ({
      status: r.status,
      retryAfter: r.headers.get('retry-after'),
      body: await r.json(),
    }));
    expect(raw.status).toBe(200); // the fault was consumed
    double.failNext('chat.update', { status: 429, retryAfterSeconds: 3 });
    const limited = await fetch(`${double.apiUrl}chat.update`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new URLSearchParams({ channel: CH, ts: ts!, text: 'x' }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toEqual({ ok: false, error: 'ratelimited' });
  });

  it('lets WebClient honour Retry-After and retry once', async () => {
    double.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    const c = client({ retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 1 } });
    const seen: number[] = [];
    c.on(WebClientEvent.RATE_LIMITED, (retrySec: number) => seen.push(retrySec));
    const r = await c.chat.postMessage({ channel: CH, text: 'after the pause' });
    expect(r.ok).toBe(true);
    expect(seen).toEqual([1]);
    expect(double.calls('chat.postMessage').map((x) => [x.status, x.ok])).toEqual([
      [429, false],
      [200, true],
    ]);
    expect(double.messages(CH).map((m) => m.text)).toEqual(['after the pause']);
  });

  it('injects Slack error codes and HTTP errors', async () => {
    double.failNext('chat.postMessage', { error: 'channel_not_found' });
    double.failNext('chat.postMessage', { status: 503 });
    const c = client({ retryConfig: { retries: 0 } });
    await expect(c.chat.postMessage({ channel: CH, text: 'a' })).rejects.toMatchObject({
      code: WebErrorCode.PlatformError,
      data: { error: 'channel_not_found' },
    });
    await expect(c.chat.postMessage({ channel: CH, text: 'b' })).rejects.toMatchObject({
      code: WebErrorCode.HTTPError,
      statusCode: 503,
    });
    await c.chat.postMessage({ channel: CH, text: 'c' });
    expect(double.messages(CH).map((m) => m.text)).toEqual(['c']);
  });

  it('rate-limits a method per sliding minute with a truthful Retry-After', async () => {
    double.rateLimit('chat.postMessage', { perMinute: 2 });
    const c = client({ rejectRateLimitedCalls: true });
    await c.chat.postMessage({ channel: CH, text: '1' });
    now += 20_000;
    await c.chat.postMessage({ channel: CH, text: '2' });
    now += 10_000;
    await expect(c.chat.postMessage({ channel: CH, text: '3' })).rejects.toMatchObject({ retryAfter: 30 });
    await c.chat.update({ channel: CH, ts: double.messages(CH)[0]!.ts, text: '1b' }); // other methods unaffected
    now += 30_001; // the first call has left the window
    await c.chat.postMessage({ channel: CH, text: '3' });
    await expect(c.chat.postMessage({ channel: CH, text: '4' })).rejects.toMatchObject({ retryAfter: 20 });
    double.rateLimit('chat.postMessage', undefined);
    await c.chat.postMessage({ channel: CH, text: '4' });
    expect(double.messages(CH).map((m) => m.text)).toEqual(['1b', '2', '3', '4']);
  });

  it('reset() drops queued faults and limits', async () => {
    double.failNext('auth.test', { error: 'account_inactive' });
    double.rateLimit('auth.test', { perMinute: 1 });
    double.reset();
    const c = client({ rejectRateLimitedCalls: true });
    await c.auth.test();
    await c.auth.test();
    expect(double.calls('auth.test').every((x) => x.ok)).toBe(true);
  });
});
