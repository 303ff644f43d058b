/**
 * What happened, as operators read it in Slack: `/flexvdi jobs`, `/flexvdi job <id>` and `/flexvdi audit`
 * (admins only) show the requested → planned → confirmed → completed trail with users and job ids.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { confirmed, until, waitForJobState } from '../support/flow.js';
import { ADMIN, OPS, type Stack, startStack, USER } from '../support/harness.js';

let s: Stack;
let ok: { ts: string; jobId: string };
let bad: { ts: string; jobId: string };
beforeAll(async () => {
  s = await startStack({ tuning: { confirmTtlMs: 60_000 } });
  ok = await confirmed(s, 'test change bi1');
  bad = await confirmed(s, 'test change bi2 --fail-step c');
  await waitForJobState(s, ok.ts, 'completed');
  await waitForJobState(s, bad.ts, 'failed');
  for (const id of [ok.jobId, bad.jobId]) {
    await until(
      async () =>
        ['completed', 'failed'].includes(
          (await (await s.runtimes[0]!.queue.getJob(id))!.getState()) as string,
        ),
      10_000,
      'job end',
    );
  }
});
afterAll(async () => {
  await s?.stop();
});

/** Sends a built-in command and returns the ephemeral reply it produced (via response_url). */
async function ask(text: string, user = ADMIN): Promise<string> {
  const before = s.double.ephemerals(OPS, user).length;
  const res = await s.send(text, { user });
  expect(res.status).toBe(200);
  expect(res.body).toBe(''); // answered after the ack, through response_url
  const reply = await s.double.waitFor(() => s.double.ephemerals(OPS, user)[before]);
  return reply.text;
}

/** Sends a built-in command whose arguments are wrong: the error is the ack's own body (nothing else runs). */
async function rejected(text: string, user = ADMIN): Promise<string> {
  const before = s.double.ephemerals(OPS, user).length;
  const res = await s.send(text, { user });
  expect(res.status).toBe(200);
  const body = JSON.parse(res.body) as { text?: string; response_type?: string };
  expect(body.response_type).toBe('ephemeral');
  expect(s.double.ephemerals(OPS, user)).toHaveLength(before);
  return body.text ?? '';
}

it('/flexvdi jobs lists recent run jobs with their state, command and requester (anyone may read)', async () => {
  const text = await ask('jobs', USER);
  expect(text).toContain('*Recent jobs*');
  const line = (id: string) => text.split('\n').find((l) => l.includes(`\`${id}\``)) ?? '';
  expect(line(ok.jobId)).toMatch(/completed .*`\/flexvdi test change bi1` by <@U0ADMIN01>/);
  expect(line(bad.jobId)).toMatch(/failed .*`\/flexvdi test change bi2 --fail-step c` by <@U0ADMIN01>/);
  // plan jobs are not listed
  expect(text).not.toMatch(/`p-/);
});

it('/flexvdi job <id> shows the steps and the outcome', async () => {
  const good = await ask(`job ${ok.jobId}`);
  expect(good).toContain(`\`${ok.jobId}\` completed`);
  expect(good).toContain('✅ Step A');
  expect(good).toContain('✅ Step C');
  expect(good).toContain('Result: changed (a,b,c) with SHA256:pin-bi1');
  const failed = await ask(`job ${bad.jobId}`);
  expect(failed).toContain(`\`${bad.jobId}\` failed`);
  expect(failed).toContain('❌ Step C');
  expect(failed).toContain('Failed: test.boom');
  expect(await ask('job j-doesnotexist1')).toContain('No job `j-doesnotexist1`');
  expect(await rejected('job ../../etc')).toContain('Give a job id');
});

it('/flexvdi audit (admins only) shows the trail with users and job ids; non-admins are refused', async () => {
  expect(await ask('audit', USER)).toBe('Only flexVDI admins can read the audit trail.');
  const text = await ask('audit 50');
  const lines = text.split('\n');
  const has = (outcome: string, cmd: string, jobId?: string) =>
    lines.some(
      (l) =>
        l.includes(`<@${ADMIN}> ${outcome} \`${cmd}\``) &&
        (jobId === undefined || l.includes(`job \`${jobId}\``)),
    );
  expect(has('requested', 'test change bi1')).toBe(true);
  expect(has('planned', 'test change bi1')).toBe(true);
  expect(has('confirmed', 'test change bi1', ok.jobId)).toBe(true);
  expect(has('completed', 'test change bi1', ok.jobId)).toBe(true);
  expect(has('confirmed', 'test change bi2 --fail-step c', bad.jobId)).toBe(true);
  expect(has('failed', 'test change bi2 --fail-step c', bad.jobId)).toBe(true);
  // newest first: completion after confirmation after planning after the request
  const at = (outcome: string) => lines.findIndex((l) => l.includes(`${outcome} \`test change bi1\``));
  expect(at('completed')).toBeLessThan(at('confirmed'));
  expect(at('confirmed')).toBeLessThan(at('planned'));
  expect(at('planned')).toBeLessThan(at('requested'));
  // a mutating command refused to a non-admin is in the trail too
  const refused = await s.send('test change bi3', { user: USER });
  expect((JSON.parse(refused.body) as { text: string }).text).toContain(
    'Only flexVDI admins can run this command',
  );
  await until(
    async () => (await ask('audit 5')).includes(`<@${USER}> refused \`test change bi3\``),
    10_000,
    'refusal in the audit',
  );
});
