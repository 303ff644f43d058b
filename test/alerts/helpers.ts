/**
 * A stack for the monitor's people-facing side (test/support/harness.ts): two inventory Hosts on loopback
 * addresses where nothing listens (a TCP connect is refused at once, so a diagnose says so honestly), a
 * Manager that lists host1 only, and fixtures written straight into Redis in the monitor's own shapes (its
 * view, incidents, acknowledgements, maintenance windows) — no monitor runs in these tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ManagerClient } from '../../src/manager/index.js';
import { type HostView, MonitorBoard } from '../../src/monitor/board.js';
import { type Incident, incidentSchema, monitorKeys } from '../../src/monitor/incidents.js';
import { type Stack, startStack, writeInventory } from '../support/harness.js';

export const ALERTS = 'C0ALERTS1';

/** A TCP port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The Manager: it lists host1 (running, heartbeat just now) and not host2. */
export function fakeManager(): ManagerClient {
  const listed = () => [
    { hostId: 'host1.flexvdi.test', status: 'running' as const, lastHeartbeat: new Date().toISOString() },
  ];
  const unused = () => Promise.reject(new Error('not used by these tests'));
  return {
    url: 'https://manager.flexvdi.test',
    listHosts: async () => listed(),
    getHost: async (id) => {
      const h = listed().find((x) => x.hostId === id);
      return h ? { ...h, desiredState: null, errorMsg: null, sshServerKey: null, registrations: null } : null;
    },
    registerHost: unused,
    listImageStorages: unused,
    createImageStorage: unused,
    listVolumes: unused,
    createVolume: unused,
    getManagerDisk: unused,
    ping: unused,
    logout: async () => {},
  };
}

export interface AlertsStack extends Stack {
  board: MonitorBoard;
  port: number;
}

export async function startAlertsStack(): Promise<AlertsStack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flexvdi-alerts-'));
  const port = await closedPort();
  const inventoryPath = writeInventory(dir, {
    prefix: `alerts${process.pid}${Math.floor(Math.random() * 1e6)}`,
    hosts: [
      { name: 'host1', fqdn: 'host1.flexvdi.test', ip: '127.0.0.1', port },
      { name: 'host2', fqdn: 'host2.flexvdi.test', ip: '127.0.0.2', port },
    ],
  });
  const s = await startStack({ inventoryPath, services: { manager: fakeManager() } });
  const stop = s.stop;
  return Object.assign(s, {
    board: new MonitorBoard(s.redis, s.prefix),
    port,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The monitor's view, as its leader writes it, fresh. */
export async function writeView(
  s: AlertsStack,
  hosts: Omit<HostView, 'manager' | 'problem'>[],
): Promise<void> {
  await s.board.writeView({
    updatedAt: Date.now(),
    replica: 'replica-test',
    hosts: hosts.map((h) => ({ ...h, manager: { status: 'running', lastHeartbeat: null }, problem: null })),
  });
}

/** An incident record under its record name (a Host's name, STORM…), in the monitor's shape. */
export async function writeIncident(
  s: AlertsStack,
  name: string,
  over: Partial<Incident> & Pick<Incident, 'id' | 'host'>,
): Promise<Incident> {
  const at = Date.now() - 90_000;
  const incident = incidentSchema.parse({
    state: 'open',
    phase: 'lost',
    openedAt: at,
    lostAt: at,
    resolvedAt: null,
    failing: ['heartbeat'],
    flaps: 0,
    channel: ALERTS,
    threadTs: null,
    version: 0,
    ...over,
  });
  await s.redis.set(monitorKeys(s.prefix).incident(name), JSON.stringify(incident));
  return incident;
}

/** The audit trail's records, newest first, as field maps. */
export async function auditRecords(s: Stack): Promise<Record<string, string>[]> {
  const rows = await s.redis.xrevrange(`${s.prefix}:audit`, '+', '-', 'COUNT', 200);
  return rows.map(([, flat]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
    return o;
  });
}
