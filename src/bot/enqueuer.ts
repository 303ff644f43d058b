/**
 * The bot's enqueues, after the ack. A burst of slash commands is acked first and enqueued after: an enqueue
 * (BullMQ builds and packs the job, a script call to Redis, its reply, the audit record) costs the bot more
 * CPU than the ack itself, and spent between two requests of a burst it delays every ack still to come.
 * So an acked command waits until no HTTP request is being handled and none has started for `quietMs`
 * (a burst's requests are handled one after the other, about a millisecond apart: the quiet says it is
 * over), at most `maxDelayMs`, then goes to Redis with the others that waited: one pipeline of job adds
 * (BullMQ addBulk), one script call for their audit records. A command that arrives alone is enqueued
 * `quietMs` after its request started, a few ms after its ack.
 *
 * Same guarantees as one add per command: deterministic job ids (a redelivery is a no-op add), each
 * command's promise settles with its own outcome (a batch that fails is retried one job at a time, so one
 * bad job cannot fail the others), and `drain()` sends whatever is pending before the bot stops.
 */
import type { AuditLog } from '../jobs/audit.js';
import {
  type FlexQueue,
  type JobEnvelope,
  type JobName,
  jobOptions,
  type QueueSettings,
} from '../jobs/queue.js';

export interface EnqueueRequest {
  name: JobName;
  data: JobEnvelope;
  jobId: string;
  /** The "requested" audit record, kept once per job id under this marker key. */
  audit: { marker: string; user: string; command: string; channel: string };
}

interface Pending {
  req: EnqueueRequest;
  resolve(): void;
  reject(err: unknown): void;
}

export interface EnqueuerOptions {
  queue: FlexQueue;
  audit: AuditLog;
  settings: QueueSettings;
  /** How long no request may have started before the pending commands are sent (default 10 ms). */
  quietMs?: number;
  /** The longest a command waits for a quiet moment before it is enqueued anyway (default 250 ms). */
  maxDelayMs?: number;
}

const AUDIT_MARKER_TTL_S = 86_400;

export class Enqueuer {
  readonly #o: Required<EnqueuerOptions>;
  #pending: Pending[] = [];
  #oldest = 0;
  #inFlight = 0;
  #lastStart = 0;
  #timer: NodeJS.Timeout | undefined;
  #sending = new Set<Promise<void>>();

  constructor(o: EnqueuerOptions) {
    this.#o = { quietMs: 10, maxDelayMs: 250, ...o };
  }

  /** Resolves once the job is in the queue (or was already: same job id); rejects when it could not be added. */
  enqueue(req: EnqueueRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.#pending.length) this.#oldest = performance.now();
      this.#pending.push({ req, resolve, reject });
      // An armed timer looks again anyway (and requestEnded() when the last request is answered).
      if (!this.#timer) this.#check();
    });
  }

  /** The HTTP server's requests (all of them: a burst is the requests, not only the commands). */
  requestStarted(): void {
    this.#inFlight++;
    this.#lastStart = performance.now();
  }

  requestEnded(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    if (this.#inFlight === 0 && this.#pending.length) this.#check();
  }

  /** Sends everything pending now and waits for every send under way (before the bot stops). */
  async drain(): Promise<void> {
    this.#send();
    await Promise.allSettled([...this.#sending]);
  }

  /** Sends when the burst is over (or the oldest waited long enough); else looks again when it may be. */
  #check(): void {
    if (!this.#pending.length) return;
    const now = performance.now();
    const waited = now - this.#oldest;
    const quietFor = now - this.#lastStart;
    const quiet = this.#o.quietMs;
    if (waited >= this.#o.maxDelayMs || (this.#inFlight === 0 && quietFor >= quiet)) {
      this.#send();
      return;
    }
    // Requests in flight: requestEnded() looks again when the last is answered; the timer bounds the wait.
    const next =
      this.#inFlight > 0
        ? this.#o.maxDelayMs - waited
        : Math.min(this.#o.maxDelayMs - waited, quiet - quietFor);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#check();
      },
      Math.max(1, next),
    );
  }

  #send(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (!batch.length) return;
    const sending = this.#add(batch).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #add(batch: Pending[]): Promise<void> {
    const { queue, settings } = this.#o;
    const opts = (r: EnqueueRequest) => jobOptions(r.jobId, settings, r.data.phase);
    const addOne = async (p: Pending): Promise<Pending | undefined> => {
      try {
        await queue.add(p.req.name, p.req.data, opts(p.req));
        return p;
      } catch (err) {
        p.reject(err);
        return undefined;
      }
    };
    let added: Pending[];
    if (batch.length === 1) {
      added = (await addOne(batch[0]!)) ? batch : [];
    } else {
      try {
        await queue.addBulk(batch.map((p) => ({ name: p.req.name, data: p.req.data, opts: opts(p.req) })));
        added = batch;
      } catch {
        // One at a time: each command gets its own outcome (ids are deterministic: a job the batch did add
        // is a no-op add now).
        added = (await Promise.all(batch.map(addOne))).filter((p): p is Pending => p !== undefined);
      }
    }
    for (const p of added) p.resolve();
    if (added.length) await this.#record(added).catch(() => {});
  }

  /** The "requested" records of the jobs just added, once per job id, in one round trip. */
  async #record(added: Pending[]): Promise<void> {
    await this.#o.audit.recordOnceMany(
      added.map(({ req }) => ({
        marker: req.audit.marker,
        record: {
          user: req.audit.user,
          command: req.audit.command,
          channel: req.audit.channel,
          outcome: 'requested',
          jobId: req.jobId,
        },
      })),
      AUDIT_MARKER_TTL_S,
    );
  }
}
