/**
 * Four eyes (`slack.approvals.commands`) and type-to-confirm (`Plan.typeToConfirm`), end to end: signed
 * clicks and modal submissions through the Slack double, real Redis, a real worker. The commands are the
 * test plugin's `test change` (four eyes) and this file's `guard wipe` (type-to-confirm) and `guard both`
 * (both), so nothing here depends on the storage or manager commands.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runJobIdFor } from '../../src/bot/actions.js';
import { TYPE_TO_CONFIRM_CALLBACK } from '../../src/bot/type-to-confirm.js';
import { AuditLog } from '../../src/jobs/audit.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { CANCEL_ACTION } from '../../src/slack/job-view.js';
import { submitView } from '../ocfs2/helpers.js';
import {
  eventually,
  jobsIn,
  pendingPlanOf,
  waitForEphemeral,
  waitForJobRecord,
  waitForJobState,
  waitForText,
} from '../support/flow.js';
import { guardPlugin } from '../support/guard-plugin.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';
import { createTestPlugin } from '../support/test-plugin.js';

const ADMIN2 = 'U0ADMIN02';
const ADMIN3 = 'U0ADMIN03';
const prefix = `t${randomBytes(5).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-approvals-'));
const traceKey = `${prefix}:test-trace`;
let trace: Redis;
let s: Stack;

beforeAll(async () => {
  trace = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  const inventory = path.join(dir, 'inventory.yaml');
  writeFileSync(
    inventory,
    `manager: { url: https://10.230.9.2, username: admin, password: { env: TEST_MANAGER_PASSWORD } }
ssh: { privateKeyPath: ./id_ed25519, knownHostsPath: ./known_hosts }
hosts:
  - { name: h1, fqdn: h1.flexvdi.test, ip: 10.230.9.11 }
slack:
  admins: [${ADMIN}, ${ADMIN2}, ${ADMIN3}]
  channels: [${OPS}]
  approvals: { commands: ['test change', 'guard both'] }
jobs: { prefix: ${prefix}, backoffMs: 50, lockTtlMs: 5000 }
`,
  );
  s = await startStack({
    inventoryPath: inventory,
    plugins: [...builtinPlugins, createTestPlugin({ redis: trace, traceKey }), guardPlugin(trace, traceKey)],
    tuning: { confirmTtlMs: 120_000 },
  });
});

afterAll(async () => {
  await s?.stop();
  trace?.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const runJobsOf = async (text: string) => (await jobsIn(s, 'run')).filter((j) => j.data.text === text);
const audit = async (text: string) =>
  (await new AuditLog(s.redis, `${s.prefix}:audit`).recent(200)).filter((r) => r.command === text).reverse();

interface ModalView {
  id: string;
  hash: string;
  callback_id: string;
  private_metadata: string;
  blocks: { type: string; block_id?: string; label?: { text: string }; text?: { text: string } }[];
}

/** Clicks Confirm… and returns the modal the bot opened. */
async function openModal(ts: string, user: string): Promise<ModalView> {
  const before = s.double.views().length;
  expect((await s.click(OPS, ts, { user })).status).toBe(200);
  const v = await eventually(s, () => s.double.views()[before]);
  expect(v.method).toBe('views.open');
  return { ...(v.view as unknown as ModalView), id: v.id, hash: v.hash };
}

/** Submits the modal as Slack does (a signed view_submission); returns the bot's response. */
const submit = (view: ModalView, typed: string, user: string) => submitView(s, view, { typed }, user);

describe('four eyes', () => {
  it('the requester approves first, a different admin second; two at once make one job; all audited', async () => {
    const plan = await pendingPlanOf(s, 'test change h1');
    expect(plan.text).toContain(`Four eyes: <@${ADMIN}> confirms first, then a second admin.`);

    // another admin cannot go first (the requester could not be the second then)
    await s.click(OPS, plan.ts, { user: ADMIN2 });
    await waitForEphemeral(s, ADMIN2, `<@${ADMIN}> (who asked) must confirm this plan first`);

    // the requester's Confirm is an approval: recorded, shown, audited; nothing runs
    await s.click(OPS, plan.ts);
    await waitForJobRecord(
      s,
      plan.ts,
      (r) => r.state === 'awaiting-confirmation' && (r.approvals?.by ?? []).includes(ADMIN),
      'approved once',
    );
    // (a pending plan's message is matched to its record by its text only: wait for the blocks themselves)
    const approved = {
      text: await waitForText(s, plan.ts, /Approved by <@U0ADMIN01> · awaiting a second admin\./),
    };
    expect(approved.text).toContain('flexvdi_confirm');

    // the requester again (and a redelivery of it): told so, still nothing runs
    await s.click(OPS, plan.ts, { retryNum: 1 });
    await waitForEphemeral(s, ADMIN, 'You already approved this plan; a second admin must confirm it');
    // a non-admin: refused as on any plan
    await s.click(OPS, plan.ts, { user: USER });
    await waitForEphemeral(s, USER, `Only <@${ADMIN}> (who asked) or a flexVDI admin can confirm this plan.`);
    expect(await runJobsOf('test change h1')).toHaveLength(0);

    // two other admins at once: one claim, one job
    const [a, b] = await Promise.all([
      s.click(OPS, plan.ts, { user: ADMIN2 }),
      s.click(OPS, plan.ts, { user: ADMIN3 }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const done = await waitForJobState(s, plan.ts, 'completed');
    const second = done.record.confirmedBy!;
    const loser = second === ADMIN2 ? ADMIN3 : ADMIN2;
    expect([ADMIN2, ADMIN3]).toContain(second);
    expect(done.record.approvals).toEqual({ required: 2, by: [ADMIN, second] });
    expect(done.text).toContain(`approved by <@${ADMIN}> and <@${second}>`);
    await waitForEphemeral(s, loser, `Already confirmed by <@${second}>`);
    const runs = await runJobsOf('test change h1');
    expect(runs.map((j) => j.id)).toEqual([runJobIdFor(plan.confirmId)]);
    expect(
      (await s.trace()).filter((t) => t.startsWith(`${runJobIdFor(plan.confirmId)}:a:done`)),
    ).toHaveLength(1);

    const trail = await audit('test change h1');
    const approvals = trail.filter((r) => r.outcome === 'approved');
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ user: ADMIN, jobId: plan.record.recordId });
    expect(approvals[0]!.detail).toContain('four eyes: approval 1 of 2');
    const confirmed = trail.filter((r) => r.outcome === 'confirmed');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]).toMatchObject({
      user: second,
      jobId: runJobIdFor(plan.confirmId),
      detail: `four eyes: approval 2 of 2 (first: ${ADMIN})`,
    });
    expect(trail.some((r) => r.outcome === 'refused' && r.user === ADMIN2)).toBe(true);
  });

  it('Cancel between the two approvals runs nothing; a later Confirm is told it was cancelled', async () => {
    const plan = await pendingPlanOf(s, 'test change h7');
    await s.click(OPS, plan.ts);
    await waitForText(s, plan.ts, /Approved by <@U0ADMIN01> · awaiting a second admin/);
    await s.click(OPS, plan.ts, { user: ADMIN2, actionId: CANCEL_ACTION });
    const cancelled = await waitForJobState(s, plan.ts, 'cancelled');
    expect(cancelled.text).toContain(`Cancelled by <@${ADMIN2}> before anything ran`);
    await s.click(OPS, plan.ts, { user: ADMIN3, value: plan.confirmId });
    await waitForEphemeral(s, ADMIN3, 'already cancelled');
    expect(await runJobsOf('test change h7')).toHaveLength(0);
  });
});

describe('type to confirm', () => {
  it('Confirm… opens a modal; wrong text is shown in it and confirms nothing; the right text runs', async () => {
    const plan = await pendingPlanOf(s, 'guard wipe vol1');
    expect(plan.text).toContain('Confirm…');
    const modal = await openModal(plan.ts, ADMIN);
    expect(modal.callback_id).toBe(TYPE_TO_CONFIRM_CALLBACK);
    expect(JSON.parse(modal.private_metadata)).toEqual({ confirmId: plan.confirmId });
    expect(JSON.stringify(modal.blocks)).toContain('Everything on vol1 is lost.');
    expect(modal.blocks.find((b) => b.block_id === 'typed')?.label?.text).toBe('Type vol1 to confirm');
    // the click alone confirmed nothing
    expect(await runJobsOf('guard wipe vol1')).toHaveLength(0);

    const wrong = await submit(modal, 'VOL1', ADMIN);
    expect(wrong).toEqual({
      status: 200,
      body: {
        response_action: 'errors',
        errors: { typed: 'Type vol1 exactly (case-sensitive) to confirm. Nothing was confirmed.' },
      },
    });
    // someone who may not confirm gets nothing by typing it right
    const stranger = await submit(modal, 'vol1', USER);
    expect(stranger.body).toMatchObject({
      response_action: 'errors',
      errors: { typed: expect.stringContaining('or a flexVDI admin can confirm this plan') },
    });
    expect((await waitForJobState(s, plan.ts, 'awaiting-confirmation')).text).toContain('flexvdi_confirm');
    expect(await runJobsOf('guard wipe vol1')).toHaveLength(0);

    const right = await submit(modal, 'vol1', ADMIN);
    expect(right).toEqual({ status: 200, body: null }); // an empty ack closes the modal
    const done = await waitForJobState(s, plan.ts, 'completed');
    expect(done.text).toContain('wiped vol1');
    expect((await runJobsOf('guard wipe vol1')).map((j) => j.id)).toEqual([runJobIdFor(plan.confirmId)]);
    // a redelivered submission confirms nothing more
    const again = await submit(modal, 'vol1', ADMIN);
    expect(again.body).toMatchObject({ errors: { typed: expect.stringContaining('Already confirmed by') } });
    expect((await s.trace()).filter((t) => t.endsWith(':wipe:done'))).toHaveLength(1);

    const trail = await audit('guard wipe vol1');
    expect(trail.filter((r) => r.outcome === 'refused').map((r) => [r.user, r.detail])).toEqual([
      [ADMIN, 'type-to-confirm: the typed text did not match'],
      [USER, 'type-to-confirm submission by non-requester'],
    ]);
    expect(trail.filter((r) => r.outcome === 'confirmed')).toEqual([
      expect.objectContaining({ user: ADMIN, detail: 'type-to-confirm: typed "vol1"' }),
    ]);
  });

  it('with four eyes, each approver types: the requester, then a second admin', async () => {
    const plan = await pendingPlanOf(s, 'guard both d1');
    const first = await openModal(plan.ts, ADMIN);
    expect((await submit(first, 'd1', ADMIN)).body).toBeNull();
    await waitForText(s, plan.ts, /Approved by <@U0ADMIN01> · awaiting a second admin/);
    expect(await runJobsOf('guard both d1')).toHaveLength(0);
    // the requester again: told at the click, no modal
    const views = s.double.views().length;
    await s.click(OPS, plan.ts);
    await waitForEphemeral(s, ADMIN, 'You already approved this plan');
    expect(s.double.views()).toHaveLength(views);

    const second = await openModal(plan.ts, ADMIN2);
    expect(JSON.stringify(second.blocks)).toContain('You are the second admin');
    expect((await submit(second, 'D1', ADMIN2)).body).toMatchObject({ response_action: 'errors' });
    expect(await runJobsOf('guard both d1')).toHaveLength(0);
    expect((await submit(second, 'd1', ADMIN2)).body).toBeNull();
    const done = await waitForJobState(s, plan.ts, 'completed');
    expect(done.record.approvals).toEqual({ required: 2, by: [ADMIN, ADMIN2] });
    const trail = await audit('guard both d1');
    expect(trail.filter((r) => r.outcome === 'approved' || r.outcome === 'confirmed')).toEqual([
      expect.objectContaining({
        outcome: 'approved',
        user: ADMIN,
        detail: expect.stringContaining('typed "d1"'),
      }),
      expect.objectContaining({
        outcome: 'confirmed',
        user: ADMIN2,
        detail: expect.stringContaining('typed "d1"'),
      }),
    ]);
  });
});
