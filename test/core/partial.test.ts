/**
 * Partial results are first-class: a fan-out step that finished some Hosts and not others ends the job
 * "partly done" — in the message, `/flexvdi jobs`, the audit trail and the metrics — and `/flexvdi retry`
 * runs exactly the Hosts that did not finish, then the steps after it. Transient failures are retried by the
 * engine first. Real Redis, the Slack double, the test plugin's fan-out command.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { confirmed, editedStates, until, waitForEphemeral, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.stop();
});

it('some Hosts fail: "partly done" everywhere it is shown; retry runs exactly those Hosts, then the rest', async () => {
  const job = await confirmed(s, 'test fanout --hosts a,b,c,d --fail b,d');
  const partly = await waitForJobState(s, job.ts, 'partial');
  expect(partly.text).toContain(
    'Touching the Hosts failed on b (b broke on purpose); d (d broke on purpose)',
  );
  expect(partly.text).toContain('2 other Hosts are done');
  expect(partly.text).toContain(`/flexvdi retry ${job.jobId}`);
  const q = s.runtimes[0]!.queue;
  await until(async () => (await q.getJob(job.jobId))?.isFailed(), 10_000, 'BullMQ state failed');
  // not retried by the engine: these failures are not transient
  expect((await q.getJob(job.jobId))?.attemptsMade).toBe(1);
  expect(await traceOf(s, job.jobId)).toEqual(['each:a', 'each:b', 'each:c', 'each:d']);
  // the thread says, per Host, what is done and what is not
  const thread = await s.double.waitFor(() =>
    s.double.thread(OPS, job.ts).find((m) => m.text.startsWith('Per Host')),
  );
  expect(thread.text).toContain('b*: not done');
  expect(thread.text).toContain('a*: done');

  await s.send('jobs');
  const jobs = await waitForEphemeral(s, ADMIN, job.jobId);
  expect(jobs).toMatch(new RegExp(`\`${job.jobId}\` partly done`));
  const audit = await s.redis.xrange(`${s.prefix}:audit`, '-', '+');
  expect(audit.some(([, f]) => f.includes('partial') && f.includes(job.jobId))).toBe(true);
  const metrics = await (await fetch(s.botUrls[0]!.replace('/slack/events', '/metrics'))).text();
  expect(metrics).toMatch(/flexvdi_jobs_finished_total\{command="test fanout",outcome="partial"\} 1/);

  await s.send(`retry ${job.jobId}`);
  await waitForJobState(s, job.ts, 'completed');
  expect(await traceOf(s, job.jobId)).toEqual([
    'each:a',
    'each:b',
    'each:c',
    'each:d',
    'each:b',
    'each:d',
    'after',
  ]);
});

it('transient failures (a Host unreachable) are retried by the engine first', async () => {
  const job = await confirmed(s, 'test fanout --hosts a,b --fail b --fail-code ssh.connect_failed');
  await waitForJobState(s, job.ts, 'completed');
  // the first attempt did a and failed b; the automatic second attempt did only b, then the rest
  expect(await traceOf(s, job.jobId)).toEqual(['each:a', 'each:b', 'each:b', 'after']);
  const q = s.runtimes[0]!.queue;
  await until(async () => (await q.getJob(job.jobId))?.isCompleted(), 10_000, 'BullMQ state completed');
  expect((await q.getJob(job.jobId))?.attemptsMade).toBe(2);
  expect(await editedStates(s, job.ts)).toContain('retrying');
});
