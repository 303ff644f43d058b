/**
 * Every write a job makes to a Host is preceded by a check that the job still holds its Host lock. A job
 * whose lease was taken over by another job does not write — even when its step ignores the abort signal
 * and its renewal timer has not fired yet — then waits for the Host and resumes. The Hosts' SSH is a fake
 * pool here (it records writes in Redis); locks and the engine are real, on real Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { SshPool } from '../../src/ssh/index.js';
import { confirmed, until, waitForJobRecord, waitForJobState } from '../support/flow.js';
import { type Stack, startStack } from '../support/harness.js';
import { traceOf } from './helpers.js';

let s: Stack;
const writes = new Redis(inject('redisUrl'));
let writesKey = '';

const fakeSsh: SshPool = {
  exec: async () => ({ code: 0, signal: null, stdout: '', stderr: '', ms: 0 }),
  probeHostKey: async () => {
    throw new Error('not used');
  },
  writeFileAtomic: async (t, path) => {
    await writes.rpush(writesKey, `${t.name}:${path}`);
    return { changed: true, backupPath: undefined };
  },
  readFile: async () => null,
  stats: () => [],
  close: async () => {},
};

beforeAll(async () => {
  s = await startStack({ services: { ssh: fakeSsh } });
  writesKey = `${s.prefix}:fake-writes`;
});
afterAll(async () => {
  await s?.stop();
  writes.disconnect();
});

it('a job that lost its Host lock does not write; it waits for the Host and writes once it has it back', async () => {
  const { ts, jobId } = await confirmed(s, 'test change fx1 --write');
  await until(async () => (await traceOf(s, jobId)).includes('b:start'), 20_000, 'step b to start');
  // another job holds the Host now (as after a lapsed lease); then step b goes on to write
  const intruder = 'j-intruder00:999999';
  await s.redis.set(`${s.prefix}:lock:host:fx1`, intruder, 'PX', 60_000);
  await s.redis.set(`${s.prefix}:lock:host:fx1:last`, intruder, 'EX', 600);
  await s.redis.set(`${s.traceKey}:go:${jobId}`, '1');
  await waitForJobRecord(
    s,
    ts,
    (r) => r.state === 'waiting' && Boolean(r.note?.mrkdwn.includes('j-intruder00')),
    'waiting for the intruder',
  );
  expect(await writes.lrange(writesKey, 0, -1)).toEqual([]);
  expect(await traceOf(s, jobId)).toEqual(['a:start', 'a:done', 'b:start']);
  expect(await s.redis.get(`${s.prefix}:lock:host:fx1`)).toBe(intruder);

  await s.redis.del(`${s.prefix}:lock:host:fx1`, `${s.prefix}:lock:host:fx1:last`);
  await until(
    async () => (await traceOf(s, jobId)).filter((t) => t === 'b:start').length === 2,
    20_000,
    'b again',
  );
  await s.redis.set(`${s.traceKey}:go:${jobId}`, '1');
  await waitForJobState(s, ts, 'completed');
  expect(await writes.lrange(writesKey, 0, -1)).toEqual(['fx1:/etc/flexvdi-test']);
  expect(await traceOf(s, jobId)).toEqual([
    'a:start',
    'a:done',
    'b:start',
    'b:start',
    'b:wrote',
    'b:done',
    'c:start',
    'c:done',
  ]);
});
