/**
 * The bot's enqueuer (src/bot/enqueuer.ts) with a stand-in queue and audit log: commands acked during a burst
 * go out together once the burst is over; each command's promise has its own outcome; drain sends the rest.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type EnqueueRequest, Enqueuer } from '../../src/bot/enqueuer.js';
import type { AuditLog } from '../../src/jobs/audit.js';
import type { FlexQueue } from '../../src/jobs/queue.js';

interface Calls {
  add: string[];
  bulk: string[][];
  audited: string[][];
}

function fakes(o: { failBulk?: boolean; fail?: Set<string> } = {}) {
  const calls: Calls = { add: [], bulk: [], audited: [] };
  const queue = {
    add: async (_name: string, _data: unknown, opts: { jobId: string }) => {
      calls.add.push(opts.jobId);
      if (o.fail?.has(opts.jobId)) throw new Error(`cannot add ${opts.jobId}`);
    },
    addBulk: async (jobs: { opts: { jobId: string } }[]) => {
      calls.bulk.push(jobs.map((j) => j.opts.jobId));
      if (o.failBulk) throw new Error('pipeline failed');
    },
  } as unknown as FlexQueue;
  const audit = {
    recordOnceMany: async (items: { record: { jobId?: string } }[]) => {
      calls.audited.push(items.map((i) => i.record.jobId ?? ''));
      return items.length;
    },
  } as unknown as AuditLog;
  return { calls, queue, audit };
}

const req = (jobId: string): EnqueueRequest => ({
  name: 'hosts',
  data: {
    phase: 'run',
    text: 'hosts',
    args: {},
    requester: 'U0ADMIN01',
    isAdmin: true,
    channel: 'C0OPS0001',
  },
  jobId,
  audit: { marker: `m:${jobId}`, user: 'U0ADMIN01', command: 'hosts', channel: 'C0OPS0001' },
});

const settings = { attempts: 3, backoffMs: 100 };

/** The enqueuer's clock (setTimeout, performance.now) under the test's control: no test depends on load. */
const fakeClock = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

describe('Enqueuer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a command alone is added on its own (queue.add) once its request is answered, and audited', async () => {
    const f = fakes();
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings, quietMs: 5 });
    e.requestStarted();
    const done = e.enqueue(req('j-one'));
    e.requestEnded();
    await done;
    expect(f.calls.add).toEqual(['j-one']);
    expect(f.calls.bulk).toEqual([]);
    // the audit is written after the job is added, without holding up the command
    await vi.waitFor(() => expect(f.calls.audited).toEqual([['j-one']]));
  });

  it('commands acked while requests keep arriving wait for the burst to end, then go in one addBulk', async () => {
    fakeClock();
    const f = fakes();
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings, quietMs: 20, maxDelayMs: 1000 });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      e.requestStarted();
      all.push(e.enqueue(req(`j-b${i}`)));
      e.requestEnded();
      await vi.advanceTimersByTimeAsync(15); // less than the quiet time: the burst goes on
      expect(f.calls.add.length + f.calls.bulk.length).toBe(0);
    }
    await vi.advanceTimersByTimeAsync(5); // 20 ms quiet
    await Promise.all(all);
    expect(f.calls.bulk).toEqual([['j-b0', 'j-b1', 'j-b2', 'j-b3', 'j-b4']]);
    expect(f.calls.add).toEqual([]);
  });

  it('waits no longer than maxDelayMs while requests are still in flight', async () => {
    fakeClock();
    const f = fakes();
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings, quietMs: 5, maxDelayMs: 40 });
    e.requestStarted(); // a request that is never answered
    const done = e.enqueue(req('j-late'));
    await vi.advanceTimersByTimeAsync(39);
    expect(f.calls.add).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(f.calls.add).toEqual(['j-late']);
  });

  it('a batch that fails is added one job at a time: each command gets its own outcome', async () => {
    const f = fakes({ failBulk: true, fail: new Set(['j-bad']) });
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings, quietMs: 5 });
    e.requestStarted();
    const pending = Promise.allSettled(['j-a', 'j-bad', 'j-c'].map((id) => e.enqueue(req(id))));
    e.requestEnded();
    const results = await pending;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(f.calls.bulk).toEqual([['j-a', 'j-bad', 'j-c']]);
    expect(f.calls.add.sort()).toEqual(['j-a', 'j-bad', 'j-c']);
    // only what was added is audited as requested
    await vi.waitFor(() => expect(f.calls.audited).toEqual([['j-a', 'j-c']]));
  });

  it('without an HTTP server (Socket Mode) a command is added at once', async () => {
    const f = fakes();
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings });
    await Promise.all([e.enqueue(req('j-s1')), e.enqueue(req('j-s2'))]);
    expect(f.calls.add).toEqual(['j-s1', 'j-s2']);
  });

  it('drain sends what is pending at once (the bot is stopping)', async () => {
    fakeClock();
    const f = fakes();
    const e = new Enqueuer({ queue: f.queue, audit: f.audit, settings, quietMs: 10_000, maxDelayMs: 10_000 });
    e.requestStarted();
    const p = e.enqueue(req('j-pending'));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(f.calls.add).toEqual([]);
    await e.drain();
    await p;
    expect(f.calls.add).toEqual(['j-pending']);
  });
});
