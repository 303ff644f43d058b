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
import { ReadGate } from '../ssh/read-gate.js';
import { type AutoRun, dueAutoRuns } from './auto-run.js';
import { MonitorBoard, maintenanceRecord, STORM } from './board.js';
import { assess, type Health, initialHealth } from './detector.js';
import { HomeRefresher } from './home.js';
import { IncidentStore, type LostRole, type ManagerView, monitorKeys } from './incidents.js';
import { LossJournal } from './journal.js';
import { tellLate } from './late.js';
import { Poster } from './poster.js';
import { type HostProbe, startProbe } from './probe.js';
import { decide } from './reconcile.js';
import { HostRoles } from './roles.js';
import { ViewWriter } from './view-writer.js';

const TICK_MS = 200;
/**
 * How often the leader decides while no Host is lost or recovering and nothing is owed (else: every tick, and
 * on the next tick after a transition), and at most half a lease (the view it writes then says the monitor
 * runs: stale after three leases). A maintenance window's end is told up to this much later.
 */
const QUIET_LEAD_MS = 2500;
export interface MonitorDeps {
  config: Config;
  redis: Redis;
  slack: WebClient;
  manager: ManagerClient | undefined;
  log: Logger;
  /** This replica's id (default: random). */
  id?: string;
  /**
   * What the plugins know a Host does (the registry's hostRoles, e.g. an OCFS2 node and when the cluster
   * fences it), read from the Hosts (at start, after each job, every 10 min) and shown in the Host's alert. Optional.
   */
  roles?: (host: InventoryHost, signal: AbortSignal) => Promise<LostRole[]>;
  /**
   * Starts a plugin's offer as a self-confirming job (the runtime adds it to the queue), for the offers the
   * inventory lets the monitor run by itself (`manager.autoFailover`). Optional: without it nothing runs.
   */
  startJob?: (run: AutoRun) => Promise<void>;
}

export interface Monitor {
  readonly id: string;
  /** The detector's view of a Host now. */
  health(host: string): Health | undefined;
  /** What the plugins last said the Host does (undefined: not read yet), as its alert will show it. */
  roles(host: string): readonly LostRole[] | undefined;
  /** True while this replica holds the leader lease. */
  readonly leading: boolean;
  stop(): Promise<void>;
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
  const board = new MonitorBoard(d.redis, inv.jobs.prefix);
  const homes = new HomeRefresher({ board, config, slack: d.slack, log: mlog });
  let key: Promise<Buffer> | undefined;
  const loadPrivateKey = () => {
    key ??= loadKey(inv.ssh.privateKeyPath);
    return key;
  };
  const hosts: InventoryHost[] = inv.hosts;
  // Every Host's heartbeat is read on the tick, all at once (see ssh/read-gate.ts).
  const gate = new ReadGate();
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
        sshCheckEveryMs: t.sshCheckEveryMs,
        log: mlog,
        gate,
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

  // What each Host does, for its alert (see roles.ts).
  const roles = d.roles
    ? new HostRoles({
        read: d.roles,
        redis: d.redis,
        prefix: inv.jobs.prefix,
        hosts,
        healthy: (host) => health.get(host)?.state === 'healthy',
        stopped: () => stopped,
        log: mlog,
      })
    : undefined;

  let leading = false;
  let stopped = false;
  /** The automatic runs this replica started (incident/attempt): each is started, and logged, once. */
  const autoStarted = new Set<string>();
  const journal = new LossJournal();
  // The lease is renewed on its own beat, whatever deciding and posting are doing.
  const renew = async () => {
    try {
      const was = leading;
      leading = await store.lead(t.leaseMs);
      if (!leading) journal.standingBy();
      if (leading !== was) mlog.info({ leading }, leading ? 'leading: deciding and posting' : 'standing by');
    } catch (err) {
      journal.trouble(Date.now());
      leading = false;
      mlog.warn({ err: (err as Error).message }, 'cannot reach Redis for the leader lease; probing goes on');
    }
  };
  await renew();
  const leaseTimer = setInterval(() => void renew(), Math.max(200, Math.floor(t.leaseMs / 3)));

  /** The leader's work of the current tick (deciding and posting), while it runs. */
  let inFlight: Promise<void> | undefined;
  const view = new ViewWriter({ board, replica: id, leaseMs: t.leaseMs });
  const names = [STORM, ...hosts.flatMap((h) => [h.name, maintenanceRecord(h.name)])];
  const lead = async () => {
    try {
      if (!leading) return;
      const now = Date.now();
      const wallHealth = new Map<string, Health>();
      for (const h of hosts) {
        const hh = health.get(h.name)!;
        wallHealth.set(h.name, {
          ...hh,
          since: toWall(hh.since),
          watchingSince: toWall(hh.watchingSince),
          sshdDownSince: hh.sshdDownSince === null ? null : toWall(hh.sshdDownSince),
          lostAt: hh.lostAt === null ? null : toWall(hh.lostAt),
          okSince: hh.okSince === null ? null : toWall(hh.okSince),
        });
      }
      const [incidents, windows, auditHead] = await Promise.all([
        store.incidents(names),
        board.maintenance(),
        roles?.auditHead() ?? null,
      ]);
      const late = { store, journal, channel, hosts: hosts.map((h) => h.name), t, log: mlog };
      if (journal.owed && (await tellLate(late, incidents, windows))) return;
      const open = [...incidents.values()].filter((i) => i.state === 'open' && !i.ack).map((i) => i.id);
      const acks = await board.acks(open);
      const { changes, forget } = decide({
        hosts: hosts.map((h) => h.name),
        health: wallHealth,
        incidents,
        windows,
        acks,
        now,
        channel,
        t,
      });
      for (const c of changes) {
        const host = c.next.host;
        const r = await store.transition(c.name, c.expected, c.next, {
          kind: c.kind,
          host,
          incidentId: c.next.id,
          at: now,
          manager: managerView.get(host) ?? null,
          problem: c.kind === 'resolved' ? null : (probes.get(host)?.problem ?? null),
          roles: roles?.get(host) ?? [],
        });
        mlog.info({ record: c.name, event: c.kind, incident: c.next.id, result: r }, 'incident transition');
        if (r === 'not-leader') return;
      }
      for (const w of forget) await board.forgetMaintenance(w);
      if (d.startJob && inv.manager.autoFailover) {
        const answers = [...managerView.values()].some((v) => v !== null);
        const healthy = new Set(
          hosts.filter((h) => health.get(h.name)?.state === 'healthy').map((h) => h.name),
        );
        for (const run of dueAutoRuns(incidents, roles?.all ?? new Map(), answers, now, healthy)) {
          const key = `${run.incidentId}/${run.lostAt}/${run.attempt}`;
          if (autoStarted.has(key)) continue;
          // The thread is recorded when the parent is posted; without it there is no story to tell yet.
          const threadTs = await store.threadOf(run.incidentId);
          if (!threadTs) continue;
          run.threadTs = threadTs;
          autoStarted.add(key);
          mlog.warn({ ...run }, 'running an offer by itself (inventory manager.autoFailover)');
          await d
            .startJob(run)
            .catch((err: Error) =>
              mlog.error({ err: err.message, incident: run.incidentId }, 'could not start the automatic job'),
            );
        }
      }
      await view.write(now, {
        hosts,
        health,
        wallHealth,
        manager: managerView,
        problem: (host) => probes.get(host)?.problem ?? null,
      });
      void roles?.refresh(auditHead);
      await poster.drain();
      // On its own: publishing many Home tabs must not hold up the next decision.
      void homes.refresh();
    } catch (err) {
      journal.trouble(Date.now());
      mlog.warn({ err: (err as Error).message }, 'monitor tick failed; probing goes on');
    }
  };
  let ledAt = Number.NEGATIVE_INFINITY;
  const quietLeadMs = Math.min(QUIET_LEAD_MS, t.leaseMs / 2);
  /** A transition seen while a decision was running: the next tick decides, quiet or not. */
  let owed = false;
  const assessAll = () => {
    let changed = false;
    let quiet = true;
    for (const [name, p] of probes) {
      const { next, transition } = assess(health.get(name)!, p.observe(), t);
      health.set(name, next);
      // A suspect Host is only shown (never alerted): the quiet pace is enough for it too. Deciding on every
      // tick while one was suspect made a few jittery Hosts cost the leader five decisions a second.
      if (next.state === 'lost' || next.state === 'recovering') quiet = false;
      if (transition) {
        changed = true;
        mlog.info({ host: name, ...transition, problem: p.problem }, `host ${transition.kind}`);
        if (transition.kind === 'lost')
          journal.lost(name, toWall(next.lostAt ?? transition.at), transition.failing);
        if (transition.kind === 'recovered') journal.back(name, toWall(transition.at));
      }
    }
    // Probing never waits for Redis or Slack: a slow decision only delays the next one. While all is quiet
    // (no Host lost or recovering, nothing to post or tell late) the leader decides every quietLeadMs —
    // enough for maintenance windows people set and the view — instead of on every tick: each decision is a
    // few Redis round trips, and on a VM every wake-up they cause costs about half a millisecond of CPU.
    owed ||= changed;
    if (inFlight || stopped) return;
    const at = performance.now();
    if (!owed && quiet && !poster.pending && !journal.owed && at - ledAt < quietLeadMs) return;
    owed = false;
    ledAt = at;
    inFlight = lead().finally(() => {
      inFlight = undefined;
    });
  };
  // The heartbeats that arrived since the last tick are read now (the gate opens), and assessed after
  // what that set off has run (setImmediate: after the nextTicks and the poll phase): when this process's
  // own event loop stalled, the lines that did arrive meanwhile count before any silence is judged.
  const tick = () => {
    gate.open();
    setImmediate(assessAll);
  };
  const timer = setInterval(tick, TICK_MS);
  mlog.info({ hosts: hosts.length, channel, thresholds: t }, 'monitor started');

  return {
    id,
    health: (host) => health.get(host),
    roles: (host) => roles?.get(host),
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
