import { LogLevel, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SLACK_DOUBLE_IDS, type SlackDouble, startSlackDouble } from '../../src/slack-double/index.js';

const TOKEN = 'xoxb-test-web-api';
const CH = 'C0WEBAPI01';

describe('slack double: Web API through the real WebClient', () => {
  let double: SlackDouble;
  let client: WebClient;

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

  it('answers auth.test with the workspace ids', async () => {
    const r = await client.auth.test();
    expect(r).toMatchObject({
      ok: true,
      team_id: SLACK_DOUBLE_IDS.teamId,
      user_id: SLACK_DOUBLE_IDS.botUserId,
      bot_id: SLACK_DOUBLE_IDS.botId,
    });
  });

  it('posts, threads, updates and deletes messages, recording each step', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Plan*: register host1' } }];
    const first = await client.chat.postMessage({ channel: CH, text: 'plan', blocks });
    const second = await client.chat.postMessage({ channel: CH, text: 'second' });
    expect(first).toMatchObject({
      ok: true,
      channel: CH,
      message: { text: 'plan', blocks, bot_id: SLACK_DOUBLE_IDS.botId },
    });
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));

    const reply = await client.chat.postMessage({ channel: CH, text: 'step 1 done', thread_ts: first.ts! });
    expect(reply.message?.thread_ts).toBe(first.ts);

    const upd = await client.chat.update({ channel: CH, ts: first.ts!, text: 'plan (running)' });
    expect(upd).toMatchObject({ ok: true, channel: CH, ts: first.ts, text: 'plan (running)' });
    await client.chat.update({ channel: CH, ts: first.ts!, text: 'plan (done)', blocks: [] });

    const top = double.messages(CH);
    expect(top.map((m) => m.text)).toEqual(['plan (done)', 'second']);
    expect(top[0]).toMatchObject({ replyCount: 1, editCount: 2, blocks: [] });
    expect(double.thread(CH, first.ts!).map((m) => m.text)).toEqual(['step 1 done']);
    const edits = double.edits(CH, first.ts!);
    expect(edits.map((e) => e.text)).toEqual(['plan (running)', 'plan (done)']);
    expect(edits[0]?.blocks).toEqual(blocks); // blocks kept when an update omits them, as Slack does

    await client.chat.delete({ channel: CH, ts: second.ts! });
    expect(double.messages(CH)).toHaveLength(1);
    await expect(client.chat.update({ channel: CH, ts: second.ts!, text: 'x' })).rejects.toMatchObject({
      data: { ok: false, error: 'message_not_found' },
    });
    await expect(
      client.chat.postMessage({ channel: CH, text: 'x', thread_ts: '1.000001' }),
    ).rejects.toMatchObject({
      data: { error: 'thread_not_found' },
    });
    await expect(client.chat.postMessage({ channel: CH, text: '' })).rejects.toMatchObject({
      data: { error: 'no_text' },
    });
  });

  it('records ephemeral messages and views', async () => {
    const e = await client.chat.postEphemeral({ channel: CH, user: 'U0SOMEONE', text: 'only you' });
    expect(e.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(double.ephemerals(CH, 'U0SOMEONE')).toMatchObject([{ text: 'only you', ts: e.message_ts }]);
    expect(double.ephemerals(CH, 'U0OTHER')).toEqual([]);
    expect(double.messages(CH)).toEqual([]);

    const modal = {
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Confirm' },
      blocks: [],
    };
    const opened = await client.views.open({ trigger_id: '1.2.abc', view: modal });
    const id = opened.view!.id!;
    const hash = opened.view!.hash!;
    expect(id).toMatch(/^V/);
    const updated = await client.views.update({ view_id: id, hash, view: { ...modal, blocks: [] } });
    expect(updated.view?.id).toBe(id);
    await expect(client.views.update({ view_id: id, hash, view: modal })).rejects.toMatchObject({
      data: { error: 'hash_conflict' },
    });
    await client.views.publish({ user_id: 'U0SOMEONE', view: { type: 'home', blocks: [] } });
    await client.views.push({ trigger_id: '1.2.def', view: modal });
    expect(double.views().map((v) => [v.method, v.versions])).toEqual([
      ['views.update', 2],
      ['views.publish', 1],
      ['views.push', 1],
    ]);
    await expect(client.views.update({ view_id: 'VNOPE', view: modal })).rejects.toMatchObject({
      data: { error: 'not_found' },
    });
  });

  it('gives plausible conversations.info and users.info', async () => {
    const c = await client.conversations.info({ channel: SLACK_DOUBLE_IDS.defaultChannel });
    expect(c.channel).toMatchObject({ id: SLACK_DOUBLE_IDS.defaultChannel, name: 'ops', is_channel: true });
    const u = await client.users.info({ user: SLACK_DOUBLE_IDS.defaultUser });
    expect(u.user).toMatchObject({ id: SLACK_DOUBLE_IDS.defaultUser, name: 'admin', is_bot: false });
  });

  it('rejects wrong and missing tokens, and unknown methods, as Slack does', async () => {
    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: double.apiUrl, logLevel: LogLevel.ERROR });
    await expect(wrong.chat.postMessage({ channel: CH, text: 'hi' })).rejects.toMatchObject({
      code: 'slack_webapi_platform_error',
      data: { ok: false, error: 'invalid_auth' },
    });
    const none = new WebClient(undefined, { slackApiUrl: double.apiUrl, logLevel: LogLevel.ERROR });
    await expect(none.auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
    await expect(client.apiCall('chat.teleport', {})).rejects.toMatchObject({
      data: { error: 'unknown_method' },
    });
    expect(double.messages()).toEqual([]);
    expect(double.calls().map((c) => c.error)).toEqual(['invalid_auth', 'not_authed', 'unknown_method']);
  });

  it('enforces the block and text limits the bot must respect', async () => {
    const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
    const tooMany = Array.from({ length: 51 }, (_, i) => section(`line ${i}`));
    await expect(client.chat.postMessage({ channel: CH, text: 't', blocks: tooMany })).rejects.toMatchObject({
      data: {
        error: 'invalid_blocks',
        response_metadata: { messages: [expect.stringContaining('/blocks')] },
      },
    });
    await client.chat.postMessage({ channel: CH, text: 't', blocks: tooMany.slice(0, 50) });
    await expect(
      client.chat.postMessage({ channel: CH, text: 't', blocks: [section('x'.repeat(3001))] }),
    ).rejects.toMatchObject({
      data: {
        error: 'invalid_blocks',
        response_metadata: { messages: [expect.stringContaining('/blocks/0/text/text')] },
      },
    });
    await client.chat.postMessage({ channel: CH, text: 't', blocks: [section('x'.repeat(3000))] });
    await expect(client.chat.postMessage({ channel: CH, text: 'x'.repeat(40_001) })).rejects.toMatchObject({
      data: { error: 'msg_too_long' },
    });
    const confirm = {
      title: { type: 'plain_text', text: 'Sure?' },
      text: { type: 'plain_text', text: 'y'.repeat(301) },
    } as const;
    const button = {
      type: 'button',
      action_id: 'go',
      text: { type: 'plain_text', text: 'Go' },
      confirm,
    } as const;
    await expect(
      client.chat.postMessage({ channel: CH, text: 't', blocks: [{ type: 'actions', elements: [button] }] }),
    ).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    const posted = double.messages(CH);
    expect(posted).toHaveLength(2);
    const [first] = posted;
    await expect(
      client.chat.update({ channel: CH, ts: first!.ts, text: 'u', blocks: tooMany }),
    ).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    expect(double.messages(CH)[0]?.editCount).toBe(0);
  });

  it('accepts JSON bodies and form bodies with the token as a parameter, never recording the token', async () => {
    const json = await fetch(`${double.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ channel: CH, text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(await json.json()).toMatchObject({
      ok: true,
      channel: CH,
      message: { blocks: [{ type: 'divider' }] },
    });
    const form = await fetch(`${double.apiUrl}chat.postMessage`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, channel: CH, text: 'form', blocks: '[{"type":"divider"}]' }),
    });
    expect(await form.json()).toMatchObject({
      ok: true,
      message: { text: 'form', blocks: [{ type: 'divider' }] },
    });
    const bad = await fetch(`${double.apiUrl}chat.postMessage`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, channel: CH, text: 'x', blocks: '[{"type":' }),
    });
    expect(await bad.json()).toMatchObject({ ok: false, error: 'invalid_blocks_format' });
    const calls = double.calls('chat.postMessage');
    expect(calls).toHaveLength(3);
    expect(JSON.stringify(calls)).not.toContain(TOKEN);
    expect(calls[1]?.params).toMatchObject({ channel: CH, text: 'form' });
  });

  it('waitFor resolves on a later change and times out otherwise', async () => {
    const waiting = double.waitFor((d) => d.messages(CH).find((m) => m.text === 'later'), {
      timeoutMs: 5000,
    });
    await client.chat.postMessage({ channel: CH, text: 'sooner' });
    await client.chat.postMessage({ channel: CH, text: 'later' });
    await expect(waiting).resolves.toMatchObject({ text: 'later', channel: CH });
    await expect(
      double.waitFor((d) => d.messages('C0NOWHERE').length > 0, { timeoutMs: 50 }),
    ).rejects.toThrow(/not met within 50 ms/);
    double.reset();
    expect(double.messages()).toEqual([]);
    expect(double.calls()).toEqual([]);
  });
});
