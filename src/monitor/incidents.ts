/**
 * Incidents and what the monitor owes Slack, in Redis, changed only by the leader (one monitor replica at a
 * time holds the lease; the others probe and wait):
 *   <prefix>:monitor:leader          the leader's id, with a TTL it renews
 *   <prefix>:monitor:incident:<host> the Host's latest incident (JSON), with a version
 *   <prefix>:monitor:outbox          the events still to post, in order (JSON list)
 *   <prefix>:monitor:seq             event sequence numbers
 * A transition (the incident's new value and the event to post) is one Lua script that checks the lease and
 * the version: two replicas, or a replica that lost its lease while deciding, can never both write, and an
 * event is queued exactly when its incident changes. The poster then empties the outbox in order.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseJson } from '../core/json.js';
import { hostOfferSchema } from '../core/plugin.js';
import { mdSchema } from '../core/text.js';
import { SIGNALS } from './detector.js';
import { ATTEMPT, DELIVERED, LEASE, TRANSITION } from './incident-scripts.js';

export const incidentSchema = z.object({
  id: z.string(),
  host: z.string(),
  state: z.enum(['open', 'resolved']),
  /** While open: still lost, or answering again and being watched before it is resolved. */
  phase: z.enum(['lost', 'recovering']),
  openedAt: z.number(),
  /** The latest loss (a reopened incident's is later than openedAt). */
  lostAt: z.number(),
  resolvedAt: z.number().nullable(),
  failing: z.array(z.enum(SIGNALS)),
  /** Losses after a recovery within the flap window, folded into this incident. */
  flaps: z.number().int(),
  channel: z.string(),
  /** The parent message, once posted. */
  threadTs: z.string().nullable(),
  /** A Host's own incident, a storm (many Hosts lost at once: one thread), or a Host's maintenance window. */
  kind: z.enum(['host', 'storm', 'maintenance']).default('host'),
  /** A storm's Hosts lost now. */
  hosts: z.array(z.string()).default([]),
  /** Who acknowledged it (reminders stop). */
  ack: z.object({ by: z.string(), at: z.number() }).nullable().default(null),
  /** The latest "still lost" reminder in the thread. */
  remindedAt: z.number().nullable().default(null),
  /** A maintenance window's who, why and until when. */
  maintenance: z
    .object({
      id: z.string(),
      by: z.string(),
      reason: z.string().nullable(),
      until: z.number(),
      endedBy: z.string().nullable().default(null),
    })
    .nullable()
    .default(null),
  /** Opened and resolved after the fact: the loss happened while the monitor could not reach Redis. */
  toldLate: z.boolean().default(false),
  version: z.number().int(),
});
export type Incident = z.output<typeof incidentSchema>;

export const EVENT_KINDS = [
  'opened',
  'signals',
  'recovering',
  'relapsed',
  'resolved',
  'reopened',
  'acknowledged',
  'reminder',
  /** A maintenance window extended, shortened or given another reason. */
  'changed',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What the Manager said about the Host when the event happened (shown; null when it could not be read). */
export const managerViewSchema = z
  .object({ status: z.string(), lastHeartbeat: z.string().nullable() })
  .nullable();
export type ManagerView = z.output<typeof managerViewSchema>;

/** A Host's role as the plugins tell it (escaped when made), with what happens how long after a loss. */
export const lostRoleSchema = z.object({
  role: mdSchema,
  onLoss: z.array(z.object({ afterMs: z.number(), what: mdSchema })).default([]),
  /** Commands the alert offers as buttons (see HostRole.offers). */
  offers: z.array(hostOfferSchema).default([]),
});
export type LostRole = z.input<typeof lostRoleSchema>;

export const eventSchema = z.object({
  seq: z.number().int(),
  kind: z.enum(EVENT_KINDS),
  host: z.string(),
  incidentId: z.string(),
  at: z.number(),
  /** The incident as this event left it. */
  incident: incidentSchema,
  manager: managerViewSchema,
  /** Why the monitor cannot reach the Host, in words (e.g. a changed host key), when it knows. */
  problem: z.string().nullable().default(null),
  /** What the Host does that matters when it is lost (e.g. an OCFS2 node, and when the cluster fences it). */
  roles: z.array(lostRoleSchema).default([]),
});
export type MonitorEvent = z.output<typeof eventSchema>;

export const monitorKeys = (prefix: string) => ({
  leader: `${prefix}:monitor:leader`,
  incident: (host: string) => `${prefix}:monitor:incident:${host}`,
  outbox: `${prefix}:monitor:outbox`,
  seq: `${prefix}:monitor:seq`,
  attempt: (seq: number) => `${prefix}:monitor:attempt:${seq}`,
  /** An incident's thread ts (kept 30 days after its last event), so its late events find their thread. */
  thread: (incidentId: string) => `${prefix}:monitor:thread:${incidentId}`,
  /** Events Slack refused for good (channel gone, bot not in it…), with the error: looked at by people. */
  dead: `${prefix}:monitor:dead`,
  /** The board (src/monitor/board.ts): what people tell the monitor and what it shows them. */
  maintenance: `${prefix}:monitor:maintenance`,
  ack: (incidentId: string) => `${prefix}:monitor:ack:${incidentId}`,
  view: `${prefix}:monitor:view`,
  homeUsers: `${prefix}:monitor:home-users`,
});
export type MonitorKeys = ReturnType<typeof monitorKeys>;

export class IncidentStore {
  #cue = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: MonitorKeys,
    readonly id: string,
    /** Told of every record or event dropped because it could not be read (the monitor logs it as an error). */
    private readonly onDropped?: (what: string) => void,
  ) {}

  /** Takes or renews the leader lease; true while this replica leads. */
  async lead(leaseMs: number): Promise<boolean> {
    const r = await this.redis.eval(LEASE, 1, this.keys.leader, this.id, String(leaseMs));
    // Taken while free: whoever led meanwhile (another replica, or this one before a stall) may have left
    // events to post. Decided by Redis, not by what this process remembers.
    if (r === 2) this.#cue++;
    return r === 1 || r === 2;
  }

  /**
   * Moves each time this store queued an event or took the lead. Only the leader queues events, so a poster
   * that found the outbox empty need not read it again until the cue moved (Poster.pending).
   */
  get cue(): number {
    return this.#cue;
  }

  async release(): Promise<void> {
    await this.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      this.keys.leader,
      this.id,
    );
  }

  /** The latest incident of each Host (absent: none yet). A value that no longer validates counts as none. */
  async incidents(hosts: readonly string[]): Promise<Map<string, Incident>> {
    const out = new Map<string, Incident>();
    if (!hosts.length) return out;
    const raw = await this.redis.mget(...hosts.map((h) => this.keys.incident(h)));
    const invalid: string[] = [];
    raw.forEach((r, i) => {
      if (!r) return;
      const parsed = incidentSchema.safeParse(parseJson(r));
      if (parsed.success) out.set(hosts[i]!, parsed.data);
      else invalid.push(this.keys.incident(hosts[i]!));
    });
    // A record this version cannot read (written by another version) would block the Host's transitions
    // for ever: it is dropped, said in the log, and the Host starts afresh.
    if (invalid.length) {
      await this.redis.del(...invalid);
      this.onDropped?.(`unreadable incident records dropped: ${invalid.join(', ')}`);
    }
    return out;
  }

  /**
   * Writes the Host's incident and queues the event, if this replica leads and nobody changed the incident
   * since `expected` was read. The event's seq is assigned in Redis.
   */
  async transition(
    name: string,
    expected: Incident | undefined,
    next: Omit<Incident, 'version'>,
    event: Omit<MonitorEvent, 'seq' | 'incident' | 'problem' | 'roles'> & {
      problem?: string | null;
      roles?: LostRole[];
    },
  ): Promise<'ok' | 'not-leader' | 'conflict'> {
    const incident: Incident = { ...next, version: (expected?.version ?? -1) + 1 };
    const queued = { seq: 0, ...event, problem: event.problem ?? null, roles: event.roles ?? [], incident };
    const r = await this.redis
      .eval(
        TRANSITION,
        4,
        this.keys.leader,
        this.keys.incident(name),
        this.keys.outbox,
        this.keys.seq,
        this.id,
        String(expected?.version ?? -1),
        JSON.stringify(incident),
        JSON.stringify(queued),
      )
      .finally(() => {
        // Whatever the answer (even none: the script may have run with its reply lost), the outbox may
        // have grown; moved after the script, so a poster that read the outbox meanwhile looks again.
        this.#cue++;
      });
    return z.enum(['ok', 'not-leader', 'conflict']).parse(r);
  }

  /** The next event to post (null when the outbox is empty; an event that no longer validates is dropped). */
  async head(): Promise<MonitorEvent | null> {
    for (;;) {
      const raw = await this.redis.lindex(this.keys.outbox, 0);
      if (!raw) return null;
      const parsed = eventSchema.safeParse(parseJson(raw));
      if (parsed.success) return parsed.data;
      await this.redis.lrem(this.keys.outbox, 1, raw);
      this.onDropped?.(`unreadable alert event dropped: ${raw.slice(0, 200)}`);
    }
  }

  /**
   * Marks the head event as being posted by this replica, if it leads with at least `marginMs` of its lease
   * left (so a post never starts just before the lease could pass to another replica). Answers the earlier
   * attempt (who, when) when there was one, `null` when none, or 'not-leader'.
   */
  async attempting(
    seq: number,
    now: number,
    marginMs: number,
  ): Promise<{ by: string; at: number } | null | 'not-leader'> {
    const r = String(
      await this.redis.eval(
        ATTEMPT,
        2,
        this.keys.leader,
        this.keys.attempt(seq),
        this.id,
        String(now),
        String(marginMs),
      ),
    );
    if (r === 'not-leader') return r;
    if (r === '') return null;
    const [by = '', at = '0'] = r.split('|');
    return { by, at: Number(at) };
  }

  /** The head event is posted: dequeue it (and record the thread of an opened incident). */
  async delivered(e: MonitorEvent, threadTs: string | null): Promise<'ok' | 'not-leader' | 'not-head'> {
    const r = await this.redis.eval(
      DELIVERED,
      4,
      this.keys.leader,
      this.keys.outbox,
      this.keys.attempt(e.seq),
      this.keys.thread(e.incidentId),
      this.id,
      String(e.seq),
      threadTs ?? '',
    );
    return z.enum(['ok', 'not-leader', 'not-head']).parse(r);
  }

  /** The thread of an incident, once its parent is posted. */
  async threadOf(incidentId: string): Promise<string | null> {
    return this.redis.get(this.keys.thread(incidentId));
  }

  /** Slack refused the head event for good: it moves to the dead list (with why), so the rest can go. */
  async deadLetter(e: MonitorEvent, error: string): Promise<'ok' | 'not-leader' | 'not-head'> {
    const r = await this.redis.eval(
      `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'not-leader' end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head or cjson.decode(head).seq ~= tonumber(ARGV[2]) then return 'not-head' end
redis.call('LPOP', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -1000, -1)
return 'ok'`,
      3,
      this.keys.leader,
      this.keys.outbox,
      this.keys.dead,
      this.id,
      String(e.seq),
      JSON.stringify({ event: e, error, at: Date.now() }),
    );
    return z.enum(['ok', 'not-leader', 'not-head']).parse(r);
  }

  async outboxLength(): Promise<number> {
    return this.redis.llen(this.keys.outbox);
  }
}
