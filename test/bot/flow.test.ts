/**
 * The path from a signed slash command to a job and back to the channel, against real Redis and the Slack
 * double: read-only commands, the plan → Confirm → run flow, and every way a click can be wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { CANCEL_ACTION } from '../../src/slack/job-view.js';
import { waitForJobState } from '../support/flow.js';
import { ADMIN, blocksText, findButtonValue, OPS, type Stack, startStack, USER } from '../support/harness.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000 } });
});
afterAll(async () => {
  await s?.stop();
});

const runJobs = async () =>
  (await s.runtimes[0]!.queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'])).filter(
    (j) => j.data.phase === 'run',
  );

describe('read-only command', () => {
  it('acks, runs the step and posts one job message carrying the result', async () => {
    const res = await s.send('hosts', { user: USER, channel: 'C0RANDOM1' });
    expect(res.status).toBe(200);
    // no Manager in this stack: the listing says so, so the job ends "completed with findings"
    const done = await waitForJobState(s, { command: 'hosts' }, 'findings');
    expect(done.record.channel).toBe('C0RANDOM1');
    expect(done.text).toContain('1 Host in the inventory');
    expect(blocksText(done.blocks)).toContain('h1.flexvdi.test');
    expect(s.double.messages('C0RANDOM1')).toHaveLength(1);
    // a job that finishes within the debounce costs one Slack call: the post already carries the result
    expect(s.double.edits('C0RANDOM1', done.ts)).toHaveLength(0);
    const posts = s.double.calls('chat.postMessage').filter((c) => c.params['channel'] === 'C0RANDOM1');
    expect(posts.filter((c) => c.params['thread_ts'] === undefined)).toHaveLength(1);
    // what else was posted (the findings' details) went into the job message's thread
    expect(
      posts.filter((c) => c.params['thread_ts'] !== undefined && c.params['thread_ts'] !== done.ts),
    ).toEqual([]);
  });

  it('answers help in the ack body, generated from the registry', async () => {
    const res = await s.send('help');
    const body = JSON.parse(res.body) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('/flexvdi hosts');
    expect(body.text).toContain('/flexvdi test change');
    const one = JSON.parse((await s.send('help test change')).body) as { text: string };
    expect(one.text).toContain('Usage: `/flexvdi test change <host>');
  });
});

describe('bad input', () => {
  it('names the bad field and shows usage; nothing is enqueued', async () => {
    const before = (await runJobs()).length;
    const res = await s.send('test change "BAD HOST;rm -rf /"');
    const body = JSON.parse(res.body) as { text: string };
    expect(body.text).toContain('`host`: must be a host name');
    expect(body.text).toContain('Usage: `/flexvdi test change <host>');
    const unknown = JSON.parse((await s.send('frobnicate now')).body) as { text: string };
    expect(unknown.text).toContain('Unknown command `frobnicate`');
    const flag = JSON.parse((await s.send('test change h1 --colour red')).body) as { text: string };
    expect(flag.text).toContain('unknown option `--colour`');
    const long = JSON.parse((await s.send(`test probe ${'x'.repeat(5000)}`)).body) as { text: string };
    expect(long.text).toContain('limit is 1000');
    const ctl = JSON.parse((await s.send('test probe a\u0007b')).body) as { text: string };
    expect(ctl.text).toContain('control characters');
    expect((await runJobs()).length).toBe(before);
  });

  it('passes unicode and shell metacharacters to the step exactly as typed, and shows them escaped', async () => {
    const typed = 'héllo $(id) `uname` ; | && 日本';
    await s.send(`test probe "${typed}"`, { user: USER });
    const msg = await waitForJobState(s, { command: `test probe "${typed}"` }, 'completed');
    // the step got the string itself (nothing expanded, nothing lost)
    expect((await s.trace()).filter((t) => t.endsWith(`:label:${typed}`))).toHaveLength(1);
    // Slack shows it as text: & escaped, backticks replaced so they cannot open a code span
    expect(blocksText(msg.blocks)).toContain('héllo $(id) ˋunameˋ ; | &amp;&amp; 日本');
    expect(blocksText(msg.blocks)).not.toContain('`uname`');
  });

  it('refuses a mutating command from a non-admin and in a non-ops channel, and audits it', async () => {
    const r1 = JSON.parse((await s.send('test change h1', { user: USER })).body) as { text: string };
    expect(r1.text).toContain('Only flexVDI admins');
    const r2 = JSON.parse((await s.send('test change h1', { channel: 'C0RANDOM1' })).body) as {
      text: string;
    };
    expect(r2.text).toContain('run only in <#C0OPS0001>');
    const audit = await s.redis.xrevrange(`${s.prefix}:audit`, '+', '-', 'COUNT', 10);
    const refused = audit.filter(([, f]) => f.includes('refused'));
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(await s.trace()).not.toContain('plan:h1');
  });
});

describe('plan and confirmation', () => {
  it('plans, waits for Confirm, runs the steps once, and reports the result in the same message', async () => {
    await s.send('test change h2');
    const plan = await waitForJobState(s, { command: 'test change h2' }, 'awaiting-confirmation');
    expect(blocksText(plan.blocks)).toContain('Change h2 in three steps');
    expect(blocksText(plan.blocks)).toContain('flexvdi_confirm');
    expect((await s.trace()).filter((t) => t.includes(':a:'))).toHaveLength(0);

    // someone else clicks: refused, nothing runs
    await s.click(OPS, plan.ts, { user: USER });
    await s.double.waitFor(() =>
      s.double.ephemerals(OPS, USER).find((e) => e.text.includes('Only <@U0ADMIN01>')),
    );

    // double click: two concurrent clicks give one job
    const [c1, c2] = await Promise.all([s.click(OPS, plan.ts), s.click(OPS, plan.ts)]);
    expect([c1.status, c2.status]).toEqual([200, 200]);
    const done = await waitForJobState(s, plan.ts, 'completed');
    expect(done.text).toContain('changed (a,b,c) with SHA256:pin-h2');
    await s.double.waitFor(() =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('Already confirmed by')),
    );
    const trace = await s.trace();
    expect(trace.filter((t) => t.endsWith(':a:done'))).toHaveLength(1);
    expect(trace.filter((t) => t.endsWith(':c:done'))).toHaveLength(1);
    // a third click, later, from a client still showing the buttons: still one job
    await s.click(OPS, plan.ts, { value: findButtonValue(plan.blocks, 'flexvdi_confirm')! });
    expect((await runJobs()).filter((j) => j.data.text === 'test change h2')).toHaveLength(1);
    // the result details are in the thread, posted once
    await s.double.waitFor(() => s.double.thread(OPS, plan.ts).find((m) => m.text.includes('Result of')));
    expect(s.double.thread(OPS, plan.ts).filter((m) => m.text.includes('Result of'))).toHaveLength(1);
  });

  it('Cancel on a plan runs nothing, and a later Confirm is told it was cancelled', async () => {
    await s.send('test change h3');
    const plan = await waitForJobState(s, { command: 'test change h3' }, 'awaiting-confirmation');
    const value = findButtonValue(plan.blocks, CANCEL_ACTION);
    expect(value).toMatch(/^c/);
    await s.click(OPS, plan.ts, { actionId: CANCEL_ACTION });
    const cancelled = await waitForJobState(s, plan.ts, 'cancelled');
    expect(cancelled.text).toContain('Cancelled by <@U0ADMIN01> before anything ran');
    // a client still showing the old buttons clicks Confirm
    await s.click(OPS, plan.ts, { value: value! });
    await s.double.waitFor(() =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('already cancelled')),
    );
    // Nothing of this plan ran: no step of the job its confirmation would have made. (Trace lines are
    // `<job id>:<step>:…`; matching 'h3' in them also matched other jobs whose random id holds "h3".)
    const runId = runJobIdFor(value!);
    expect((await s.trace()).some((t) => t.startsWith(`${runId}:`))).toBe(false);
  });

  it('a click carrying an unknown confirmation (stale or forged message) runs nothing', async () => {
    await s.send('test change h4');
    const plan = await waitForJobState(s, { command: 'test change h4' }, 'awaiting-confirmation');
    await s.click(OPS, plan.ts, { value: 'cdeadbeef00' });
    await s.double.waitFor(() =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('no longer valid')),
    );
    expect((await runJobs()).filter((j) => j.data.text === 'test change h4')).toHaveLength(0);
  });

  it('a refused plan or a no-op offers no Confirm button and runs nothing', async () => {
    await s.send('test change h5 --refuse');
    const refused = await waitForJobState(s, { command: 'test change h5 --refuse' }, 'refused');
    expect(refused.text).toContain('h5 is not reachable');
    expect(blocksText(refused.blocks)).not.toContain('flexvdi_confirm');
    await s.send('test change h6 --noop');
    const noop = await waitForJobState(s, { command: 'test change h6 --noop' }, 'noop');
    expect(blocksText(noop.blocks)).not.toContain('flexvdi_confirm');
  });
});
