/**
 * The buttons on an alert and the Home tab, through the whole stack (signed Slack requests to the bot, real
 * Redis, a worker, the Slack double). The alert's parent is posted here as the monitor posts it (its buttons'
 * action ids and values), with its incident written to Redis in the monitor's shape: Acknowledge is kept once
 * and audited (a second click answers who was first); Diagnose runs a job whose message goes in the alert's
 * thread (a redelivered click makes one job); Replace host… refuses a non-admin as typing it would, audited,
 * and gives an admin the plan in the thread; opening the Home tab publishes it and remembers the user.
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_ACTIONS, alertButtonValue } from '../../src/monitor/board.js';
import { actions, section } from '../../src/slack/blocks.js';
import { allJobs, ENDED, eventually, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, blocksText, USER } from '../support/harness.js';
import {
  ALERTS,
  type AlertsStack,
  auditRecords,
  startAlertsStack,
  writeIncident,
  writeView,
} from './helpers.js';

let s: AlertsStack;
let parentTs: string;
const INCIDENT = 'host1-b1';

beforeAll(async () => {
  s = await startAlertsStack();
  await writeView(s, [
    { host: 'host1', state: 'lost', since: Date.now() - 60_000, failing: ['heartbeat'] },
    { host: 'host2', state: 'healthy', since: Date.now() - 600_000, failing: [] },
  ]);
  // The alert's parent message, as the monitor posts it: its buttons carry the incident and the Host.
  const slack = new WebClient(s.env['SLACK_BOT_TOKEN'], { slackApiUrl: s.double.apiUrl });
  const value = alertButtonValue({ incident: INCIDENT, host: 'host1' });
  const posted = await slack.chat.postMessage({
    channel: ALERTS,
    text: '🔴 host1 is lost',
    blocks: [
      section('🔴 *host1* is lost'),
      actions('alert', [
        { text: 'Acknowledge', actionId: ALERT_ACTIONS.acknowledge, value, style: 'primary' },
        { text: 'Diagnose', actionId: ALERT_ACTIONS.diagnose, value },
        { text: 'Replace host…', actionId: ALERT_ACTIONS.replace, value },
      ]),
    ] as never,
  });
  parentTs = posted.ts!;
  await writeIncident(s, 'host1', { id: INCIDENT, host: 'host1', threadTs: parentTs });
});
afterAll(async () => {
  await s?.stop();
});

const click = (user: string, actionId: string, o: { triggerId?: string; retryNum?: number } = {}) =>
  s.click(ALERTS, parentTs, { user, actionId, ...o });

describe('Acknowledge', () => {
  it('keeps the first acknowledgement, tells the clicker, audits it; a later click says who was first', async () => {
    expect((await click(USER, ALERT_ACTIONS.acknowledge)).status).toBe(200);
    await waitForEphemeral(s, USER, 'Acknowledged: the reminders for this incident stop', ALERTS);
    expect((await s.board.acks([INCIDENT])).get(INCIDENT)).toEqual({ by: USER, at: expect.any(Number) });

    await click(ADMIN, ALERT_ACTIONS.acknowledge);
    const later = await waitForEphemeral(s, ADMIN, 'Already acknowledged by', ALERTS);
    expect(later).toMatch(new RegExp(`^Already acknowledged by <@${USER}> at [0-9:]+ UTC\\.$`));
    await click(USER, ALERT_ACTIONS.acknowledge);
    await waitForEphemeral(s, USER, 'You acknowledged this incident at', ALERTS);
    expect((await s.board.acks([INCIDENT])).get(INCIDENT)?.by).toBe(USER);

    const trail = (await auditRecords(s)).filter(
      (r) => r['command'] === `acknowledge host1 (incident ${INCIDENT})`,
    );
    expect(trail.filter((r) => r['outcome'] === 'acknowledged')).toEqual([
      expect.objectContaining({ user: USER, channel: ALERTS }),
    ]);
    expect(trail.filter((r) => r['outcome'] === 'noop')).toEqual([
      expect.objectContaining({ user: ADMIN, detail: `already acknowledged by ${USER}` }),
    ]);
  });
});

describe('Diagnose', () => {
  it('runs `diagnose host1` for the clicker, its message and details in the alert’s thread, once per click', async () => {
    const triggerId = '1234567890.123456789.diagnose0click0000000000';
    await click(USER, ALERT_ACTIONS.diagnose, { triggerId });
    await click(USER, ALERT_ACTIONS.diagnose, { triggerId, retryNum: 1 }); // Slack redelivers the click
    const done = await waitForJobState(s, { command: 'diagnose host1' }, ENDED);
    expect(done.record).toMatchObject({
      channel: ALERTS,
      threadTs: parentTs,
      requester: USER,
      state: 'findings',
    });
    // Slack shows the job's message as a reply in the alert's thread
    expect(done.message.threadTs).toBe(parentTs);
    expect(s.double.thread(ALERTS, parentTs).map((m) => m.ts)).toContain(done.ts);
    expect(done.text).toContain(`127.0.0.1:${s.port} refused the connection`);
    // every post of the job (the message, its long result's details) went into that thread, none elsewhere
    const posts = s.double
      .calls('chat.postMessage')
      .filter((c) => c.params['channel'] === ALERTS && c.params['thread_ts'] !== undefined);
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(posts.every((c) => c.params['thread_ts'] === parentTs)).toBe(true);
    expect(s.double.messages(ALERTS).map((m) => m.ts)).toEqual([parentTs]);
    // one job for the click and its redelivery
    expect((await allJobs(s)).filter((j) => j.data.text === 'diagnose host1')).toHaveLength(1);
  });
});

describe('Replace host…', () => {
  it('refuses a non-admin as typing the command would, audited, and starts nothing', async () => {
    await click(USER, ALERT_ACTIONS.replace);
    await waitForEphemeral(s, USER, 'Only flexVDI admins can run this command', ALERTS);
    const refused = await until(async () =>
      (await auditRecords(s)).find((r) => r['user'] === USER && r['command'] === 'replace-host host1'),
    );
    expect(refused).toMatchObject({ outcome: 'refused', detail: 'auth.not_admin', channel: ALERTS });
    expect((await allJobs(s)).filter((j) => j.data.text === 'replace-host host1')).toHaveLength(0);
  });

  it('gives an admin the replace-host plan in the alert’s thread', async () => {
    await click(ADMIN, ALERT_ACTIONS.replace);
    const plan = await waitForJobState(s, { command: 'replace-host host1' }, ENDED);
    expect(plan.record).toMatchObject({ channel: ALERTS, threadTs: parentTs, requester: ADMIN });
    expect(plan.message.threadTs).toBe(parentTs);
    // nothing answers on host1's address: the plan refuses, saying so
    expect(plan.record.state).toBe('refused');
    expect(plan.text).toContain('Nothing answers SSH on 127.0.0.1');
  });
});

describe('the Home tab', () => {
  it('is published from the board when a user opens it, and the user is remembered', async () => {
    expect((await s.double.openHome(USER)).status).toBe(200);
    const home = await eventually(s, () =>
      s.double.views().find((v) => v.userId === USER && v.view['type'] === 'home'),
    );
    const text = blocksText(home.view['blocks'] as unknown[]);
    expect(text).toContain('flexVDI cluster');
    expect(text).toContain('*2 Hosts*: 1 lost, 1 healthy');
    expect(text).toMatch(/🔴 \*host1\* lost since [0-9:]+ UTC \([^)]+\) · acknowledged by <@U0USER001>/);
    expect(text).toContain(`/archives/${ALERTS}/p${parentTs.replace('.', '')}|thread>`);
    expect(await s.board.homeUsers()).toContain(USER);
  });

  it('the Messages tab publishes nothing', async () => {
    const other = 'U0OTHER001';
    await s.double.openHome(other, { tab: 'messages' });
    await s.double.openHome(ADMIN);
    await eventually(s, () => s.double.views().find((v) => v.userId === ADMIN));
    expect(s.double.views().find((v) => v.userId === other)).toBeUndefined();
    expect(await s.board.homeUsers()).toEqual([ADMIN, USER].sort());
  });
});
