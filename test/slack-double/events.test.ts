/**
 * The double delivers Events API events as Slack does — `app_home_opened` as a signed JSON `event_callback`
 * over HTTP, or an `events_api` envelope over Socket Mode — to a real Bolt App, whose `views.publish` the
 * double keeps as the user's Home view (and puts in the next `app_home_opened`, as Slack does). The console
 * opens the Home tab and shows the views.
 */
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appHomeOpenedEvent,
  eventCallbackPayload,
  SLACK_DOUBLE_IDS,
  type SlackDouble,
  sendSigned,
  startSlackDouble,
} from '../../src/slack-double/index.js';

const BOT = 'xoxb-test-events';
const APP_TOKEN = 'xapp-1-A0FLEXVDI-1-events';
const USER = SLACK_DOUBLE_IDS.defaultUser;

let double: SlackDouble;
let app: App | undefined;
const seen: Record<string, unknown>[] = [];

/** A Bolt App that publishes a Home view naming how often the user opened it. */
function homeApp(receiver: HTTPReceiver | SocketModeReceiver): App {
  const a = new App({
    token: BOT,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: double.apiUrl },
  });
  a.event('app_home_opened', async ({ event, body, client }) => {
    seen.push(body as unknown as Record<string, unknown>);
    if (event.tab !== 'home') return;
    const n = seen.filter((b) => (b['event'] as { tab?: string }).tab === 'home').length;
    await client.views.publish({
      user_id: event.user,
      view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `opened ${n}` } }] },
    });
  });
  return a;
}

const homeOf = (user: string) => double.views().find((v) => v.userId === user && v.view['type'] === 'home');
const textOf = (v: ReturnType<typeof homeOf>) =>
  (v?.view['blocks'] as { text: { text: string } }[] | undefined)?.[0]?.text.text;

beforeEach(async () => {
  seen.length = 0;
  double = await startSlackDouble({ botToken: BOT, appToken: APP_TOKEN });
});
afterEach(async () => {
  await app?.stop();
  app = undefined;
  await double.close();
});

describe('app_home_opened over HTTP', () => {
  it('is a signed event_callback Bolt accepts; views.publish keeps the Home view, sent back in the next event', async () => {
    const receiver = new HTTPReceiver({ signingSecret: double.signingSecret, logLevel: LogLevel.ERROR });
    app = homeApp(receiver);
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    double.setBotUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);

    expect((await double.openHome(USER)).status).toBe(200);
    const first = await double.waitFor(() =>
      textOf(homeOf(USER)) === 'opened 1' ? homeOf(USER) : undefined,
    );
    expect(first).toMatchObject({ method: 'views.publish', userId: USER, versions: 1 });
    expect(seen[0]).toMatchObject({
      type: 'event_callback',
      team_id: SLACK_DOUBLE_IDS.teamId,
      api_app_id: SLACK_DOUBLE_IDS.appId,
      event_id: expect.stringMatching(/^Ev[0-9A-F]{10}$/),
      event: { type: 'app_home_opened', user: USER, tab: 'home', channel: expect.stringMatching(/^D/) },
    });
    expect((seen[0]!['event'] as Record<string, unknown>)['view']).toBeUndefined();

    // opened again: the event carries the view Slack holds; the app's new publish replaces it
    await double.openHome(USER);
    await double.waitFor(() => textOf(homeOf(USER)) === 'opened 2');
    expect((seen[1]!['event'] as { view?: { id?: string } }).view?.id).toBe(first.id);
    expect(double.views().filter((v) => v.userId === USER)).toHaveLength(1);
    expect(homeOf(USER)?.versions).toBe(2);
  });

  it('is refused unsigned or with another secret, like every request', async () => {
    const receiver = new HTTPReceiver({ signingSecret: double.signingSecret, logLevel: LogLevel.ERROR });
    app = homeApp(receiver);
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    const body = JSON.stringify(eventCallbackPayload({ event: appHomeOpenedEvent(USER) }));
    const forged = await sendSigned(url, body, { secret: 'not-the-secret', contentType: 'application/json' });
    expect(forged.status).toBe(401);
    expect(seen).toEqual([]);
  });
});

describe('app_home_opened over Socket Mode', () => {
  it('arrives as an events_api envelope, acked over the socket', async () => {
    const receiver = new SocketModeReceiver({
      appToken: APP_TOKEN,
      logLevel: LogLevel.ERROR,
      installerOptions: { clientOptions: { slackApiUrl: double.apiUrl } },
    });
    app = homeApp(receiver);
    await app.start();
    const res = await double.openHome(USER);
    expect(res).toMatchObject({ status: 200, body: '' });
    await double.waitFor(() => textOf(homeOf(USER)) === 'opened 1');
    expect(double.connections()[0]?.envelopes).toBe(1);
    // the Messages tab fires the event too; this app publishes nothing for it
    await double.openHome('U0SOMEONE1', { tab: 'messages' });
    await double.waitFor(() => seen.length === 2);
    expect(homeOf('U0SOMEONE1')).toBeUndefined();
  });
});

describe('the console', () => {
  it('opens the Home tab as a user and shows the views the app published', async () => {
    const receiver = new HTTPReceiver({ signingSecret: double.signingSecret, logLevel: LogLevel.ERROR });
    app = homeApp(receiver);
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    double.setBotUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);
    const opened = await fetch(`${double.url}/console/home`, {
      method: 'POST',
      body: new URLSearchParams({ user: 'U0VIEWER01' }),
    });
    expect(await opened.json()).toMatchObject({ ok: true, status: 200, user: 'U0VIEWER01' });
    await double.waitFor(() => homeOf('U0VIEWER01'));
    const views = (await (await fetch(`${double.url}/console/views?user=U0VIEWER01`)).json()) as {
      views: { userId: string; view: { type: string } }[];
    };
    expect(views.views).toMatchObject([{ userId: 'U0VIEWER01', view: { type: 'home' } }]);
  });
});
