/**
 * One HTTP request to the Manager over a fresh connection, with the certificate checked BEFORE anything is
 * written: we open the TLS socket ourselves, compare the peer certificate with the pin (or the CA file, or
 * the system roots), and only then hand the socket to `http.request` through `createConnection`. So neither
 * the password nor the session cookie ever reaches a server that fails the check.
 *
 * Why not `checkServerIdentity`: Node calls it only after the chain verified, which a self-signed Manager
 * certificate never does. Why not fetch: Node 20's fetch takes no CA or pin without undici.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { isIP } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { AppError, ErrorCode } from '../errors.js';
import { ManagerErrorCode } from './errors.js';

export interface ManagerTlsOptions {
  /** SHA-256 of the Manager's certificate, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256?: string | undefined;
  /** PEM file of the CA (or the self-signed certificate itself) that must have issued the certificate.
   * Not consulted when `fingerprint256` is set: the pin alone decides. */
  caFile?: string | undefined;
  /** Accept any certificate. Logged as a warning; for first contact and tests only. */
  insecure?: boolean | undefined;
}

/** How the certificate is checked: pinned > ca > system roots; `insecure` checks nothing; `http` is plain. */
export type TlsMode = 'pinned' | 'ca' | 'system' | 'insecure' | 'http';

export interface PeerCertificate {
  fingerprint256: string | null;
  subject: string | null;
  validTo: string | null;
  /** The certificate passed the check of the current mode (always false for `insecure` and `http`). */
  verified: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  body?: unknown;
  cookie?: string | undefined;
}

export interface Transport {
  readonly url: string;
  readonly mode: TlsMode;
  /** Connects, checks the certificate and hangs up: what `doctor` reports. */
  probe(): Promise<PeerCertificate>;
  request(method: 'GET' | 'POST', path: string, options?: RequestOptions): Promise<RawResponse>;
}

export interface TransportOptions {
  url: string;
  tls?: ManagerTlsOptions | undefined;
  timeoutMs: number;
  log: Logger;
}

const MAX_BODY = 4 * 1024 * 1024;
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

export const normalizeFingerprint = (fp: string): string => fp.trim().toUpperCase();

/** Parses and checks the URL: http(s) only, no user:password inside it (it would end up in logs). */
export function parseManagerUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(ErrorCode.configInvalid, `manager.url: not a URL: ${raw}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AppError(
      ErrorCode.configInvalid,
      `manager.url: must start with https:// (got ${url.protocol})`,
    );
  }
  if (url.username || url.password) {
    throw new AppError(ErrorCode.configInvalid, 'manager.url: must not contain a user name or password');
  }
  return url;
}

function networkError(err: NodeJS.ErrnoException, where: string): AppError {
  const code = err.code ?? '';
  if (code.startsWith('ERR_SSL') || code === 'EPROTO' || code.startsWith('ERR_TLS')) {
    return new AppError(ManagerErrorCode.tlsMismatch, `TLS handshake with ${where} failed: ${err.message}`, {
      cause: err,
      userMessage: `The TLS handshake with the Manager at ${where} failed (${code}). Is it really HTTPS on that port?`,
    });
  }
  const known = UNREACHABLE.has(code);
  return new AppError(
    ManagerErrorCode.unreachable,
    `cannot reach the Manager at ${where}: ${code || err.message}`,
    {
      cause: err,
      userMessage: `The Manager at ${where} is unreachable (${known ? code : err.message}). Is it running?`,
    },
  );
}

export function createTransport(opts: TransportOptions): Transport {
  const url = parseManagerUrl(opts.url);
  const where = url.origin;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secure = url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 443 : 80);
  const pin = opts.tls?.fingerprint256 ? normalizeFingerprint(opts.tls.fingerprint256) : undefined;
  const mode: TlsMode = !secure
    ? 'http'
    : opts.tls?.insecure
      ? 'insecure'
      : pin
        ? 'pinned'
        : opts.tls?.caFile
          ? 'ca'
          : 'system';
  let ca: Buffer | undefined;
  if (mode === 'ca' && opts.tls?.caFile) {
    try {
      ca = readFileSync(opts.tls.caFile);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new AppError(
        ErrorCode.configInvalid,
        `manager.tls.caFile: cannot read ${opts.tls.caFile}: ${why}`,
      );
    }
  }
  if (mode === 'insecure' || mode === 'http') {
    opts.log.warn({ url: where, mode }, 'Manager certificate is NOT verified');
  }
  const basePath = url.pathname.replace(/\/+$/, '');

  /** The check itself; returns the reason it failed, or null. */
  function check(socket: tls.TLSSocket, peer: PeerCertificate): string | null {
    if (mode === 'insecure') return null;
    if (mode === 'pinned') {
      return peer.fingerprint256 === pin
        ? null
        : `certificate fingerprint ${peer.fingerprint256} is not the pinned ${pin}`;
    }
    if (!socket.authorized) return `certificate not trusted: ${String(socket.authorizationError)}`;
    const idErr = tls.checkServerIdentity(host, socket.getPeerCertificate());
    return idErr ? idErr.message : null;
  }

  function connect(deadline: AbortSignal): Promise<{ socket: net.Socket; peer: PeerCertificate }> {
    return new Promise((resolve, reject) => {
      const socket: net.Socket = secure
        ? tls.connect({
            host,
            port,
            rejectUnauthorized: false,
            ALPNProtocols: ['http/1.1'],
            ...(isIP(host) ? {} : { servername: host }),
            ...(ca ? { ca } : {}),
          })
        : net.connect({ host, port });
      const onAbort = () => socket.destroy(deadline.reason as Error);
      deadline.addEventListener('abort', onAbort, { once: true });
      const onError = (err: NodeJS.ErrnoException) => {
        deadline.removeEventListener('abort', onAbort);
        reject(deadline.aborted ? deadline.reason : networkError(err, where));
      };
      socket.once('error', onError);
      const ready = () => {
        deadline.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        resolve({ socket, peer: { fingerprint256: null, subject: null, validTo: null, verified: false } });
      };
      if (!secure) {
        socket.once('connect', ready);
        return;
      }
      const tlsSocket = socket as tls.TLSSocket;
      tlsSocket.once('secureConnect', () => {
        const cert = tlsSocket.getPeerCertificate();
        const peer: PeerCertificate = {
          fingerprint256: cert.fingerprint256 ? normalizeFingerprint(cert.fingerprint256) : null,
          subject: [cert.subject?.CN ?? []].flat().join(', ') || null,
          validTo: cert.valid_to ?? null,
          verified: false,
        };
        const problem = check(tlsSocket, peer);
        if (problem) {
          deadline.removeEventListener('abort', onAbort);
          socket.destroy();
          reject(
            new AppError(ManagerErrorCode.tlsMismatch, `Manager at ${where}: ${problem}`, {
              userMessage:
                `The Manager at ${where} presented a certificate that does not match the inventory ` +
                `(${problem}). If the Manager's certificate was renewed on purpose, update manager.tls.`,
              details: { peer, mode },
            }),
          );
          return;
        }
        peer.verified = mode !== 'insecure';
        deadline.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        resolve({ socket, peer });
      });
    });
  }

  /** A signal that aborts with `manager.unreachable` after `timeoutMs`; `clear()` once the work is done. */
  function deadlineFor(what: string): { signal: AbortSignal; clear(): void } {
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      ctl.abort(
        new AppError(
          ManagerErrorCode.unreachable,
          `Manager at ${where}: no answer to ${what} within ${opts.timeoutMs} ms`,
          {
            userMessage: `The Manager at ${where} did not answer within ${opts.timeoutMs} ms.`,
          },
        ),
      );
    }, opts.timeoutMs);
    return { signal: ctl.signal, clear: () => clearTimeout(timer) };
  }

  async function probe(): Promise<PeerCertificate> {
    const deadline = deadlineFor('a connection');
    try {
      const { socket, peer } = await connect(deadline.signal);
      socket.destroy();
      return peer;
    } finally {
      deadline.clear();
    }
  }

  async function request(
    method: 'GET' | 'POST',
    path: string,
    ro: RequestOptions = {},
  ): Promise<RawResponse> {
    const deadline = deadlineFor(`${method} ${path}`);
    try {
      const { socket } = await connect(deadline.signal);
      return await exchange(socket, deadline.signal, method, path, ro);
    } finally {
      deadline.clear();
    }
  }

  function exchange(
    socket: net.Socket,
    signal: AbortSignal,
    method: 'GET' | 'POST',
    path: string,
    ro: RequestOptions,
  ): Promise<RawResponse> {
    const payload = ro.body === undefined ? undefined : Buffer.from(JSON.stringify(ro.body));
    const headers: Record<string, string | number> = {
      host: url.host,
      accept: 'application/json',
      connection: 'close',
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (ro.cookie) headers['cookie'] = ro.cookie;
    return new Promise((resolve, reject) => {
      const req = http.request({ method, path: basePath + path, headers, createConnection: () => socket });
      const onAbort = () => req.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      const finish = (err: unknown, res?: RawResponse) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        if (res) resolve(res);
        else reject(err instanceof AppError ? err : networkError(err as NodeJS.ErrnoException, where));
      };
      req.once('error', (err) => finish(signal.aborted ? signal.reason : err));
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY) chunks.push(c);
          else {
            finish(
              new AppError(
                ManagerErrorCode.badResponse,
                `Manager at ${where}: answer larger than ${MAX_BODY} bytes`,
              ),
            );
            res.destroy();
          }
        });
        res.once('error', (err) => finish(signal.aborted ? signal.reason : err));
        res.once('end', () => {
          opts.log.debug({ method, path, status: res.statusCode }, 'manager request');
          finish(null, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      req.end(payload);
    });
  }

  return { url: where + basePath, mode, probe, request };
}
