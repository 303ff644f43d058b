/**
 * GET /healthz (200 when Redis answers a PING within 1 s, else 503) and GET /metrics (Prometheus text).
 * Served by Bolt's HTTP receiver as custom routes, or by a small server of their own for the worker, the
 * monitor and the bot in Socket Mode.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CustomRoute } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Metrics } from '../metrics.js';

export interface HealthDeps {
  redis: Redis;
  metrics: Metrics;
}

async function healthz(deps: HealthDeps, res: ServerResponse): Promise<void> {
  let ok = false;
  try {
    ok =
      (await Promise.race([deps.redis.ping(), new Promise((r) => setTimeout(() => r('timeout'), 1000))])) ===
      'PONG';
  } catch {
    ok = false;
  }
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok, redis: ok ? 'up' : 'down' }));
}

async function metrics(deps: HealthDeps, res: ServerResponse): Promise<void> {
  try {
    const body = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`metrics unavailable: ${(err as Error).message}`);
  }
}

export function healthRoutes(deps: HealthDeps): CustomRoute[] {
  return [
    { path: '/healthz', method: ['GET'], handler: (_req, res) => void healthz(deps, res) },
    { path: '/metrics', method: ['GET'], handler: (_req, res) => void metrics(deps, res) },
  ];
}

/** The same two routes on a server of their own (worker / monitor roles, the bot in Socket Mode). */
export function startHealthServer(deps: HealthDeps, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return void healthz(deps, res);
    if (req.method === 'GET' && path === '/metrics') return void metrics(deps, res);
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The port a listening server got (the one asked for, or the free one picked for 0). */
export function listeningPort(server: Server, asked: number): number {
  const addr = server.address();
  return addr && typeof addr === 'object' ? addr.port : asked;
}

/** Closes a server: stops listening, drops idle keep-alive connections, waits for the rest to end. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
