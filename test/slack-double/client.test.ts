import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidSlackRequest } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blockActionsBody,
  sendSigned,
  signSlackRequest,
  slashCommandBody,
} from '../../src/slack-double/index.js';

const SECRET = 'client-test-secret';

describe('signSlackRequest', () => {
  it("produces signatures Bolt's verifier accepts, and only for the same secret, body and time", () => {
    const body = 'token=x&text=hello+world';
    const ts = 1_700_000_000;
    const headers = signSlackRequest(SECRET, body, ts);
    expect(headers['x-slack-request-timestamp']).toBe(String(ts));
    expect(headers['x-slack-signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    const verify = (secret: string, b: string, now: number) =>
      isValidSlackRequest({
        signingSecret: secret,
        body: b,
        headers: { 'x-slack-signature': headers['x-slack-signature'], 'x-slack-request-timestamp': ts },
        nowMilliseconds: now,
      });
    expect(verify(SECRET, body, ts * 1000 + 1000)).toBe(true);
    expect(verify('other', body, ts * 1000)).toBe(false);
    expect(verify(SECRET, `${body}!`, ts * 1000)).toBe(false);
    expect(verify(SECRET, body, (ts + 6 * 60) * 1000)).toBe(false); // replay window is 5 minutes
  });
});

describe('Slack-shaped bodies', () => {
  it('builds a slash command form in Slack field order', () => {
    const body = slashCommandBody({
      text: 'register-host host1 --force',
      userId: 'U0CLIENT1',
      channelId: 'C0CLIENT1',
      responseUrl: 'http://127.0.0.1:1/response/abc',
      triggerId: '1.2.3',
    });
    const fields = new URLSearchParams(body);
    expect([...fields.keys()]).toEqual([
      'token',
      'team_id',
      'team_domain',
      'channel_id',
      'channel_name',
      'user_id',
      'user_name',
      'command',
      'text',
      'api_app_id',
      'is_enterprise_install',
      'response_url',
      'trigger_id',
    ]);
    expect(fields.get('command')).toBe('/flexvdi');
    expect(fields.get('text')).toBe('register-host host1 --force');
    expect(body).toContain('command=%2Fflexvdi&text=register-host+host1+--force');
  });

  it('builds a block_actions body as payload=<JSON>', () => {
    const body = blockActionsBody({
      userId: 'U0CLIENT1',
      channelId: 'C0CLIENT1',
      responseUrl: 'http://127.0.0.1:1/response/abc',
      messageTs: '1700000000.000100',
      threadTs: '1700000000.000001',
      action: { actionId: 'confirm', blockId: 'decide', value: 'job-1', text: 'Confirm' },
    });
    expect(body.startsWith('payload=')).toBe(true);
    const payload = JSON.parse(new URLSearchParams(body).get('payload')!);
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0CLIENT1' },
      container: { message_ts: '1700000000.000100', thread_ts: '1700000000.000001', is_ephemeral: false },
      response_url: 'http://127.0.0.1:1/response/abc',
      actions: [
        {
          action_id: 'confirm',
          block_id: 'decide',
          value: 'job-1',
          text: { text: 'Confirm' },
          type: 'button',
        },
      ],
    });
    expect(payload.message).toBeUndefined();
  });
});

describe('sendSigned', () => {
  let server: http.Server;
  let url: string;
  const seen: { headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        // answers after 150 ms, so the measured time can be checked against something real
        setTimeout(() => res.writeHead(201, { 'content-type': 'text/plain' }).end('got it'), 150);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('sends the body signed, with retry headers, over a caller-supplied agent', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const r = await sendSigned(url, '{"type":"event_callback"}', {
        secret: SECRET,
        contentType: 'application/json',
        retryNum: 2,
        retryReason: 'http_timeout',
        agent,
      });
      expect(r).toMatchObject({ status: 201, body: 'got it' });
      // the time covers the round trip: at least the server's 150 ms
      expect(r.ms).toBeGreaterThanOrEqual(145);
      const got = seen[0]!;
      expect(got.body).toBe('{"type":"event_callback"}');
      expect(got.headers).toMatchObject({
        'content-type': 'application/json',
        'x-slack-retry-num': '2',
        'x-slack-retry-reason': 'http_timeout',
      });
      const ts = Number(got.headers['x-slack-request-timestamp']);
      expect(signSlackRequest(SECRET, got.body, ts)['x-slack-signature']).toBe(
        got.headers['x-slack-signature'],
      );
    } finally {
      agent.destroy();
    }
  });

  it('fails with ETIMEDOUT when the receiver does not answer in time', async () => {
    const silent = http.createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      await expect(
        sendSigned(`http://127.0.0.1:${port}/`, 'x', { secret: SECRET, timeoutMs: 100 }),
      ).rejects.toMatchObject({
        code: 'ETIMEDOUT',
      });
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});
