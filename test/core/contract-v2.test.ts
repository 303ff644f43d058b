/**
 * Contract v2 on real Redis and the Slack double:
 * - the job message has one owner: its validated job-state record in Redis is exactly what Slack shows,
 *   through the plan, the bot's "queued" and the worker's result; BullMQ progress holds steps/Hosts only;
 * - what comes back from Redis is parsed again: a checkpoint that no longer matches its step's schema is not
 *   trusted (the step runs again), job data that no longer fits the command fails as `job.invalid_data`, a job
 *   naming no installed command fails as `job.unknown_command`; neither is retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobProgressSchema } from '../../src/jobs/job-state.js';
import { keys } from '../../src/jobs/keys.js';
import { jobOptions } from '../../src/jobs/queue.js';
import { CANCEL_ACTION, renderJob } from '../../src/slack/job-view.js';
import { confirmed, jobRecord, pendingPlanOf, until, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.stop();
});

describe('one owner of the job message', () => {
  it('the job-state record is what Slack shows, from plan to result; progress holds steps and Hosts only', async () => {
    const plan = await pendingPlanOf(s, 'test change own1');
    const q = s.runtimes[0]!.queue;
    const planJob = await until(async () =>
      (await q.getJobs(['completed'], 0, 100)).find((j) => j.data.text === 'test change own1'),
    );
    expect(planJob.id).toMatch(/^p-/);
    const recordId = planJob.id ?? '';
    const awaiting = await jobRecord(s, recordId);
    expect(awaiting?.state).toBe('awaiting-confirmation');
    expect(awaiting?.messageTs).toBe(plan.ts);
    expect(awaiting?.confirmId).toBe(plan.confirmId);

    await s.click(OPS, plan.ts);
    const { record: done } = await waitForJobState(s, plan.ts, 'completed');
    expect(done.recordId).toBe(recordId);
    expect(done.confirmedBy).toBe(ADMIN);
    expect(done.result?.summary.mrkdwn).toBe('changed (a,b,c) with SHA256:pin-own1');
    expect(done.steps?.map((x) => x.state)).toEqual(['done', 'done', 'done']);
    // what Slack shows now is the record, rendered by the one renderer
    const shown = s.double.store.findMessage(OPS, plan.ts);
    const rendered = renderJob(done);
    expect(shown?.text).toBe(rendered.text);
    expect(shown?.blocks).toEqual(rendered.blocks);
    // the run job's progress is the step and Host tables, nothing else
    const runJob = await s.runtimes[0]!.queue.getJob(done.jobId ?? '');
    expect(Object.keys(runJob?.progress ?? {}).sort()).toEqual(['hosts', 'steps']);
    const progress = jobProgressSchema.parse(runJob?.progress);
    expect(progress.steps.map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(progress.hosts['own1']?.state).toBe('ok');
    // one message for the whole story: plan, queued, running and result were edits of it
    expect(
      s.double.messages(OPS).filter((m) => m.text.startsWith('/flexvdi test change own1 ')),
    ).toHaveLength(1);
  });
});

describe('what is read back from Redis is parsed again', () => {
  it('a step checkpoint that no longer matches its schema is not trusted: the step runs again', async () => {
    const job = await confirmed(s, 'test change ck1 --fail-step c --fail-code test.boom --fail-times 1');
    await waitForJobState(s, job.ts, 'failed');
    const q = s.runtimes[0]!.queue;
    await until(async () => (await q.getJob(job.jobId))?.isFailed(), 10_000, 'BullMQ state failed');
    expect(await traceOf(s, job.jobId)).toEqual(['a:start', 'a:done', 'b:start', 'b:done', 'c:start']);
    // b's saved result is damaged (another version, a hand edit): it must not be used as b's result
    await s.redis.hset(keys(s.prefix).checkpoints(job.jobId), 'step:b', JSON.stringify({ step: 'zz' }));
    await s.send(`retry ${job.jobId}`);
    await waitForJobState(s, job.ts, 'completed');
    expect(await traceOf(s, job.jobId)).toEqual([
      'a:start',
      'a:done',
      'b:start',
      'b:done',
      'c:start',
      'b:start',
      'b:done',
      'c:start',
      'c:done',
    ]);
  });

  it('job data that no longer fits the command fails at once as job.invalid_data, and is not retried', async () => {
    const q = s.runtimes[0]!.queue;
    const jobId = 'j-staledata01';
    await q.add(
      'test change',
      {
        phase: 'run',
        text: 'test change stale',
        args: { host: 'NOT A HOST!' },
        requester: ADMIN,
        isAdmin: true,
        channel: OPS,
      },
      jobOptions(jobId, { attempts: 3, backoffMs: 50 }, 'run'),
    );
    const failed = await until(async () =>
      (await q.getJob(jobId))?.failedReason ? q.getJob(jobId) : undefined,
    );
    expect(failed?.failedReason).toMatch(/^job\.invalid_data: /);
    expect(failed?.attemptsMade).toBe(1);
    const msg = await waitForJobState(s, jobId, 'failed');
    expect(JSON.stringify(msg.blocks)).toContain('no longer match the command');
    expect((await s.trace()).some((t) => t.startsWith(`${jobId}:`))).toBe(false);
  });

  it('a job naming a command this worker does not have fails as job.unknown_command, and is not retried', async () => {
    const q = s.runtimes[0]!.queue;
    const jobId = 'j-unknowncmd1';
    await q.add(
      'gone command',
      { phase: 'run', text: 'gone command', args: {}, requester: ADMIN, isAdmin: true, channel: OPS },
      jobOptions(jobId, { attempts: 3, backoffMs: 50 }, 'run'),
    );
    const failed = await until(async () =>
      (await q.getJob(jobId))?.failedReason ? q.getJob(jobId) : undefined,
    );
    expect(failed?.failedReason).toMatch(/^job\.unknown_command: /);
    expect(failed?.attemptsMade).toBe(1);
    const msg = await waitForJobState(s, jobId, 'failed');
    expect(JSON.stringify(msg.blocks)).toContain('is not installed on this worker');
  });
});

describe('the job message is posted once, and a channel that refuses the bot is said once', () => {
  it('a slow read-only job with progress before and after its first post makes one message', async () => {
    await s.send('test probe once --slow-ms 1500');
    const msg = await waitForJobState(s, { command: 'test probe once --slow-ms 1500' }, 'completed');
    const posts = s.double
      .calls()
      .filter(
        (c) =>
          c.method === 'chat.postMessage' && String(c.params['text']).startsWith('/flexvdi test probe once'),
      );
    expect(posts).toHaveLength(1);
    // …and it was edited in place with the progress and the result
    const edits = s.double.calls().filter((c) => c.method === 'chat.update' && c.params['ts'] === msg.ts);
    expect(edits.length).toBeGreaterThan(0);
  });

  it('not_in_channel: one ephemeral through response_url, the job is not retried, and the audit says how it ended', async () => {
    for (let i = 0; i < 10; i++) s.double.failNext('chat.postMessage', { error: 'not_in_channel' });
    const before = s.double.ephemerals(OPS, ADMIN).length;
    await s.send('test change nic1');
    const note = await s.double.waitFor(() =>
      s.double
        .ephemerals(OPS, ADMIN)
        .slice(before)
        .find((e) => e.text.includes('cannot post in this channel')),
    );
    expect(note.text).toContain('not_in_channel');
    const q = s.runtimes[0]!.queue;
    const planJob = await until(async () =>
      (await q.getJobs(['failed'], 0, 100)).find((j) => j.data.text === 'test change nic1'),
    );
    expect(planJob.failedReason).toMatch(/^slack\.cannot_post: /);
    expect(planJob.attemptsMade).toBe(1);
    const audit = await until(async () => {
      const rows = await s.redis.xrange(`${s.prefix}:audit`, '-', '+');
      return rows.find(([, f]) => f.includes('test change nic1') && f.includes('failed'));
    });
    expect(audit[1].join(' ')).toContain('slack.cannot_post');
    expect(
      s.double
        .ephemerals(OPS, ADMIN)
        .slice(before)
        .filter((e) => e.text.includes('cannot post')),
    ).toHaveLength(1);
    expect((await s.trace()).filter((t) => t === 'plan:nic1')).toHaveLength(1);
    s.double.reset(); // the faults left queued must not reach another test
  });
});

describe('a step that could not do all of its work is not ✅', () => {
  it('is shown ⚠️ with what it could not do (escaped), in the message and in /flexvdi job', async () => {
    await s.send('test probe fnd --finding');
    const msg = await waitForJobState(s, { command: 'test probe fnd --finding' }, 'findings');
    const text = JSON.stringify(msg.blocks);
    expect(text).toContain('⚠️ Read — the &lt;!channel&gt; thing could not be read');
    expect(text).not.toContain('✅ Read');
    const ok = await (async () => {
      await s.send('test probe fine');
      return waitForJobState(s, { command: 'test probe fine' }, 'completed');
    })();
    expect(JSON.stringify(ok.blocks)).toContain('✅ Read');
  });

  it('/flexvdi jobs shows a read-only job that found problems as "completed with findings"', async () => {
    const q = s.runtimes[0]!.queue;
    const job = await until(async () =>
      (await q.getJobs(['completed'], 0, 200)).find((j) => j.data.text === 'test probe fnd --finding'),
    );
    expect(job.returnvalue).toMatchObject({ outcome: 'findings' });
    await s.send('jobs');
    const list = await s.double.waitFor(() =>
      s.double.ephemerals(OPS, ADMIN).find((e) => e.text.includes(job.id ?? '?')),
    );
    expect(list.text).toContain(`\`${job.id}\` completed with findings`);
  });
});

describe('consistent refusals for every unauthorized click', () => {
  it('a non-admin clicking Confirm or Cancel on a plan already confirmed is refused and audited, not told who confirmed', async () => {
    const plan = await pendingPlanOf(s, 'test change rf1');
    await s.click(OPS, plan.ts);
    await waitForJobState(s, plan.ts, 'completed');
    const before = s.double.ephemerals(OPS, USER).length;
    // (clicks on the buttons as they were: the message no longer shows them)
    await s.click(OPS, plan.ts, { user: USER, value: plan.confirmId });
    await s.click(OPS, plan.ts, { user: USER, actionId: CANCEL_ACTION, value: plan.confirmId });
    const told = await s.double.waitFor(() => {
      const e = s.double.ephemerals(OPS, USER).slice(before);
      return e.length >= 2 ? e : undefined;
    });
    for (const e of told) {
      expect(e.text).toMatch(/^Only a flexVDI admin can (confirm|cancel) this plan\.$/);
      expect(e.text).not.toContain('Already confirmed');
    }
    const refusals = await until(async () => {
      const rows = (await s.redis.xrange(`${s.prefix}:audit`, '-', '+')).filter(
        ([, f]) => f.includes(USER) && f.includes('refused') && f.join(' ').includes(plan.confirmId),
      );
      return rows.length >= 2 ? rows : undefined;
    });
    expect(refusals).toHaveLength(2);
  });
});
