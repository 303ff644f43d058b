/**
 * The flexVDI Manager stand-in: speaks the Manager's HTTPS JSON API (see src/manager/schemas.ts for which
 * endpoints are public and which are modelled) so the product and its tests run against a real server.
 *
 * Routes (all JSON; every route but /authenticate and /logout needs the session cookie, else 401):
 *   POST /authenticate {username,password}  → 200 {status:"OK",message:<session id>} + Set-Cookie | 401
 *   GET  /logout                             → 200 {status:"OK"}, cookie cleared (always OK, as documented)
 *   GET  /hosts                              → [{host_id,status,last_heartbeat}]
 *   GET  /hosts/{id}                         → {host_id,current_state,error_msg,last_heartbeat,ssh_serverkey,
 *                                              registrations:[{at,kind,ssh_serverkey}]} | 404
 *   POST /host/register {host_id,ssh_pubkey,ssh_serverkey} → {status:"OK",message:<agent secret>}
 *   GET  /image-storages                     → [{storage_id,name,device,cluster,created_at}]
 *   POST /image-storage {name,device,cluster} → {status:"OK",message:"created"|"exists",image_storage}
 *   GET  /volumes                            → [{volume_id,name,image_storage,size_gb,created_at}]
 *   POST /volume {name,image_storage,size_gb} → {status:"OK",message:"created"|"exists",volume}
 *   GET  /manager/disk                       → {path,on_shared_storage,image_storage,moved_at,running_on}
 *   POST /testbed/heartbeat {host_id,status?} (stand-in only) → {status:"OK",message:<status>} | 404
 * Errors: {status:"Error",message} with 400 (bad input), 401, 404, 405, 409 (conflict), 413, 500.
 * Not provided: the /notifications WebSocket; the monitor polls GET /hosts instead. Moving the Manager's disk
 * is not an API call: the product moves the image through the Hosts (scripts/flexvdi-manager.sh).
 *
 * As a testbed Host's guest (`lease` given) it serves only while it holds the Manager's lease: every
 * connection and every request is refused (connection closed) once its last renewal is older than the lease
 * time, and when a renewal finds another owner, or the lease ran out, it stops serving and `onLeaseLost`
 * fires (the process then exits and its Host tears the guest's network down). Every answer of a guest carries
 * `x-flexvdi-manager-host: <FQDN>` (which instance answered; tests count on it).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Lease } from './lease.js';
import { type AgentState, StandinError, StandinStore } from './state.js';
import { ensureStandinCertificate, fingerprintOf, type TlsMaterial } from './tls.js';

export interface ManagerStandinOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  stateFile: string;
  username: string;
  /** The admin password, or (a guest's disk image) its SHA-256 digest in hex. */
  password?: string;
  passwordSha256?: string;
  /** The Manager's `fail_threshold`: no heartbeat for this long → `unavailable`. */
  failThresholdMs?: number;
  /** Idle time after which a session cookie stops working. */
  sessionTtlMs?: number;
  /** Certificate and key (PEM); default: a self-signed one cached next to stateFile. `false`: plain HTTP. */
  tls?: TlsMaterial | false;
  /** Running as a Host's guest: the Host's FQDN (GET /manager/disk `running_on`, the answer header). */
  runningOn?: string;
  /** A guest's disk image as its Host names it (default: stateFile, which is the same path inside the Host). */
  diskPath?: string;
  /** Serve only while holding this lease (renewed every quarter of its time); first renewed before listening. */
  lease?: { lease: Lease; ttlMs: number; onLost: (reason: string) => void };
  log: Logger;
}

export interface ManagerStandinStats {
  requests: number;
  logins: number;
  failedLogins: number;
}

export interface ManagerStandin {
  url: string;
  host: string;
  port: number;
  /** `AB:CD:…` (null for plain HTTP). */
  fingerprint256: string | null;
  certPem: string | null;
  /** In-process heartbeat (same as POST /testbed/heartbeat); false when the Host is not registered. */
  heartbeat(hostId: string, state?: AgentState): boolean;
  stats(): ManagerStandinStats;
  close(): Promise<void>;
}

const COOKIE = 'flexvdi_session';
const MAX_BODY = 64 * 1024;
const agentStates = new Set<string>(['running', 'stopped', 'incompatible']);
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new StandinError(413, 'request body too large'));
      else chunks.push(c);
    });
    req.once('error', reject);
    req.once('end', () => {
      try {
        const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(new StandinError(400, 'request body must be a JSON object'));
      }
    });
  });
}

function cookieValue(header: string | undefined): string | null {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return null;
}

export async function startManagerStandin(opts: ManagerStandinOptions): Promise<ManagerStandin> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log.child({ component: 'manager-standin' });
  const failThresholdMs = opts.failThresholdMs ?? 60_000;
  const sessionTtlMs = opts.sessionTtlMs ?? 30 * 60_000;
  // A guest touches its image only once it holds the lease (another Host's instance may be running from it).
  const lease = opts.lease;
  if (lease) {
    const first = await lease.lease.renew();
    if (!first.ok) throw new Error(`the Manager's lease is not ours: ${first.reason}`);
  }
  const store = new StandinStore(opts.stateFile, failThresholdMs);
  if (opts.runningOn !== undefined) store.runningFrom(opts.diskPath ?? opts.stateFile);
  const passwordDigest = opts.passwordSha256
    ? Buffer.from(opts.passwordSha256, 'hex')
    : digest(opts.password ?? '');
  if (passwordDigest.length !== 32 || (!opts.passwordSha256 && !opts.password)) {
    throw new Error('the stand-in needs a password (or its SHA-256 digest)');
  }
  let serving = true;
  const material =
    opts.tls === false ? null : (opts.tls ?? (await ensureStandinCertificate(opts.stateFile, host, log)));
  const sessions = new Map<string, number>(); // session id → expiry (ms)
  const stats: ManagerStandinStats = { requests: 0, logins: 0, failedLogins: 0 };
  const secureFlag = material ? '; Secure' : '';

  const ok = (message: string, extra: Record<string, unknown> = {}): Reply => ({
    status: 200,
    body: { status: 'OK', message, ...extra },
  });

  function validSession(req: http.IncomingMessage): boolean {
    const id = cookieValue(req.headers.cookie);
    const expiry = id === null ? undefined : sessions.get(id);
    if (id === null || expiry === undefined) return false;
    if (expiry < Date.now()) {
      sessions.delete(id);
      return false;
    }
    sessions.set(id, Date.now() + sessionTtlMs);
    return true;
  }

  async function authenticate(req: http.IncomingMessage): Promise<Reply> {
    const body = await readJson(req);
    const user = typeof body['username'] === 'string' ? body['username'] : '';
    const pass = typeof body['password'] === 'string' ? body['password'] : '';
    // Compare digests so the comparison takes the same time whatever the length.
    const good =
      timingSafeEqual(digest(user), digest(opts.username)) && timingSafeEqual(digest(pass), passwordDigest);
    if (!good) {
      stats.failedLogins++;
      log.warn({ user: user.slice(0, 64) }, 'login refused');
      return { status: 401, body: { status: 'Error', message: 'Invalid username or password' } };
    }
    stats.logins++;
    const id = randomUUID();
    sessions.set(id, Date.now() + sessionTtlMs);
    log.info({ user }, 'login');
    return {
      ...ok(id),
      headers: { 'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secureFlag}` },
    };
  }

  async function route(req: http.IncomingMessage, path: string): Promise<Reply> {
    const m = req.method ?? 'GET';
    const is = (method: string, p: string) => {
      if (path !== p) return false;
      if (m !== method) throw new StandinError(405, `${p} takes ${method}`);
      return true;
    };
    if (is('POST', '/authenticate')) return authenticate(req);
    if (is('GET', '/logout')) {
      const id = cookieValue(req.headers.cookie);
      if (id !== null) sessions.delete(id);
      return { ...ok('Logged out'), headers: { 'set-cookie': `${COOKIE}=; Path=/; Max-Age=0${secureFlag}` } };
    }
    if (!validSession(req)) return { status: 401, body: { status: 'Error', message: 'Not authenticated' } };
    if (is('GET', '/hosts')) return { status: 200, body: store.listHosts() };
    if (path.startsWith('/hosts/')) {
      if (m !== 'GET') throw new StandinError(405, '/hosts/{id} takes GET');
      return { status: 200, body: store.getHost(decodeURIComponent(path.slice('/hosts/'.length))) };
    }
    if (is('POST', '/host/register')) {
      const r = store.register(await readJson(req));
      log.info({ kind: r.kind }, 'host registered');
      return ok(r.secret);
    }
    if (is('GET', '/image-storages')) return { status: 200, body: store.listImageStorages() };
    if (is('POST', '/image-storage')) {
      const r = store.createImageStorage(await readJson(req));
      return ok(r.created ? 'created' : 'exists', { image_storage: r.record });
    }
    if (is('GET', '/volumes')) return { status: 200, body: store.listVolumes() };
    if (is('POST', '/volume')) {
      const r = store.createVolume(await readJson(req));
      return ok(r.created ? 'created' : 'exists', { volume: r.record });
    }
    if (is('GET', '/manager/disk')) {
      return { status: 200, body: { ...store.managerDisk(), running_on: opts.runningOn ?? null } };
    }
    if (is('POST', '/testbed/heartbeat')) {
      const body = await readJson(req);
      const state = body['status'] ?? 'running';
      if (typeof body['host_id'] !== 'string' || typeof state !== 'string' || !agentStates.has(state)) {
        throw new StandinError(400, 'host_id must be a string; status one of running, stopped, incompatible');
      }
      if (!store.heartbeat(body['host_id'], state as AgentState)) throw new StandinError(404, 'no such Host');
      return ok(state);
    }
    throw new StandinError(404, `no endpoint ${path}`);
  }

  const mayServe = () => serving && (!lease || lease.lease.holds());
  const instanceHeader: Record<string, string> =
    opts.runningOn !== undefined ? { 'x-flexvdi-manager-host': opts.runningOn } : {};

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!mayServe()) {
      req.socket.destroy();
      return;
    }
    stats.requests++;
    const path = new URL(req.url ?? '/', 'http://standin').pathname;
    route(req, path)
      .catch((err: unknown): Reply => {
        if (err instanceof StandinError)
          return { status: err.httpStatus, body: { status: 'Error', message: err.message } };
        log.error({ err: (err as Error).message, path }, 'stand-in handler failed');
        return { status: 500, body: { status: 'Error', message: 'internal error' } };
      })
      .then((reply) => {
        // Checked again before answering: the lease may have run out while the request was handled.
        if (!mayServe()) {
          req.socket.destroy();
          return;
        }
        log.debug({ method: req.method, path, status: reply.status }, 'request');
        const payload = JSON.stringify(reply.body);
        res.writeHead(reply.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...instanceHeader,
          ...reply.headers,
        });
        res.end(payload);
      });
  };

  const server = material
    ? https.createServer({ key: material.key, cert: material.cert }, handler)
    : http.createServer(handler);
  server.on('connection', (socket: Socket) => {
    if (!mayServe()) socket.destroy();
  });
  const stopServing = () => {
    serving = false;
    server.close();
    server.closeAllConnections();
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${material ? 'https' : 'http'}://${urlHost}:${port}`;
  const fingerprint256 = material ? fingerprintOf(material.cert) : null;
  log.info({ url, fingerprint256, failThresholdMs, runningOn: opts.runningOn }, 'Manager stand-in listening');

  let renewTimer: NodeJS.Timeout | undefined;
  if (lease) {
    let renewing = false;
    const lost = (reason: string) => {
      if (!serving) return;
      clearInterval(renewTimer);
      stopServing();
      log.warn({ reason }, "lost the Manager's lease: stopped serving");
      lease.onLost(reason);
    };
    renewTimer = setInterval(
      () => {
        // Checked first, by the wall clock: after a freeze longer than the lease this fires before any
        // connection that waited is looked at.
        if (!lease.lease.holds()) return lost('the lease ran out before it was renewed');
        if (renewing) return;
        renewing = true;
        lease.lease
          .renew()
          .then((r) => {
            if (!r.ok && r.lost) lost(r.reason);
            else if (!r.ok) log.warn({ reason: r.reason }, 'lease renewal failed; retrying');
          })
          .finally(() => {
            renewing = false;
          });
      },
      Math.max(50, Math.floor(lease.ttlMs / 4)),
    );
  }

  return {
    url,
    host,
    port,
    fingerprint256,
    certPem: material?.cert ?? null,
    heartbeat: (hostId, state) => store.heartbeat(hostId, state),
    stats: () => ({ ...stats }),
    close: async () => {
      clearInterval(renewTimer);
      const wasServing = serving;
      serving = false;
      await new Promise<void>((resolve) => {
        // Already closed (the lease was lost): its 'close' event has passed, and a second close() would
        // wait for another one forever.
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (lease && wasServing) await lease.lease.release();
    },
  };
}
