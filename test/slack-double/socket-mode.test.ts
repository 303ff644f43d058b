/**
 * The double's Socket Mode: apps.connections.open with Slack's token rules and error shapes, the single-use
 * WebSocket URL, `hello`, envelopes and acks on a raw socket, and a real Bolt SocketModeReceiver app driven
 * through it (a command, a click and a view submission, each acked over the socket).
 */
import { App, type BlockAction, type ButtonAction, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  blockActionsPayload,
  SLACK_DOUBLE_IDS,
  type SlackDouble,
  startSlackDouble,
} from '../../src/slack-double/index.js';

const BOT = 'xoxb-test-socket';
const APP = 'xapp-1-A0FLEXVDI-1-secret';
const CH = SLACK_DOUBLE_IDS.defaultChannel;
const USER = SLACK_DOUBLE_IDS.defaultUser;

let double: SlackDouble;
beforeEach(async () => {
  double = await startSlackDouble({ botToken: BOT, appToken: APP });
});
afterEach(async () => {
  await double.close();
});

async function api(method: string, o: { bearer?: string; form?: Record<string, string> } = {}) {
  const r = await fetch(`${double.apiUrl}${method}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(o.bearer ? { authorization: `Bearer ${o.bearer}` } : {}),
    },
    body: new URLSearchParams(o.form ?? {}).toString(),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

type Message = Record<string, unknown>;

/** A raw Socket Mode client: connects to the URL; `next` resolves with the first message that matches. */
async function connect(
  url: string,
): Promise<{ ws: WebSocket; next(match: (m: Message) => boolean): Promise<Message> }> {
  const ws = new WebSocket(url);
  const received: Message[] = [];
  ws.on('message', (d) => received.push(JSON.parse(d.toString()) as Message));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (match: (m: Message) => boolean) =>
    new Promise<Message>((resolve) => {
      const look = () => {
        const m = received.find(match);
        if (!m) return false;
        ws.off('message', onMessage);
        resolve(m);
        return true;
      };
      // 'message' listeners run in order: the collector above has stored this one already
      const onMessage = () => void look();
      if (!look()) ws.on('message', onMessage);
    });
  return { ws, next };
}

const payloadText = (text: string) => (m: Message) =>
  (m['payload'] as { text?: string } | undefined)?.text === text;

const commandFields = (text: string) => ({
  text,
  userId: USER,
  channelId: CH,
  responseUrl: double.responseUrl(CH, USER),
});

const confirmClick = (value: string) =>
  blockActionsPayload({
    userId: USER,
    channelId: CH,
    responseUrl: double.responseUrl(CH, USER),
    messageTs: '1700000000.000100',
    action: { actionId: 'confirm', value },
  });

describe('apps.connections.open', () => {
  it("answers Slack's errors for a missing or wrong token, as HTTP 200 with ok:false", async () => {
    expect(await api('apps.connections.open')).toEqual({
      status: 200,
      body: { ok: false, error: 'not_authed' },
    });
    expect((await api('apps.connections.open', { bearer: BOT })).body).toEqual({
      ok: false,
      error: 'not_allowed_token_type',
    });
    expect((await api('apps.connections.open', { bearer: 'xapp-1-A0FLEXVDI-1-other' })).body).toEqual({
      ok: false,
      error: 'invalid_auth',
    });
    expect((await api('apps.connections.open', { bearer: 'garbage' })).body.error).toBe('invalid_auth');
    // Slack takes the app token from the Authorization header only
    expect((await api('apps.connections.open', { form: { token: APP } })).body.error).toBe('not_authed');
    // and an app-level token is the wrong type for the bot's methods
    const post = await api('chat.postMessage', { bearer: APP, form: { channel: CH, text: 'x' } });
    expect(post.body).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(double.calls('apps.connections.open').map((c) => c.error)).toEqual([
      'not_authed',
      'not_allowed_token_type',
      'invalid_auth',
      'invalid_auth',
      'not_authed',
    ]);
  });

  it('returns a single-use ws:// URL on the double itself, which greets with hello', async () => {
    const { body } = await api('apps.connections.open', { bearer: APP });
    expect(body.ok).toBe(true);
    const url = new URL(String(body.url));
    expect(url.origin).toBe(double.url.replace('http:', 'ws:'));
    expect(url.pathname).toBe('/link/');
    expect(url.searchParams.get('app_id')).toBe(SLACK_DOUBLE_IDS.appId);

    const { ws, next } = await connect(url.toString());
    expect(await next(() => true)).toMatchObject({
      type: 'hello',
      num_connections: 1,
      connection_info: { app_id: SLACK_DOUBLE_IDS.appId },
    });
    expect(double.socketModeConnected).toBe(true);
    // the ticket is spent: a second connection with it, or with a made-up one, is refused
    await expect(connect(url.toString())).rejects.toThrow(/401/);
    await expect(connect(url.toString().replace(/ticket=\w+/, 'ticket=forged'))).rejects.toThrow(/401/);

    ws.close();
    const [closed] = await double.waitFor(() => {
      const c = double.connections();
      return c[0]?.closedAt !== undefined && c;
    });
    expect(closed).toMatchObject({ closeCode: 1005, envelopes: 0 });
    expect(double.socketModeConnected).toBe(false);
  });
});

describe('envelopes over a raw socket', () => {
  let client: Awaited<ReturnType<typeof connect>>;
  beforeEach(async () => {
    client = await connect(String((await api('apps.connections.open', { bearer: APP })).body.url));
  });
  afterEach(() => client.ws.terminate());

  it('sends a slash command as a slash_commands envelope; the ack payload is the answer body', async () => {
    const sent = double.sendCommand(commandFields('help'), { retryNum: 1, retryReason: 'timeout' });
    const env = await client.next(payloadText('help'));
    expect(env).toMatchObject({
      type: 'slash_commands',
      accepts_response_payload: true,
      retry_attempt: 1,
      retry_reason: 'timeout',
      payload: { command: '/flexvdi', text: 'help', user_id: USER, channel_id: CH },
    });
    expect(typeof env['envelope_id']).toBe('string');
    client.ws.send(JSON.stringify({ envelope_id: env['envelope_id'], payload: { text: 'usage' } }));
    expect(await sent).toMatchObject({ status: 200, body: '{"text":"usage"}' });
    expect(double.connections()[0]?.envelopes).toBe(1);
  });

  it('sends a click as an interactive envelope; an empty ack is an empty body', async () => {
    const payload = confirmClick('job-1');
    const sent = double.sendInteraction(payload);
    const env = await client.next((m) => m['type'] === 'interactive');
    expect(env).toMatchObject({ type: 'interactive', accepts_response_payload: false, payload });
    client.ws.send(JSON.stringify({ envelope_id: env['envelope_id'], payload: {} }));
    expect((await sent).body).toBe('');
  });

  it('fails a delivery that is not acked in time, or whose connection closes first', async () => {
    await expect(double.sendCommand(commandFields('slow'), { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    const sent = double.sendCommand(commandFields('lost'));
    await client.next(payloadText('lost'));
    client.ws.terminate();
    await expect(sent).rejects.toThrow(/closed before the ack/);
    // no connection left and no bot URL: nowhere to deliver
    await double.waitFor(() => !double.socketModeConnected);
    await expect(double.sendCommand(commandFields('x'))).rejects.toThrow(/no bot URL/);
  });
});

describe('a real Bolt app in Socket Mode', () => {
  it('connects, acks a command, a click and a view submission over the socket, and disconnects', async () => {
    const receiver = new SocketModeReceiver({
      appToken: APP,
      logLevel: LogLevel.ERROR,
      installerOptions: { clientOptions: { slackApiUrl: double.apiUrl } },
    });
    const app = new App({
      token: BOT,
      receiver,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: double.apiUrl },
    });
    app.command('/flexvdi', async ({ command, ack }) => {
      await ack({ response_type: 'ephemeral', text: `you said ${command.text}` });
    });
    app.action<BlockAction<ButtonAction>>('confirm', async ({ ack, respond, body }) => {
      await ack();
      await respond({ replace_original: false, text: `confirmed ${body.actions[0]?.value}` });
    });
    app.view('edit', async ({ ack }) => {
      await ack({ response_action: 'errors', errors: { reserve: 'too many' } });
    });
    await app.start();
    try {
      expect(double.calls('apps.connections.open')).toMatchObject([{ ok: true }]);
      expect(double.socketModeConnected).toBe(true);

      // the console delivers over the socket too, and shows the ack to the user
      const typed = await fetch(`${double.url}/console/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hello' }),
      });
      expect(((await typed.json()) as { status: number }).status).toBe(200);
      expect(double.ephemerals(CH, USER).map((e) => e.text)).toContain('you said hello');

      const click = await double.sendInteraction(confirmClick('job-7'));
      expect(click.body).toBe('');
      await double.waitFor(() => double.ephemerals(CH, USER).find((e) => e.text === 'confirmed job-7'));

      const submitted = await double.sendInteraction({
        type: 'view_submission',
        team: { id: SLACK_DOUBLE_IDS.teamId, domain: SLACK_DOUBLE_IDS.teamDomain },
        user: { id: USER, username: 'admin', name: 'admin', team_id: SLACK_DOUBLE_IDS.teamId },
        api_app_id: SLACK_DOUBLE_IDS.appId,
        view: { id: 'V1', type: 'modal', callback_id: 'edit', state: { values: {} } },
      });
      expect(JSON.parse(submitted.body)).toEqual({
        response_action: 'errors',
        errors: { reserve: 'too many' },
      });
      expect(double.connections()[0]?.envelopes).toBe(3);
    } finally {
      await receiver.client.disconnect();
      await app.stop();
    }
    await double.waitFor(() => double.connections()[0]?.closedAt !== undefined);
    expect(double.socketModeConnected).toBe(false);
  });

  it('fails to start with invalid_auth when the app token is not the workspace one', async () => {
    const app = new App({
      token: BOT,
      receiver: new SocketModeReceiver({
        appToken: 'xapp-1-A0FLEXVDI-1-revoked',
        logLevel: LogLevel.ERROR,
        installerOptions: { clientOptions: { slackApiUrl: double.apiUrl } },
      }),
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: double.apiUrl },
    });
    await expect(app.start()).rejects.toMatchObject({ data: { ok: false, error: 'invalid_auth' } });
    expect(double.connections()).toEqual([]);
  });
});
