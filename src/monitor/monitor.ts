/**
 * The heartbeat monitor: a probe per inventory Host, the detector on every tick, and — on the replica that
 * holds the leader lease — incidents reconciled with what the detector says and their events posted in order.
 *
 * Reconciling is level-triggered: each tick compares every Host's health with its stored incident and makes
 * the one transition that brings them together (open, reopen within the flap window, signals changed,
 * recovering, relapsed, resolved). A restarted monitor, or a replica taking over, therefore picks up where the
 * last one stopped: the same incident, the same thread, nothing posted twice.
 */
import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, InventoryHost } from '../config.js';
import type { ManagerClient } from '../manager/index.js';
import { loadKey } from '../ssh/index.js';
import { assess, type Health, initialHealth, same } from './detector.js';
import { type EventKind, type Incident, IncidentStore, type ManagerView, monitorKeys } from './incidents.js';
import { Poster } from './poster.js';
import { type HostProbe, startProbe } from './probe.js';

const TICK_MS = 200;

export interface MonitorDeps {
  config: Config;
  redis: Redis;
  slack: WebClient;
  manager: ManagerClient | undefined;
  log: Logger;
  /** This replica's id (default: random). */
  id?: string;
}

export interface Monitor {
  readonly id: string;
  /** The detector's view of a Host now. */
  health(host: string): Health | undefined;
  /** True while this replica holds the leader lease. */
  readonly leading: boolean;
  stop(): Promise<void>;
}

/** The transition that brings a Host's incident in line with its health, if one is needed. */
export function reconcile(
  h: Health,
  inc: Incident | undefined,
  now: number,
  o: { host: string; channel: string; recoverAfterMs: number; flapWindowMs: number },
): { kind: EventKind; next: Omit<Incident, 'version'> } | undefined {
  const open = inc?.state === 'open' ? inc : undefined;
  if (h.state === 'lost') {
    if (!open) {
      if (inc && inc.resolvedAt !== null && now - inc.resolvedAt < o.flapWindowMs)
        return {
          kind: 'reopened',
          next: {
            ...inc,
            state: 'open',
            phase: 'lost',
            lostAt: h.lostAt ?? now,
            resolvedAt: null,
            failing: h.failing,
            flaps: inc.flaps + 1,
          },
        };
      const lostAt = h.lostAt ?? now;
      return {
        kind: 'opened',
        next: {
          id: `${o.host}-${lostAt.toString(36)}`,
          host: o.host,
          state: 'open',
          phase: 'lost',
          openedAt: lostAt,
          lostAt,
          resolvedAt: null,
          failing: h.failing,
          flaps: 0,
          channel: o.channel,
          threadTs: null,
        },
      };
    }
    if (open.phase === 'recovering')
      return { kind: 'relapsed', next: { ...open, phase: 'lost', failing: h.failing } };
    if (h.failing.length && !same(h.failing, open.failing))
      return { kind: 'signals', next: { ...open, failing: h.failing } };
    return undefined;
  }
  if (!open) return undefined;
  if (h.state === 'healthy' && h.okSince !== null && now - h.okSince >= o.recoverAfterMs)
    return { kind: 'resolved', next: { ...open, state: 'resolved', phase: 'lost', resolvedAt: now } };
  if ((h.state === 'recovering' || h.state === 'healthy') && open.phase === 'lost')
    return { kind: 'recovering', next: { ...open, phase: 'recovering' } };
  return undefined;
}

export async function startMonitor(d: MonitorDeps): Promise<Monitor> {
  const { config, log } = d;
  const inv = config.inventory;
  const t = inv.monitor;
  const channel = inv.slack.alertChannel;
  if (!channel) throw new Error('the monitor needs slack.alertChannel in the inventory');
  const id = d.id ?? randomUUID();
  const mlog = log.child({ component: 'monitor', replica: id.slice(0, 8) });
  const store = new IncidentStore(d.redis, monitorKeys(inv.jobs.prefix), id, (what) => mlog.error(what));
  const poster = new Poster({ config, store, slack: d.slack, log: mlog });
  let key: Promise<Buffer> | undefined;
  const loadPrivateKey = () => {
    key ??= loadKey(inv.ssh.privateKeyPath);
    return key;
  };
  const hosts: InventoryHost[] = inv.hosts;
  const probes = new Map<string, HostProbe>();
  const health = new Map<string, Health>();
  // Detection runs on the monotonic clock; incidents show wall-clock times, converted at the edge.
  const mono = () => performance.now();
  const toWall = (m: number) => Date.now() - (mono() - m);
  // A Host gets its first connection's handshake time before its silence counts.
  const start = mono() + t.connectTimeoutMs;
  for (const h of hosts) {
    probes.set(
      h.name,
      startProbe({
        target: { name: h.name, host: h.ip, port: h.port, fqdn: h.fqdn },
        user: inv.ssh.user,
        knownHostsPath: inv.ssh.knownHostsPath,
        loadPrivateKey,
        heartbeatMs: t.heartbeatMs,
        connectTimeoutMs: t.connectTimeoutMs,
        staleAfterMs: t.lostAfterMs,
        log: mlog,
      }),
    );
    health.set(h.name, initialHealth(start));
  }

  const managerView = new Map<string, ManagerView>();
  let polling = false;
  const pollManager = async () => {
    if (!d.manager || polling) return;
    polling = true;
    try {
      const list = await d.manager.listHosts();
      const byId = new Map(list.map((x) => [x.hostId.toLowerCase(), x]));
      for (const h of hosts) {
        const x = byId.get(h.fqdn.toLowerCase());
        managerView.set(
          h.name,
          x
            ? { status: x.status, lastHeartbeat: x.lastHeartbeat }
            : { status: 'does not list it', lastHeartbeat: null },
        );
      }
    } catch (err) {
      mlog.warn({ err: (err as Error).message }, 'the Manager could not be read');
      for (const h of hosts) managerView.set(h.name, null);
    } finally {
      polling = false;
    }
  };
  void pollManager();
  const managerTimer = setInterval(() => void pollManager(), t.managerPollMs);

  let leading = false;
  let stopped = false;
  // The lease is renewed on its own beat, whatever deciding and posting are doing.
  const renew = async () => {
    try {
      const was = leading;
      leading = await store.lead(t.leaseMs);
      if (leading !== was) mlog.info({ leading }, leading ? 'leading: deciding and posting' : 'standing by');
    } catch (err) {
      leading = false;
      mlog.warn({ err: (err as Error).message }, 'cannot reach Redis for the leader lease; probing goes on');
    }
  };
  await renew();
  const leaseTimer = setInterval(() => void renew(), Math.max(200, Math.floor(t.leaseMs / 3)));

  /** The leader's work of the current tick (deciding and posting), while it runs. */
  let inFlight: Promise<void> | undefined;
  const decide = async () => {
    try {
      if (!leading) return;
      const incidents = await store.incidents(hosts.map((h) => h.name));
      for (const h of hosts) {
        const hh = health.get(h.name)!;
        const wall = {
          ...hh,
          lostAt: hh.lostAt === null ? null : toWall(hh.lostAt),
          okSince: hh.okSince === null ? null : toWall(hh.okSince),
        };
        const now = Date.now();
        const change = reconcile(wall, incidents.get(h.name), now, {
          host: h.name,
          channel,
          recoverAfterMs: t.recoverAfterMs,
          flapWindowMs: t.flapWindowMs,
        });
        if (!change) continue;
        const r = await store.transition(incidents.get(h.name), change.next, {
          kind: change.kind,
          host: h.name,
          incidentId: change.next.id,
          at: now,
          manager: managerView.get(h.name) ?? null,
          problem: change.kind === 'resolved' ? null : (probes.get(h.name)?.problem ?? null),
        });
        mlog.info(
          { host: h.name, event: change.kind, incident: change.next.id, result: r },
          'incident transition',
        );
        if (r === 'not-leader') return;
      }
      await poster.drain();
    } catch (err) {
      mlog.warn({ err: (err as Error).message }, 'monitor tick failed; probing goes on');
    }
  };
  const assessAll = () => {
    for (const [name, p] of probes) {
      const { next, transition } = assess(health.get(name)!, p.observe(), t);
      health.set(name, next);
      if (transition) mlog.info({ host: name, ...transition, problem: p.problem }, `host ${transition.kind}`);
    }
    // Probing never waits for Redis or Slack: a slow decision only delays the next one.
    if (inFlight || stopped) return;
    inFlight = decide().finally(() => {
      inFlight = undefined;
    });
  };
  // Assessed after pending input is read (setImmediate runs after the poll phase): when this process's own
  // event loop stalled, the heartbeats that did arrive meanwhile count before any silence is judged.
  const tick = () => setImmediate(assessAll);
  const timer = setInterval(tick, TICK_MS);
  mlog.info({ hosts: hosts.length, channel, thresholds: t }, 'monitor started');

  return {
    id,
    health: (host) => health.get(host),
    get leading() {
      return leading;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(leaseTimer);
      clearInterval(managerTimer);
      await inFlight;
      await Promise.all([...probes.values()].map((p) => p.close()));
      if (leading) await store.release().catch(() => {});
      mlog.info('monitor stopped');
    },
  };
}
