/**
 * The Edit button of the cluster summary, end to end through the Slack double: the click opens a modal
 * prefilled with what the plan used; a bad submission is answered in the modal, next to the field; a good
 * one withdraws the old plan (its buttons stop working) and makes a new plan — here a 64-node cluster (2
 * listed + 62 reserved), whose summary must fit Block Kit — which then runs and is read back by the real o2cb.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { EDIT_ACTION } from '../../src/core/plugin.js';
import { CONFIRM_ACTION } from '../../src/slack/job-view.js';
import { checkMessageLimits } from '../../src/slack-double/index.js';
import { type TestbedInfo, testbedDown, testbedUp } from '../../src/testbed/index.js';
import { eventually, jobIds, planOf, waitForJobState, waitForNewPlan } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';
import {
  configOf,
  listCluster,
  onlineCluster,
  quietLog,
  registerWithManager,
  submitView,
} from './helpers.js';

const NAME = 'oc-edit';
let tb: TestbedInfo;
let config: Config;
let s: Stack;

beforeAll(async () => {
  tb = await testbedUp({ name: NAME, hosts: 2, log: quietLog });
  config = configOf(tb.inventoryPath);
  await registerWithManager(NAME, config, ['host1', 'host2']);
  s = await startStack({ inventoryPath: tb.inventoryPath });
});

afterAll(async () => {
  await s?.stop();
  await testbedDown({ name: NAME, log: quietLog });
});

interface ModalView {
  id: string;
  callback_id: string;
  private_metadata: string;
  hash: string;
  blocks: { type: string; block_id?: string; element?: { type: string; initial_value?: string } }[];
}

/** Clicks Edit on the plan message and returns the modal the bot opened. */
async function openEditor(ts: string, user = ADMIN): Promise<ModalView> {
  const before = s.double.views().length;
  const r = await s.click(OPS, ts, { actionId: EDIT_ACTION, user });
  expect(r.status).toBe(200);
  const v = await eventually(s, () => s.double.views()[before]);
  expect(v.method).toBe('views.open');
  return { ...(v.view as unknown as ModalView), id: v.id, hash: v.hash };
}

const reserved = Array.from({ length: 62 }, (_, i) => `r${i}=10.231.0.${i + 1}`);

describe('Edit on the cluster summary', () => {
  it('opens a modal prefilled; bad values are shown next to their field; good ones replace the plan', async () => {
    const plan = await planOf(s, 'ocfs2 first-node host1');
    expect(plan.text).toContain('Max nodes: 8 — 2 listed, 0 reserved');

    // someone who is neither the requester nor an admin cannot edit
    await s.click(OPS, plan.ts, { actionId: EDIT_ACTION, user: USER });
    await eventually(s, () =>
      s.double.ephemerals(OPS, USER).find((e) => e.text.includes('can edit this plan')),
    );

    const modal = await openEditor(plan.ts);
    const field = (id: string) => modal.blocks.find((b) => b.block_id === id)!;
    expect(field('maxNodes').element).toMatchObject({ type: 'number_input', initial_value: '8' });
    expect(field('clusterName').element).toMatchObject({
      type: 'plain_text_input',
      initial_value: 'testbedocedit',
    });
    expect(field('reserve').element).toMatchObject({ type: 'plain_text_input' });
    expect(field('reserve').element!.initial_value).toBeUndefined();

    const bad = await submitView(
      s,
      modal,
      { maxNodes: '0', clusterName: 'no-dashes', reserve: 'r1=10.0.0.300' },
      ADMIN,
    );
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({
      response_action: 'errors',
      errors: {
        maxNodes: 'must be at least 1',
        clusterName: 'must be 1–16 letters or digits (OCFS2 cluster names allow nothing else)',
        reserve: '`10.0.0.300` (for r1) must be an IPv4 address (OCFS2 needs IPv4)',
      },
    });
    expect((await waitForJobState(s, plan.ts, 'awaiting-confirmation')).text).toContain(CONFIRM_ACTION); // still pending

    const before = await jobIds(s);
    const good = await submitView(
      s,
      modal,
      { maxNodes: '64', clusterName: 'edited', reserve: reserved.join('\n') },
      ADMIN,
    );
    expect(good).toMatchObject({ status: 200 });
    expect(good.body).toBeNull(); // an empty ack closes the modal
    const old = await waitForJobState(s, plan.ts, 'cancelled');
    expect(old.text).toContain('Replaced by an edited plan');
    expect(old.text).not.toContain(CONFIRM_ACTION);

    const next = await waitForNewPlan(s, before, (t) =>
      t.startsWith('ocfs2 first-node host1 --max-nodes 64'),
    );
    expect(next.record.state).toBe('awaiting-confirmation');
    expect(next.text).toContain('Name: `edited`');
    expect(next.text).toContain('Max nodes: 64 — 2 listed, 62 reserved, 0 more without a name yet');
    expect(next.text).toContain('No headroom');
    for (const r of reserved) {
      const [n, ip] = r.split('=');
      expect(next.text).toContain(`*${n}* ${ip}:7777 — _reserved_`);
    }
    const msg = s.double.store.findMessage(OPS, next.ts)!;
    expect(checkMessageLimits(msg.text, msg.blocks)).toBeUndefined();
    expect(next.text).toContain(EDIT_ACTION);

    // the old message's buttons no longer work
    await s.click(OPS, plan.ts, { value: plan.confirmId! });
    await eventually(s, () =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('replaced by an edited one')),
    );
    // a second submission of the old modal is refused in the modal
    const again = await submitView(s, modal, { maxNodes: '9', clusterName: 'x', reserve: '' }, ADMIN);
    expect(again.body).toEqual({
      response_action: 'errors',
      errors: { maxNodes: expect.stringContaining('no longer pending') },
    });

    // Confirm on the new plan runs the 64-node cluster; the real o2cb reads all 64 back
    await s.click(OPS, next.ts);
    const done = await waitForJobState(s, next.ts, ['completed', 'failed']);
    expect(done.record.state).toBe('completed');
    const read = await listCluster(NAME, 'host1', 'edited');
    expect(read?.nodes).toHaveLength(64);
    expect(read?.nodes[63]).toEqual({ number: 63, name: 'r61', ip: '10.231.0.62', port: 7777 });
    expect(await onlineCluster(NAME, 'host1')).toBe('edited');
    const runs = (await s.runtimes[0]!.queue.getJobs(['completed', 'failed', 'active', 'waiting'])).filter(
      (j) => j.name === 'ocfs2 first-node' && j.data.phase === 'run',
    );
    expect(runs).toHaveLength(1);
  });

  it('Edit after Confirm says the plan is no longer pending', async () => {
    const plan = await planOf(s, 'ocfs2 join host2');
    await s.click(OPS, plan.ts);
    await waitForJobState(s, plan.ts, ['completed', 'failed']);
    const opened = s.double.calls().filter((c) => c.method === 'views.open').length;
    const plans = (await s.runtimes[0]!.queue.getJobs(['completed', 'failed', 'active', 'waiting'])).length;
    await s.click(OPS, plan.ts, { actionId: EDIT_ACTION, value: plan.confirmId! });
    const told = await eventually(s, () =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes('This plan is no longer pending')),
    );
    expect(told.text).toContain('Run the command again');
    // no editor was opened and nothing was planned again
    expect(s.double.calls().filter((c) => c.method === 'views.open')).toHaveLength(opened);
    expect(await s.runtimes[0]!.queue.getJobs(['completed', 'failed', 'active', 'waiting'])).toHaveLength(
      plans,
    );
  });
});
