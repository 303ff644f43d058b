import type { AddressInfo } from 'node:net';
import {
  App,
  type BlockAction,
  type ButtonAction,
  HTTPReceiver,
  LogLevel,
  type SlashCommand,
} from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SLACK_DOUBLE_IDS,
  type SlackDouble,
  sendSlashCommand,
  startSlackDouble,
} from '../../src/slack-double/index.js';

const TOKEN = 'xoxb-test-bolt';
const CH = SLACK_DOUBLE_IDS.defaultChannel;
const USER = SLACK_DOUBLE_IDS.defaultUser;

const confirmBlocks = (value: string) => [
  { type: 'section', block_id: 'plan', text: { type: 'mrkdwn', text: '*Plan*: register host1' } },
  {
    type: 'actions',
    block_id: 'decide',
    elements: [
      {
        type: 'button',
        action_id: 'confirm',
        text: { type: 'plain_text', text: 'Confirm' },
        style: 'primary',
        value,
      },
      { type: 'button', action_id: 'cancel', text: { type: 'plain_text', text: 'Cancel' }, value },
    ],
  },
];

async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('slack double + a real Bolt App (HTTPReceiver)', () => {
  let double: SlackDouble;
  let app: App;
  let botUrl: string;
  const commands: SlashCommand[] = [];
  const clicks: BlockAction<ButtonAction>[] = [];
  const retries: (number | undefined)[] = [];

  beforeEach(async () => {
    commands.length = 0;
    clicks.length = 0;
    retries.length = 0;
    double = await startSlackDouble({ botToken: TOKEN });
    const receiver = new HTTPReceiver({ signingSecret: double.signingSecret, logLevel: LogLevel.ERROR });
    app = new App({
      token: TOKEN,
      receiver,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: double.apiUrl },
    });

    app.command('/flexvdi', async ({ command, ack, respond, client, context }) => {
      commands.push(command);
      retries.push(context.retryNum);
      if (command.text === 'status') {
        await ack({ response_type: 'in_channel', text: 'Checking the cluster…' });
        await respond({ response_type: 'in_channel', text: 'All 3 Hosts running' });
      } else if (command.text === 'plan-ephemeral') {
        await ack();
        await respond({ text: 'Plan', blocks: confirmBlocks('job-2') });
      } else if (command.text === 'plan') {
        await ack();
        await client.chat.postMessage({
          channel: command.channel_id,
          text: 'Plan',
          blocks: confirmBlocks('job-1'),
        });
      } else {
        await ack();
        await respond(`Unknown command "${command.text}"`);
      }
    });
    app.action<BlockAction<ButtonAction>>('confirm', async ({ body, ack, respond, client }) => {
      clicks.push(body);
      await ack();
      await respond({
        replace_original: true,
        text: `Confirmed ${body.actions[0]?.value} by <@${body.user.id}>`,
      });
      if (body.message) {
        await client.chat.postMessage({
          channel: body.channel!.id,
          thread_ts: body.message.ts,
          text: 'Job queued',
        });
      }
    });

    const server = await app.start({ port: 0, host: '127.0.0.1' });
    botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    double.setBotUrl(botUrl);
  });

  afterEach(async () => {
    await app.stop();
    await double.close();
  });

  it('delivers a signed slash command that Bolt acks and answers through respond()', async () => {
    const responseUrl = double.responseUrl(CH, USER);
    const res = await sendSlashCommand(botUrl, double.signingSecret, {
      text: 'frobnicate host1',
      userId: USER,
      channelId: CH,
      responseUrl,
    });
    expect(res.status).toBe(200);
    const eph = await double.waitFor((d) => d.ephemerals(CH, USER)[0]);
    expect(eph).toMatchObject({ text: 'Unknown command "frobnicate host1"', via: 'response_url' });
    expect(commands[0]).toMatchObject({
      command: '/flexvdi',
      text: 'frobnicate host1',
      user_id: USER,
      user_name: 'admin',
      channel_id: CH,
      channel_name: 'ops',
      team_id: SLACK_DOUBLE_IDS.teamId,
      response_url: responseUrl,
    });
    expect(commands[0]?.trigger_id).toMatch(/^\d+\.\d+\.[0-9a-f]+$/);
    expect(retries).toEqual([undefined]);
    // auth.test came from Bolt itself, through the double
    expect(double.calls('auth.test').length).toBeGreaterThan(0);
  });

  it('passes redelivery headers through to Bolt', async () => {
    const responseUrl = double.responseUrl(CH, USER);
    const fields = { text: 'again', userId: USER, channelId: CH, responseUrl };
    const res = await sendSlashCommand(botUrl, double.signingSecret, fields, {
      retryNum: 1,
      retryReason: 'http_timeout',
    });
    expect(res.status).toBe(200);
    expect(retries).toEqual([1]);
    await double.waitFor((d) => d.ephemerals(CH, USER).length === 1); // the handler's respond() has landed
  });

  it('rejects a bad signature and a stale timestamp with 401', async () => {
    const fields = { text: 'status', userId: USER, channelId: CH, responseUrl: double.responseUrl(CH, USER) };
    const forged = await sendSlashCommand(botUrl, 'not-the-secret', fields);
    expect(forged.status).toBe(401);
    const stale = await sendSlashCommand(botUrl, double.signingSecret, fields, {
      timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect(stale.status).toBe(401);
    expect(commands).toEqual([]);
  });

  it('runs a command from the console and shows the ack body as Slack would', async () => {
    const res = await postJson(`${double.url}/console/command`, { text: 'status' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, status: 200 });
    const texts = await double.waitFor((d) => {
      const t = d.messages(CH).map((m) => m.text);
      return t.length === 2 && t;
    });
    expect(texts.sort()).toEqual(['All 3 Hosts running', 'Checking the cluster…']);
    expect(
      double
        .messages(CH)
        .map((m) => m.via)
        .sort(),
    ).toEqual(['command_ack', 'response_url']);
  });

  it('clicks a button on a channel message via the console and reaches the Bolt action handler', async () => {
    await postJson(`${double.url}/console/command`, { text: 'plan' });
    const plan = await double.waitFor((d) => d.messages(CH).find((m) => m.text === 'Plan'));

    const res = await postJson(`${double.url}/console/click`, {
      channel: CH,
      ts: plan.ts,
      actionId: 'confirm',
    });
    expect(res.body).toMatchObject({ ok: true, status: 200 });
    const edited = await double.waitFor((d) =>
      d.messages(CH).find((m) => m.ts === plan.ts && m.editCount === 1),
    );
    expect(edited.text).toBe(`Confirmed job-1 by <@${USER}>`);
    await double.waitFor((d) => d.thread(CH, plan.ts).length === 1);

    const body = clicks[0]!;
    expect(body).toMatchObject({
      type: 'block_actions',
      user: { id: USER },
      team: { id: SLACK_DOUBLE_IDS.teamId },
      channel: { id: CH, name: 'ops' },
      container: { type: 'message', message_ts: plan.ts, channel_id: CH, is_ephemeral: false },
      message: { ts: plan.ts, text: 'Plan' },
      actions: [{ action_id: 'confirm', block_id: 'decide', value: 'job-1', type: 'button' }],
    });
    expect(body.response_url.startsWith(`${double.url}/response/`)).toBe(true);
    expect(body.trigger_id).toMatch(/^\d+\.\d+\./);
  });

  it('clicks a button on an ephemeral message: no message in the payload, replace_original edits it', async () => {
    await postJson(`${double.url}/console/command`, { text: 'plan-ephemeral' });
    const plan = await double.waitFor((d) => d.ephemerals(CH, USER).find((e) => e.text === 'Plan'));
    const someoneElse = await postJson(`${double.url}/console/click`, {
      channel: CH,
      ts: plan.ts,
      actionId: 'confirm',
      user: 'U0INTRUDER',
    });
    expect(someoneElse).toMatchObject({ status: 404, body: { error: 'message_not_found' } });
    const missing = await postJson(`${double.url}/console/click`, {
      channel: CH,
      ts: plan.ts,
      actionId: 'nope',
    });
    expect(missing).toMatchObject({ status: 404, body: { error: 'action_not_found' } });

    await postJson(`${double.url}/console/click`, { channel: CH, ts: plan.ts, actionId: 'confirm' });
    const edited = await double.waitFor((d) => d.ephemerals(CH, USER).find((e) => e.editCount === 1));
    expect(edited.text).toBe(`Confirmed job-2 by <@${USER}>`);
    expect(clicks[0]?.container).toMatchObject({ is_ephemeral: true, message_ts: plan.ts });
    expect(clicks[0]?.message).toBeUndefined();
  });

  it('shows the conversation and a how-to over plain HTTP', async () => {
    await postJson(`${double.url}/console/command`, { text: 'plan' });
    await double.waitFor((d) => d.messages(CH).length === 1);
    const dump = (await (await fetch(`${double.url}/console/messages?channel=${CH}`)).json()) as {
      messages: { text: string; replies: unknown[] }[];
    };
    expect(dump.messages).toMatchObject([{ text: 'Plan', replies: [] }]);
    const howto = await (await fetch(`${double.url}/howto`)).text(); // (`/` is the browser console)
    expect(howto).toContain(`${double.url}/console/command`);
  });
});

describe('slack double console without a working bot', () => {
  it('says the bot URL is not configured, or that dispatch failed', async () => {
    const double = await startSlackDouble();
    try {
      const res = await postJson(`${double.url}/console/command`, { text: 'help' });
      expect(res).toEqual({ status: 409, body: { ok: false, error: 'bot_url_not_configured' } });
      const form = await fetch(`${double.url}/console/command`, {
        method: 'POST',
        body: new URLSearchParams({}),
      });
      expect(form.status).toBe(400);

      double.setBotUrl('http://127.0.0.1:1/slack/events'); // nothing listens there
      const refused = await postJson(`${double.url}/console/command`, { text: 'help' });
      expect(refused).toMatchObject({ status: 502, body: { ok: false, error: 'dispatch_failed' } });
      expect(double.ephemerals()).toMatchObject([
        { text: '/flexvdi failed with the error "dispatch_failed"' },
      ]);
    } finally {
      await double.close();
    }
  });
});
