/**
 * The bot in Socket Mode against the Slack double on real Redis: no signing secret and no /slack/events; it
 * opens its connection through SLACK_API_URL (not slack.com), answers commands and clicks over the socket,
 * serves /healthz and /metrics on the port it is given, closes its socket and that port when it stops, and
 * fails its start, leaving nothing behind, when Slack refuses its app token.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startRuntime } from '../../src/runtime.js';
import { blocksText, findButtonValue, OPS, type Stack, startStack } from '../support/harness.js';

let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack({ socketMode: true, workers: 1 });
  port = s.runtimes[0]!.port;
});
afterAll(async () => {
  await s?.stop();
});

describe('start-up', () => {
  it('connects through the configured API URL with the app token, without a signing secret', () => {
    expect(s.env['SLACK_SIGNING_SECRET']).toBeUndefined();
    expect(s.env['SLACK_APP_TOKEN']).toMatch(/^xapp-/);
    expect(s.double.calls('apps.connections.open')).toMatchObject([{ ok: true, status: 200 }]);
    expect(s.double.connections()).toHaveLength(1);
    expect(s.double.connections()[0]?.closedAt).toBeUndefined();
    expect(s.botUrls).toEqual([]);
  });

  it('serves /healthz and /metrics on the port it was given, and no /slack/events', async () => {
    expect(port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, redis: 'up' });
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE');
    const events = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', body: 'x' });
    expect(events.status).toBe(404);
  });
});

describe('commands over the socket', () => {
  it('answers /flexvdi help in the ack, over the socket', async () => {
    const res = await s.send('help');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('/flexvdi hosts');
    expect(s.double.connections()[0]?.envelopes).toBe(1);
  });

  it('plans a mutating command, and Confirm clicked over the socket runs it through the queue', async () => {
    const ack = await s.send('test change h1');
    expect(ack.status).toBe(200);
    const plan = await s.waitForMessage(/Change h1 in three steps/);
    expect(findButtonValue(plan.blocks, 'flexvdi_confirm')).toBeTruthy();
    const click = await s.click(OPS, plan.ts);
    expect(click).toMatchObject({ status: 200, body: '' });
    const done = await s.waitForMessage(/changed \(a,b,c\) with SHA256:pin-h1/);
    expect(done.ts).toBe(plan.ts);
    expect(blocksText(done.blocks)).toContain('completed');
    const jobs = await s.runtimes[0]!.queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    const runs = jobs.filter((j) => j.data.phase === 'run');
    expect(runs.map((j) => j.data.text)).toEqual(['test change h1']);
  });
});

describe('stop', () => {
  it('leaves no open Socket Mode connection once it resolves, and closes the health port', async () => {
    expect(s.double.socketModeConnected).toBe(true);
    await s.runtimes[0]!.stop();
    expect(s.double.socketModeConnected).toBe(false);
    await s.double.waitFor(() => s.double.connections()[0]?.closedAt !== undefined);
    expect(s.double.connections()[0]?.closeCode).toBe(1000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});

describe('an app token Slack refuses', () => {
  it('fails the start with what to check, and leaves no health port or connection behind', async () => {
    const bad = await startStack({ socketMode: true, workers: 1 });
    try {
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
      const free = (probe.address() as AddressInfo).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const config = loadConfig({
        ...bad.env,
        SLACK_APP_TOKEN: 'xapp-1-A0FLEXVDI-1-revoked',
        PORT: String(free),
      });
      const start = startRuntime({
        config,
        log: createLogger({ level: 'silent' }),
        roles: { bot: true, worker: true },
      });
      await expect(start).rejects.toMatchObject({
        code: 'slack.api_error',
        userMessage: expect.stringContaining('check SLACK_APP_TOKEN'),
      });
      await expect(fetch(`http://127.0.0.1:${free}/healthz`)).rejects.toThrow();
      expect(bad.double.calls('apps.connections.open').at(-1)).toMatchObject({
        ok: false,
        error: 'invalid_auth',
      });
      // the stack's own bot stays the only Socket Mode connection
      expect(bad.double.connections().filter((c) => c.closedAt === undefined)).toHaveLength(1);
    } finally {
      await bad.stop();
    }
  });
});
