/**
 * A Manager session over a transport: `POST /authenticate` once, keep whatever cookies the Manager sets (no
 * dependence on their names), send them on every call; on a 401 log in again once and repeat the call.
 * Concurrent calls share one login. Also maps answers to AppErrors (see ./errors.ts); no message ever holds
 * the password or the session id.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { formatZodIssues, type Secret } from '../config.js';
import { AppError } from '../errors.js';
import { ManagerErrorCode } from './errors.js';
import { resultWire } from './schemas.js';
import type { RawResponse, Transport } from './transport.js';

export interface SessionOptions {
  transport: Transport;
  username: string;
  /** Called at each login, so a rotated password file is picked up without a restart. */
  password: () => Secret;
  log: Logger;
}

export interface Session {
  /** Logs in now (not from the cache) and keeps the new session: `ping` checks the credentials with it. */
  login(): Promise<void>;
  /** Sends an authenticated request; the raw answer, whatever its status (401 already retried once). */
  send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RawResponse>;
  /** `send`, then any failure as an AppError, then the body validated with `schema`. */
  call<S extends z.ZodTypeAny>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    what: string,
    body?: unknown,
  ): Promise<z.infer<S>>;
  /** Maps a non-2xx (or a 2xx `{"status":"Error"}`) to its AppError; null for a clean 2xx. */
  failureOf(res: RawResponse, what: string): AppError | null;
  parseBody<S extends z.ZodTypeAny>(res: RawResponse, schema: S, what: string): z.infer<S>;
  /** Ends the session if there is one; best effort (failures are logged, not thrown). */
  logout(): Promise<void>;
}

/** `name=value` pairs from Set-Cookie headers, joined for a Cookie header; null when none is set. */
function cookieFrom(setCookie: string[] | undefined): string | null {
  const pairs = (setCookie ?? [])
    .map((c) => c.split(';', 1)[0]?.trim() ?? '')
    .filter((p) => /^[^=\s]+=.+$/.test(p));
  return pairs.length ? pairs.join('; ') : null;
}

export function createSession(opts: SessionOptions): Session {
  const { transport, log } = opts;
  const where = transport.url;
  let cookie: string | null = null;
  let login: Promise<string> | null = null;

  const authFailed = (status: number) =>
    new AppError(
      ManagerErrorCode.authFailed,
      `Manager at ${where} refused the login of user "${opts.username}" (HTTP ${status})`,
      {
        userMessage:
          `The Manager at ${where} refused the credentials of user "${opts.username}". ` +
          'Check manager.username and the password the inventory points to (manager.password).',
      },
    );

  function parseBody<S extends z.ZodTypeAny>(res: RawResponse, schema: S, what: string): z.infer<S> {
    let data: unknown;
    try {
      data = JSON.parse(res.body);
    } catch {
      throw new AppError(
        ManagerErrorCode.badResponse,
        `Manager at ${where}: ${what} answered HTTP ${res.status} with non-JSON`,
      );
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new AppError(
        ManagerErrorCode.badResponse,
        `Manager at ${where}: unexpected answer to ${what}: ${formatZodIssues(parsed.error)}`,
      );
    }
    return parsed.data;
  }

  /** Maps a non-2xx (or a 2xx `{"status":"Error"}`) to its AppError; returns nothing for a clean 2xx. */
  function failureOf(res: RawResponse, what: string): AppError | null {
    const serverMessage = (() => {
      try {
        const m = resultWire.safeParse(JSON.parse(res.body));
        return m.success && m.data.status === 'Error' ? m.data.message.slice(0, 300) : null;
      } catch {
        return null;
      }
    })();
    if (res.status >= 500) {
      return new AppError(
        ManagerErrorCode.httpError,
        `Manager at ${where}: ${what} failed with HTTP ${res.status}`,
        {
          userMessage: `The Manager at ${where} failed (HTTP ${res.status}) on ${what}${serverMessage ? `: ${serverMessage}` : ''}.`,
        },
      );
    }
    if (res.status >= 400 || (res.status >= 200 && res.status < 300 && serverMessage !== null)) {
      const why = serverMessage ?? `HTTP ${res.status}`;
      return new AppError(ManagerErrorCode.rejected, `Manager at ${where} refused ${what}: ${why}`, {
        userMessage: `The Manager refused ${what}: ${why}`,
        details: { status: res.status },
      });
    }
    if (res.status < 200 || res.status >= 300) {
      return new AppError(
        ManagerErrorCode.badResponse,
        `Manager at ${where}: ${what} answered HTTP ${res.status}`,
      );
    }
    return null;
  }

  async function authenticate(): Promise<string> {
    const res = await transport.request('POST', '/authenticate', {
      body: { username: opts.username, password: opts.password().reveal() },
    });
    if (res.status === 401 || res.status === 403) throw authFailed(res.status);
    const failure = failureOf(res, 'the login');
    if (failure) throw failure.code === ManagerErrorCode.rejected ? authFailed(res.status) : failure;
    parseBody(res, resultWire, 'the login');
    const c = cookieFrom(res.headers['set-cookie']);
    if (!c)
      throw new AppError(
        ManagerErrorCode.badResponse,
        `Manager at ${where}: the login set no session cookie`,
      );
    log.info({ url: where, user: opts.username }, 'logged in to the Manager');
    return c;
  }

  function session(): Promise<string> {
    if (cookie) return Promise.resolve(cookie);
    login ??= authenticate()
      .then((c) => {
        cookie = c;
        return c;
      })
      .finally(() => {
        login = null;
      });
    return login;
  }

  /** Sends an authenticated request, logging in again once if the session was dropped (401). */
  async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RawResponse> {
    let used = await session();
    let res = await transport.request(method, path, { body, cookie: used });
    if (res.status === 401) {
      log.debug({ path }, 'Manager session no longer valid; logging in again');
      if (cookie === used) cookie = null;
      used = await session();
      res = await transport.request(method, path, { body, cookie: used });
      if (res.status === 401) throw authFailed(401);
    }
    return res;
  }

  async function call<S extends z.ZodTypeAny>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    what: string,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const res = await send(method, path, body);
    const failure = failureOf(res, what);
    if (failure) throw failure;
    return parseBody(res, schema, what);
  }

  return {
    async login() {
      cookie = await authenticate();
    },
    send,
    call,
    failureOf,
    parseBody,
    async logout() {
      const used = cookie;
      cookie = null;
      if (!used) return;
      try {
        await transport.request('GET', '/logout', { cookie: used });
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'Manager logout failed');
      }
    },
  };
}
