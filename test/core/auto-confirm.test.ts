/**
 * A plan job that confirms itself (`autoConfirm`: the monitor's automatic failover), through the real engine:
 * real Redis, a worker, the Slack double, the test plugin. Its plan is posted (in the thread it was given),
 * claimed as a Confirm would claim it, its run job added with the plan's pins and run, and the audit trail
 * says who confirmed and why; a refused plan runs nothing; a person's Confirm on it afterwards is told it was
 * confirmed already.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueue, runJobIdFor } from '../../src/jobs/queue.js';
import { auditRecords } from '../alerts/helpers.js';
import { ENDED, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { poll } from '../support/poll.js';
import { traceOf } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.stop();
});

const SETTINGS = { attempts: 1, backoffMs: 100 };

async function autoPlan(host: string, jobId: string, extra: Record<string, unknown> = {}) {
  await enqueue(
    s.runtimes[0]!.queue,
    'test change',
    {
      phase: 'plan',
      text: `test change ${host}`,
      args: { host, ...extra },
      requester: 'monitor',
      isAdmin: true,
      channel: OPS,
      autoConfirm: { by: 'monitor', why: `automatic: ${host} lost` },
    },
    jobId,
    SETTINGS,
  );
}

it('plans, confirms itself, runs with the pins, and audits the confirmation with its reason', async () => {
  await autoPlan('auto1', 'p-auto1');
  const done = await waitForJobState(s, 'p-auto1', ENDED, 30_000);
  expect(done.record.state).toBe('completed');
  expect(done.text).toContain('changed (a,b,c) with SHA256:pin-auto1');
  // The job's record says completed from inside its processor; BullMQ moves the job to completed a moment
  // later (after the processor returns): polled, not read at once (reading at once raced on a loaded run).
  const all = await poll('the plan and run jobs completed in BullMQ', async () => {
    const jobs = (await s.runtimes[0]!.queue.getJobs(['completed'])).filter(
      (j) => j.data.text === 'test change auto1',
    );
    return jobs.length === 2 ? jobs : undefined;
  });
  expect(all.map((j) => j.data.phase).sort()).toEqual(['plan', 'run']);
  const runs = all.filter((j) => j.data.phase === 'run');
  expect(runs.map((j) => j.data.confirmedBy)).toEqual(['monitor']);
  expect(runs[0]!.id).toBe(runJobIdFor(runs[0]!.data.confirmId!)); // the id a Confirm click would give it
  expect(await traceOf(s, runs[0]!.id!)).toEqual([
    'a:start',
    'a:done',
    'b:start',
    'b:done',
    'c:start',
    'c:done',
  ]);
  expect(await auditRecords(s)).toContainEqual(
    expect.objectContaining({
      user: 'monitor',
      command: 'test change auto1',
      outcome: 'confirmed',
      jobId: runs[0]!.id,
      detail: 'automatic: auto1 lost',
    }),
  );
  // A person's click on the plan afterwards: it was confirmed already, nothing more runs.
  await s.click(OPS, done.ts, { value: runs[0]!.data.confirmId! });
  expect(await waitForEphemeral(s, ADMIN, 'Already confirmed', OPS)).toMatch(/monitor/);
  expect(
    (await s.runtimes[0]!.queue.getJobs(['completed', 'active', 'waiting'])).filter(
      (j) => j.data.text === 'test change auto1' && j.data.phase === 'run',
    ),
  ).toHaveLength(1);
});

it('a refused plan runs nothing and confirms nothing', async () => {
  await autoPlan('auto2', 'p-auto2', { refuse: true });
  const done = await waitForJobState(s, 'p-auto2', ENDED, 30_000);
  expect(done.record.state).toBe('refused');
  expect(
    (await s.runtimes[0]!.queue.getJobs(['completed', 'active', 'waiting', 'failed'])).filter(
      (j) => j.data.text === 'test change auto2' && j.data.phase === 'run',
    ),
  ).toEqual([]);
  expect(
    (await auditRecords(s)).filter(
      (r) => r['command'] === 'test change auto2' && r['outcome'] === 'confirmed',
    ),
  ).toEqual([]);
});
