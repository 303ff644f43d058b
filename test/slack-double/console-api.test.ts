/**
 * The browser console's HTTP side, against the real bot (Bolt over signed HTTP), real Redis and the Slack
 * double: one user's view of the workspace (their ephemerals and modals only), a command typed and a button
 * clicked as that user, a modal submitted (refused input stays with its error; the right one closes it and
 * the plan runs), the inspector's Web API calls, transcripts, the live-update stream, and the cluster panel.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { builtinPlugins } from '../../src/plugins/index.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import type { ClusterHost, ClusterPanel } from '../../src/slack-double/console-state.js';
import { SLACK_DOUBLE_IDS, startSlackDouble } from '../../src/slack-double/index.js';
import { eventually, waitForJobState } from '../support/flow.js';
import { guardPlugin } from '../support/guard-plugin.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { poll } from '../support/poll.js';

const OPERATOR = SLACK_DOUBLE_IDS.operatorUser;
const traceKey = `t${randomBytes(5).toString('hex')}:test-trace`;
let trace: Redis;
let s: Stack;

interface State {
  ok: boolean;
  version: number;
  users: { id: string; name: string; admin: boolean }[];
  channels: { id: string; name: string }[];
  messages: { channel: string; ts: string; text: string; userName: string; replies: unknown[] }[];
  ephemerals: { user: string; text: string }[];
  views: { id: string; userId: string; view: { type: string; blocks: { block_id?: string }[] } }[];
  cluster: unknown;
}

const get = async <T>(p: string): Promise<T> => (await (await fetch(`${s.double.url}${p}`)).json()) as T;
const post = async (p: string, body: unknown) => {
  const r = await fetch(`${s.double.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const stateOf = (user: string) => get<State>(`/console/state?user=${user}`);

beforeAll(async () => {
  trace = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  s = await startStack({ plugins: [...builtinPlugins, guardPlugin(trace, traceKey)] });
});

afterAll(async () => {
  await s?.stop();
  await trace?.del(traceKey);
  trace?.disconnect();
});

describe('the console as one user sees the workspace', () => {
  it('a command typed as a user: the answer only they can see, the channel the same for everyone', async () => {
    const sent = await post('/console/command', { text: 'help', user: ADMIN, channel: OPS });
    expect(sent).toMatchObject({ status: 200, body: { ok: true, status: 200 } });
    const admin = await poll('the help answer in the admin view', async () => {
      const st = await stateOf(ADMIN);
      return st.ephemerals.some((e) => e.text.includes('register-host')) ? st : undefined;
    });
    expect(admin.users).toEqual([
      { id: ADMIN, name: 'admin', admin: true },
      { id: OPERATOR, name: 'operator', admin: false },
    ]);
    expect(admin.channels.map((c) => c.name)).toEqual(['ops', 'alerts']);
    expect(admin.cluster).toBeNull();
    const operator = await stateOf(OPERATOR);
    expect(operator.ephemerals).toEqual([]);
    expect(operator.messages).toEqual(admin.messages);
  });

  it('a modal is shown to the user who opened it; bad input stays with its error, the right one runs', async () => {
    await post('/console/command', { text: 'guard wipe vol1', user: ADMIN, channel: OPS });
    const plan = await eventually(s, () =>
      s.double.messages(OPS).find((m) => JSON.stringify(m.blocks).includes(CONFIRM_ACTION)),
    );
    // A button the message does not have is the console's own 404.
    expect(
      (await post('/console/click', { channel: OPS, ts: plan.ts, actionId: 'nope', user: ADMIN })).status,
    ).toBe(404);
    // The operator (not an admin, not the requester) clicks Confirm: delivered, refused by the bot, told to
    // them alone; no modal opens for anyone and the plan still waits.
    expect(
      (await post('/console/click', { channel: OPS, ts: plan.ts, actionId: CONFIRM_ACTION, user: OPERATOR }))
        .body,
    ).toMatchObject({ ok: true, status: 200 });
    const told = await poll('the refusal in the operator view', async () =>
      (await stateOf(OPERATOR)).ephemerals.find((e) => e.text.includes('can confirm this plan')),
    );
    expect(told.text).toBe(`Only <@${ADMIN}> (who asked) or a flexVDI admin can confirm this plan.`);
    expect((await stateOf(ADMIN)).ephemerals.some((e) => e.text.includes('can confirm this plan'))).toBe(
      false,
    );
    expect((await stateOf(OPERATOR)).views).toEqual([]);
    expect(s.double.messages(OPS).find((m) => m.ts === plan.ts)!.text).toContain('awaiting confirmation');
    const clicked = await post('/console/click', {
      channel: OPS,
      ts: plan.ts,
      actionId: CONFIRM_ACTION,
      user: ADMIN,
    });
    expect(clicked.body).toMatchObject({ ok: true, status: 200 });
    const modal = await poll('the modal in the admin view', async () => (await stateOf(ADMIN)).views[0]);
    expect(modal).toMatchObject({ userId: ADMIN, view: { type: 'modal' } });
    expect((await stateOf(OPERATOR)).views).toEqual([]);
    expect((await post('/console/submit', { viewId: modal.id, user: OPERATOR, values: {} })).status).toBe(
      404,
    );

    const input = modal.view.blocks.find((b) => b.block_id)!.block_id!;
    const wrong = await post('/console/submit', {
      viewId: modal.id,
      user: ADMIN,
      values: { [input]: { [input]: 'vol2' } },
    });
    expect(wrong.body).toMatchObject({ ok: true, errors: { [input]: expect.stringContaining('vol1') } });
    expect((await stateOf(ADMIN)).views.map((v) => v.id)).toEqual([modal.id]);

    const right = await post('/console/submit', {
      viewId: modal.id,
      user: ADMIN,
      values: { [input]: { [input]: 'vol1' } },
    });
    expect(right.body).toMatchObject({ ok: true, status: 200 });
    expect(right.body['errors']).toBeUndefined();
    expect((await stateOf(ADMIN)).views).toEqual([]);
    const done = await waitForJobState(s, plan.ts, ['completed'], 60_000);
    expect(done.record.state).toBe('completed');
    expect(await trace.lrange(traceKey, 0, -1)).toEqual([expect.stringMatching(/:wipe:done$/)]);
  });

  it('a modal closed with Cancel is gone, and only its user may close it', async () => {
    await post('/console/command', { text: 'guard wipe vol3', user: ADMIN, channel: OPS });
    const plan = await eventually(s, () =>
      s.double
        .messages(OPS)
        .find((m) => m.text.includes('vol3') && JSON.stringify(m.blocks).includes(CONFIRM_ACTION)),
    );
    await post('/console/click', { channel: OPS, ts: plan.ts, actionId: CONFIRM_ACTION, user: ADMIN });
    const modal = await poll('the modal', async () => (await stateOf(ADMIN)).views[0]);
    expect((await post('/console/close', { viewId: modal.id, user: OPERATOR })).status).toBe(404);
    expect((await post('/console/close', { viewId: modal.id, user: ADMIN })).body).toEqual({ ok: true });
    expect((await stateOf(ADMIN)).views).toEqual([]);
    expect((await post('/console/view-click', { viewId: modal.id, user: ADMIN, actionId: 'x' })).status).toBe(
      404,
    );
  });
});

describe('what the console shows beside the conversation', () => {
  it('the inspector lists every Web API call the bot made, with its parameters and never a token', async () => {
    const { calls } = await get<{
      calls: { seq: number; method: string; params: Record<string, unknown> }[];
    }>('/console/calls');
    expect(calls.map((c) => c.seq)).toEqual(calls.map((_, i) => i));
    const open = calls.find((c) => c.method === 'views.open')!;
    expect(open.params['view']).toMatchObject({ type: 'modal' });
    expect(JSON.stringify(calls)).not.toContain('xoxb-');
    const later = await get<{ calls: { seq: number }[] }>(`/console/calls?since=${calls.length - 1}`);
    expect(later.calls[0]!.seq).toBe(calls.length - 1);
  });

  it('a transcript of a channel, for people (Markdown) and programs (JSON)', async () => {
    const md = await fetch(`${s.double.url}/console/transcript?channel=${OPS}`);
    expect(md.headers.get('content-disposition')).toBe('attachment; filename="ops-transcript.md"');
    const text = await md.text();
    expect(text).toMatch(/^# #ops \(flexVDI \(local\)\)/);
    expect(text).toContain('/flexvdi guard wipe vol1 — completed');
    expect(text).toContain('*Result:* wiped vol1'); // what its blocks say
    expect(text).toContain('*Plan:* Wipe vol3');
    expect(text).toMatch(/\[Confirm…?\]/); // vol3's plan, still awaiting confirmation
    const json = (await (
      await fetch(`${s.double.url}/console/transcript?channel=${OPS}&format=json`)
    ).json()) as {
      messages: { text: string; replies: unknown[] }[];
    };
    expect(json.messages.length).toBe(s.double.messages(OPS).length);
  });

  it('the live stream says "changed" after each change, so the page refetches without a reload', async () => {
    const listening = s.double.store.changeListeners;
    const ac = new AbortController();
    const res = await fetch(`${s.double.url}/console/events`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const versions: number[] = [];
    let buf = '';
    const next = async () => {
      for (;;) {
        const m = /data: (\{.*\})\n\n/.exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          return (JSON.parse(m[1]!) as { version: number }).version;
        }
        const { value } = await reader.read();
        buf += new TextDecoder().decode(value);
      }
    };
    versions.push(await next());
    await post('/console/command', { text: 'help', user: OPERATOR, channel: OPS });
    versions.push(await next());
    ac.abort();
    expect(versions[1]!).toBeGreaterThan(versions[0]!);
    // the page went away: its listener goes with it (no leak per tab or reconnect)
    await poll('the stream to let go of the store', () => s.double.store.changeListeners === listening);
  });

  it('only its own pages may drive it: another site (Origin) or another name (Host, DNS rebinding) is refused', async () => {
    const { port } = new URL(s.double.url);
    const send = (headers: Record<string, string>, p = '/console/command', method = 'POST') =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: p,
            method,
            headers: { 'content-type': 'application/json', ...headers },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(method === 'POST' ? JSON.stringify({ text: 'help', user: ADMIN, channel: OPS }) : undefined);
      });
    const before = s.double.ephemerals(OPS, ADMIN).length;
    expect(await send({ origin: 'http://evil.example' })).toBe(403);
    expect(await send({ host: `evil.example:${port}` })).toBe(403);
    expect(await send({ host: `evil.example:${port}` }, '/console/state', 'GET')).toBe(403);
    expect(s.double.ephemerals(OPS, ADMIN).length).toBe(before);
    expect(await send({ origin: `http://127.0.0.1:${port}` })).toBe(200);
    expect(await send({ host: `localhost:${port}` }, '/console/state', 'GET')).toBe(200);
  });
});

describe('the cluster panel (demo mode)', () => {
  it('is absent without a cluster, and with one drives it only with known Hosts and modes', async () => {
    expect((await post('/console/cluster/fail', { host: 'h1', mode: 'freeze' })).status).toBe(404);
    const done: string[] = [];
    const hosts: ClusterHost[] = [
      { name: 'host1', fqdn: 'host1.t', ip: '10.0.0.1', state: 'up', runsManager: true },
    ];
    const panel: ClusterPanel = {
      status: async () => ({ hosts, modes: ['freeze'] }),
      fail: async (h, m) => void done.push(`fail ${h} ${m}`),
      heal: async (h) => {
        if (h === 'host1') throw new Error('heal broke');
      },
    };
    const d = await startSlackDouble({ cluster: panel });
    try {
      const at = (p: string, body: unknown) =>
        fetch(`${d.url}${p}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const st = (await (await fetch(`${d.url}/console/state`)).json()) as State;
      expect(st.cluster).toEqual({
        hosts,
        modes: ['freeze'],
      });
      expect(await at('/console/cluster/fail', { host: 'host9', mode: 'freeze' })).toEqual({
        status: 400,
        body: { ok: false, error: 'unknown_host' },
      });
      expect((await at('/console/cluster/fail', { host: 'host1', mode: 'melt' })).body).toMatchObject({
        error: 'unknown_mode',
        modes: ['freeze'],
      });
      expect(await at('/console/cluster/fail', { host: 'host1', mode: 'freeze' })).toEqual({
        status: 200,
        body: { ok: true },
      });
      expect(done).toEqual(['fail host1 freeze']);
      expect(await at('/console/cluster/heal', { host: 'host1' })).toEqual({
        status: 500,
        body: { ok: false, error: 'cluster_action_failed', detail: 'heal broke' },
      });
    } finally {
      await d.close();
    }
  });
});
