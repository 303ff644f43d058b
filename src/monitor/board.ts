/**
 * The monitor's board in Redis: what people tell the monitor, and what the monitor shows them. Read and
 * written by the bot (buttons, Home tab), the worker (the monitor plugin's commands) and the monitor:
 *   <prefix>:monitor:maintenance  host → maintenance window (JSON), set by `/flexvdi maintenance`
 *   <prefix>:monitor:ack:<id>     who acknowledged an incident first, and when (kept 30 days)
 *   <prefix>:monitor:view         the leader's latest view of every Host (JSON): written on change, else every 5 s
 *   <prefix>:monitor:home-users   users who opened the app's Home tab, by when (refreshed on change; 30 days)
 *   <prefix>:monitor:workspace-url the workspace's URL (auth.test), for links to alert threads
 * Only the monitor posts in the alert channel: a maintenance window or an acknowledgement written here is
 * picked up by the leading monitor when it next decides (on every tick while a Host is lost, else every 2.5 s),
 * and told (once) in the channel or the incident's thread.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseJson } from '../core/json.js';
import { PROBE_STATES, SIGNALS } from './detector.js';
import { type Incident, incidentSchema, managerViewSchema, monitorKeys } from './incidents.js';

/** How long acknowledgements, and Home users who no longer look, are kept. */
const KEEP_MS = 30 * 86_400_000;

/** Action ids of the buttons on an alert's parent message (handled by the bot). */
export const ALERT_ACTIONS = {
  acknowledge: 'monitor_acknowledge',
  diagnose: 'monitor_diagnose',
  replace: 'monitor_replace',
  /** A command a plugin offers for the lost Host (HostRole.offers), e.g. start the Manager elsewhere. */
  offer: 'monitor_offer',
} as const;

/**
 * The `value` of each button on an alert's parent message: which incident and which Host (a Host's inventory
 * name, or `STORM` for the storm's thread). Written by the monitor, read back by the bot's handlers, which
 * parse it again (a message posted by an older version may carry another shape).
 */
export const alertButtonValueSchema = z
  .object({
    incident: z.string().min(1).max(200),
    host: z.string().min(1).max(253),
    /** An offer's button: the command and the Host it names. */
    run: z.string().min(1).max(60).optional(),
    on: z.string().min(1).max(253).optional(),
  })
  .strict();
export type AlertButtonValue = z.output<typeof alertButtonValueSchema>;

/** The button value for an incident's buttons (well within Slack's 2000 characters). */
export const alertButtonValue = (v: AlertButtonValue): string =>
  JSON.stringify({
    incident: v.incident,
    host: v.host,
    ...(v.run && v.on ? { run: v.run, on: v.on } : {}),
  });

/** The incident and Host a button names, or null when its value is not one of ours. */
export function parseAlertButtonValue(raw: string | undefined): AlertButtonValue | null {
  const p = alertButtonValueSchema.safeParse(parseJson(raw ?? ''));
  return p.success ? p.data : null;
}

export const maintenanceSchema = z.object({
  /** Changes each time the window is set, so a changed window is told again. */
  id: z.string(),
  host: z.string(),
  by: z.string(),
  reason: z.string().nullable(),
  since: z.number(),
  /** When alerting comes back (ended early: set to the moment it was ended). */
  until: z.number(),
  endedBy: z.string().nullable().default(null),
});
export type Maintenance = z.output<typeof maintenanceSchema>;

export const ackSchema = z.object({ by: z.string(), at: z.number() });
export type Ack = z.output<typeof ackSchema>;

export const hostViewSchema = z.object({
  host: z.string(),
  state: z.enum(PROBE_STATES),
  /** When the probe state began (wall clock). */
  since: z.number(),
  failing: z.array(z.enum(SIGNALS)),
  manager: managerViewSchema,
  problem: z.string().nullable(),
});
export type HostView = z.output<typeof hostViewSchema>;

export const viewSchema = z.object({
  updatedAt: z.number(),
  replica: z.string(),
  hosts: z.array(hostViewSchema),
});
export type MonitorView = z.output<typeof viewSchema>;

/** The name under which the storm incident (many Hosts lost at once) is kept beside the Hosts' own. */
export const STORM = '*storm';
/** The name of a Host's maintenance incident (its announcement thread). */
export const maintenanceRecord = (host: string) => `${host}~maintenance`;

export class MonitorBoard {
  private readonly keys: ReturnType<typeof monitorKeys>;
  private readonly workspaceKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = monitorKeys(prefix);
    this.workspaceKey = `${prefix}:monitor:workspace-url`;
  }

  /** Every maintenance window on record (ended ones too, until the monitor has told their end). */
  async maintenance(): Promise<Maintenance[]> {
    const all = await this.redis.hgetall(this.keys.maintenance);
    return Object.values(all)
      .map((raw) => maintenanceSchema.safeParse(parseJson(raw)))
      .flatMap((p) => (p.success ? [p.data] : []))
      .sort((a, b) => a.host.localeCompare(b.host));
  }

  async setMaintenance(m: Maintenance): Promise<void> {
    await this.redis.hset(this.keys.maintenance, m.host, JSON.stringify(m));
  }

  /**
   * Ends a Host's window now (the monitor then tells it and forgets it), atomically: only that window when
   * `id` is given (another admin's newer window is left alone). The window as it was, or null when there was
   * none (or not that one).
   */
  async endMaintenance(host: string, by: string, now: number, id?: string): Promise<Maintenance | null> {
    // The window is rewritten by the script itself (cjson keeps every field; times are exact integers).
    const raw = await this.redis.eval(
      `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local w = cjson.decode(cur)
if ARGV[4] ~= '' and w.id ~= ARGV[4] then return false end
if w['until'] > tonumber(ARGV[3]) then
  w['until'] = tonumber(ARGV[3])
  w.endedBy = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(w))
end
return cur`,
      1,
      this.keys.maintenance,
      host,
      by,
      String(now),
      id ?? '',
    );
    const cur = typeof raw === 'string' ? maintenanceSchema.safeParse(parseJson(raw)) : undefined;
    return cur?.success ? cur.data : null;
  }

  /** Forgets a window whose end was told (only if it is still that window). */
  async forgetMaintenance(m: Maintenance): Promise<void> {
    await this.redis.eval(
      `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).id == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`,
      1,
      this.keys.maintenance,
      m.host,
      m.id,
    );
  }

  /** Records the first acknowledgement of an incident (kept 30 days); a later one answers who was first. */
  async acknowledge(incidentId: string, by: string, at: number): Promise<{ first: boolean; ack: Ack }> {
    const ack: Ack = { by, at };
    const key = this.keys.ack(incidentId);
    const set = await this.redis.set(key, JSON.stringify(ack), 'PX', KEEP_MS, 'NX');
    if (set === 'OK') return { first: true, ack };
    const prev = ackSchema.safeParse(parseJson((await this.redis.get(key)) ?? ''));
    return { first: false, ack: prev.success ? prev.data : ack };
  }

  async acks(incidentIds: readonly string[]): Promise<Map<string, Ack>> {
    const out = new Map<string, Ack>();
    if (!incidentIds.length) return out;
    const raw = await this.redis.mget(...incidentIds.map((id) => this.keys.ack(id)));
    raw.forEach((r, i) => {
      const p = r ? ackSchema.safeParse(parseJson(r)) : undefined;
      if (p?.success) out.set(incidentIds[i]!, p.data);
    });
    return out;
  }

  /**
   * The latest incident of each named record (Hosts, `STORM`, maintenance records), with its thread once
   * posted; unreadable ones skipped.
   */
  async incidents(names: readonly string[]): Promise<Map<string, Incident>> {
    const out = new Map<string, Incident>();
    if (!names.length) return out;
    const raw = await this.redis.mget(...names.map((h) => this.keys.incident(h)));
    raw.forEach((r, i) => {
      const p = r ? incidentSchema.safeParse(parseJson(r)) : undefined;
      if (p?.success) out.set(names[i]!, p.data);
    });
    // The poster records a thread beside the incident (the record itself changes only in transitions).
    const ids = [...out.values()].map((i) => i.id);
    if (ids.length) {
      const ts = await this.redis.mget(...ids.map((id) => this.keys.thread(id)));
      for (const [name, i] of out) {
        const t = ts[ids.indexOf(i.id)];
        if (t && !i.threadTs) out.set(name, { ...i, threadTs: t });
      }
    }
    return out;
  }

  async writeView(v: MonitorView): Promise<void> {
    await this.redis.set(this.keys.view, JSON.stringify(v), 'PX', 86_400_000);
  }

  /** The leader's latest view, or null (no monitor has run, or it does not parse). */
  async view(): Promise<MonitorView | null> {
    const raw = await this.redis.get(this.keys.view);
    const p = raw ? viewSchema.safeParse(parseJson(raw)) : undefined;
    return p?.success ? p.data : null;
  }

  /**
   * The workspace's URL as Slack's auth.test answers it (`https://<team>.slack.com/`), written by the bot at
   * start: thread links are then exactly what chat.getPermalink gives for a top-level message, without a
   * Slack call (the worker's plugins have no Slack client).
   */
  async setWorkspaceUrl(url: string): Promise<void> {
    await this.redis.set(this.workspaceKey, url);
  }

  async workspaceUrl(): Promise<string | null> {
    return this.redis.get(this.workspaceKey);
  }

  /** Remembers that `user` looks at the Home tab (refreshed on change; forgotten after 30 days away). */
  async addHomeUser(user: string, now = Date.now()): Promise<void> {
    await this.redis.zadd(this.keys.homeUsers, now, user);
  }

  async homeUsers(now = Date.now()): Promise<string[]> {
    await this.redis.zremrangebyscore(this.keys.homeUsers, '-inf', now - KEEP_MS);
    return (await this.redis.zrange(this.keys.homeUsers, 0, -1)).sort();
  }
}
