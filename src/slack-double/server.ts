/**
 * A local Slack: the Web API (at `apiUrl`, for WebClient's `slackApiUrl` / SLACK_API_URL), response_url
 * endpoints, Socket Mode (socket-mode.ts), and a console that plays the user. It records everything for
 * tests and can be told to fail or rate-limit methods. One node:http server on loopback; every instance is
 * independent.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type ApiBody, fail } from './api-common.js';
import {
  appHomeOpenedEvent,
  DELIVERY_TIMEOUT_MS,
  type EventCallbackFields,
  eventCallbackPayload,
  interactionBody,
  type SendExtras,
  type SendResult,
  type SlashCommandFields,
  sendSigned,
  sendSlashCommand,
  slashCommandPayload,
} from './client.js';
import {
  type ConsoleHost,
  consoleClick,
  consoleCommand,
  consoleHomeOpened,
  consoleHowto,
  consoleMessages,
  consoleViews,
} from './console.js';
import { consoleDir, serveConsoleEvents, serveConsoleFile } from './console-app.js';
import {
  type ClusterPanel,
  type ConsoleUser,
  type ConsoleView,
  cachedPanel,
  consoleCalls,
  consoleClusterAction,
  consoleState,
  consoleTranscript,
  DEFAULT_CONSOLE_USERS,
} from './console-state.js';
import { consoleClose, consoleSubmit, consoleViewClick } from './console-views.js';
import { type Fault, FaultInjector } from './faults.js';
import { BadRequest, parseParams, readBody, sendJson, sendText } from './http-io.js';
import { type HttpAnswer, type ResponseOrigin, ResponseUrls } from './response-urls.js';
import { appTokenError, SocketModeHub } from './socket-mode.js';
import {
  type RecordedCall,
  type RecordedConnection,
  type RecordedEdit,
  type RecordedEphemeral,
  type RecordedMessage,
  type RecordedView,
  SlackStore,
  type WaitForOptions,
} from './store.js';
import { viewJson, WEB_API_METHODS } from './web-api.js';
import { SLACK_DOUBLE_IDS } from './workspace.js';

export interface SlackDoubleOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, only this token is accepted; otherwise any non-empty token. */
  botToken?: string;
  /** When set, the only app-level token apps.connections.open accepts; otherwise any `xapp-` token. */
  appToken?: string;
  /** Secret used to sign what the console sends to the bot; default a random one (see `signingSecret`). */
  signingSecret?: string;
  /** The bot's events endpoint (e.g. http://127.0.0.1:3000/slack/events), needed by the console. */
  botUrl?: string;
  log?: Logger;
  /** Clock in ms for response_url expiry and rate-limit windows; tests inject a controllable one. */
  now?: () => number;
  /** Who the browser console's user switcher offers (default: an admin and a non-admin). */
  consoleUsers?: readonly ConsoleUser[];
  /** The demo's cluster, for the console's cluster panel (Fail / Heal). */
  cluster?: ClusterPanel;
}

/** How Slack delivers to the app: `url` (default `botUrl`) for HTTP; ignored while Socket Mode is connected. */
export interface DeliveryOptions extends SendExtras {
  url?: string | undefined;
}

/** Every page of the console and each of its live streams reads the cluster's state: at most once a second. */
const CLUSTER_STATUS_TTL_MS = 1000;

/** Methods called with the app-level token (Socket Mode); every other method refuses it. */
const APP_LEVEL_METHODS = new Set(['apps.connections.open']);

export class SlackDouble implements ConsoleHost, ConsoleView {
  readonly store: SlackStore;
  readonly signingSecret: string;
  #botUrl: string | undefined;
  #url = '';
  readonly #server: http.Server;
  readonly #faults = new FaultInjector();
  readonly #responses: ResponseUrls;
  readonly #sockets: SocketModeHub;
  readonly #opts: SlackDoubleOptions;
  readonly #now: () => number;
  readonly #consoleDir = consoleDir();
  readonly #cluster: ClusterPanel | undefined;

  private constructor(opts: SlackDoubleOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.store = new SlackStore(this.#now);
    this.#responses = new ResponseUrls(this.store, this.#now);
    this.#sockets = new SocketModeHub(this.store, this.#now);
    this.signingSecret = opts.signingSecret ?? randomBytes(16).toString('hex');
    this.#botUrl = opts.botUrl;
    this.#cluster = opts.cluster && cachedPanel(opts.cluster, CLUSTER_STATUS_TTL_MS);
    this.#server = http.createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => {
        opts.log?.error({ err, url: req.url }, 'slack double: request failed');
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal_error' });
        else res.destroy();
      });
    });
    this.#server.on('upgrade', (req, socket, head: Buffer) => this.#sockets.upgrade(req, socket, head));
  }

  static async start(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
    const double = new SlackDouble(opts);
    const server = double.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { address, port } = server.address() as AddressInfo;
    double.#url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    opts.log?.info({ url: double.#url }, 'slack double listening');
    return double;
  }

  /** Base URL, e.g. http://127.0.0.1:PORT */
  get url(): string {
    return this.#url;
  }

  /** The Web API base: the value for SLACK_API_URL / WebClient `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.#url}/api/`;
  }

  get botUrl(): string | undefined {
    return this.#botUrl;
  }

  /** Points the console at the bot (when the bot's port is known only after the double started). */
  setBotUrl(url: string): void {
    this.#botUrl = url;
  }

  get users(): readonly ConsoleUser[] {
    return this.#opts.consoleUsers ?? DEFAULT_CONSOLE_USERS;
  }

  get cluster(): ClusterPanel | undefined {
    return this.#cluster;
  }

  /** True while the app is connected in Socket Mode: commands and interactions then go over its socket. */
  get socketModeConnected(): boolean {
    return this.#sockets.connected;
  }

  /**
   * Delivers a slash command as Slack does: a `slash_commands` envelope over the app's Socket Mode
   * connection when it has one (the ack's payload is the result's body), else a signed POST.
   */
  async sendCommand(fields: SlashCommandFields, o: DeliveryOptions = {}): Promise<SendResult> {
    const { url, ...extras } = o;
    if (this.#sockets.connected)
      return this.#sockets.deliver('slash_commands', slashCommandPayload(fields), {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        ...extras,
      });
    return sendSlashCommand(this.#deliveryUrl(url), this.signingSecret, fields, extras);
  }

  /** Delivers an interaction payload (block_actions, view_submission…), the same way as `sendCommand`. */
  async sendInteraction(payload: Record<string, unknown>, o: DeliveryOptions = {}): Promise<SendResult> {
    const { url, ...extras } = o;
    if (this.#sockets.connected)
      return this.#sockets.deliver('interactive', payload, { timeoutMs: DELIVERY_TIMEOUT_MS, ...extras });
    return sendSigned(this.#deliveryUrl(url), interactionBody(payload), {
      ...extras,
      secret: this.signingSecret,
    });
  }

  /**
   * Delivers an Events API event (`event_callback`) as Slack does: an `events_api` envelope over Socket Mode
   * when the app has a connection, else a signed JSON POST.
   */
  async sendEvent(fields: EventCallbackFields, o: DeliveryOptions = {}): Promise<SendResult> {
    const { url, ...extras } = o;
    const payload = eventCallbackPayload(fields);
    if (this.#sockets.connected)
      return this.#sockets.deliver('events_api', payload, { timeoutMs: DELIVERY_TIMEOUT_MS, ...extras });
    return sendSigned(this.#deliveryUrl(url), JSON.stringify(payload), {
      ...extras,
      secret: this.signingSecret,
      contentType: 'application/json',
    });
  }

  /** `user` opens the app's Home tab: `app_home_opened`, with the Home view Slack holds for them if any. */
  async openHome(user: string, o: DeliveryOptions & { tab?: 'home' | 'messages' } = {}): Promise<SendResult> {
    const { tab, ...delivery } = o;
    const home = this.store.views().find((v) => v.userId === user && v.view['type'] === 'home');
    const event = appHomeOpenedEvent(user, {
      ...(tab ? { tab } : {}),
      ...(home ? { view: viewJson(home) } : {}),
    });
    return this.sendEvent({ event }, delivery);
  }

  #deliveryUrl(url: string | undefined): string {
    const target = url ?? this.#botUrl;
    if (!target) throw new Error('slack double: no bot URL and no Socket Mode connection to deliver to');
    return target;
  }

  /** A fresh response_url for a command run by `user` in `channel` (30 min, 5 uses). */
  responseUrl(channel: string, user: string, origin: Omit<ResponseOrigin, 'channel' | 'user'> = {}): string {
    return this.newResponseUrl({ ...origin, channel, user });
  }

  newResponseUrl(origin: ResponseOrigin): string {
    return this.#responses.create(this.#url, origin);
  }

  messages(channel?: string): RecordedMessage[] {
    return this.store.messages(channel);
  }
  thread(channel: string, ts: string): RecordedMessage[] {
    return this.store.thread(channel, ts);
  }
  ephemerals(channel?: string, user?: string): RecordedEphemeral[] {
    return this.store.ephemerals(channel, user);
  }
  edits(channel: string, ts: string): RecordedEdit[] {
    return this.store.edits(channel, ts);
  }
  views(): RecordedView[] {
    return this.store.views();
  }
  calls(method?: string): RecordedCall[] {
    return this.store.calls(method);
  }
  connections(): RecordedConnection[] {
    return this.store.connections();
  }

  /** Resolves with the first truthy value of `check(double)`, re-checked after every recorded change. */
  waitFor<T>(check: (d: SlackDouble) => T | undefined | null | false, opts?: WaitForOptions): Promise<T> {
    return this.store.waitFor(() => check(this), opts);
  }

  /** The next call to `method` fails as described (queued: call again for several failures). */
  failNext(method: string, fault: Fault): void {
    this.#faults.failNext(method, fault);
  }

  /** Rate-limits `method` (429 + Retry-After beyond `perMinute` calls per 60 s); `undefined` lifts it. */
  rateLimit(method: string, limit: { perMinute: number } | undefined): void {
    this.#faults.rateLimit(method, limit);
  }

  /** Forgets recordings, response URLs, queued faults and rate limits. */
  reset(): void {
    this.store.reset();
    this.#responses.reset();
    this.#faults.reset();
    this.#sockets.reset();
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.close((err) => (err ? reject(err) : resolve()));
      this.#server.closeAllConnections(); // WebClient and Bolt keep connections alive
      this.#sockets.close(); // upgraded sockets are no longer the HTTP server's
    });
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.#url);
    const path = url.pathname;
    const raw = await readBody(req);
    let params: Record<string, unknown>;
    try {
      params = parseParams(req.headers['content-type'], raw, url.searchParams);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      if (path.startsWith('/api/')) return sendJson(res, 200, fail(err.slackError));
      return sendJson(res, 400, { ok: false, error: err.slackError });
    }
    const reply = (a: HttpAnswer) => sendJson(res, a.status, a.body);

    if (path.startsWith('/api/')) return this.#api(decodeURIComponent(path.slice(5)), req, params, res);
    if (req.method === 'POST' && path.startsWith('/response/')) {
      const answer = this.#responses.handle(path.slice('/response/'.length), params);
      this.#opts.log?.debug({ status: answer.status, ...answer.body }, 'slack double: response_url post');
      return reply(answer);
    }
    if ((path === '/' || path === '/howto' || path.startsWith('/console/')) && !this.#sameSite(req))
      return sendJson(res, 403, { ok: false, error: 'forbidden_origin' });
    if (req.method === 'POST' && path === '/console/command')
      return reply(await consoleCommand(this, params));
    if (req.method === 'POST' && path === '/console/click') return reply(await consoleClick(this, params));
    if (req.method === 'POST' && path === '/console/home')
      return reply(await consoleHomeOpened(this, params));
    if (req.method === 'GET' && path === '/console/views')
      return reply(consoleViews(this.store, url.searchParams.get('user') ?? undefined));
    if (req.method === 'GET' && path === '/console/messages') {
      return reply(consoleMessages(this.store, url.searchParams.get('channel') ?? undefined));
    }
    if (req.method === 'POST' && path === '/console/view-click')
      return reply(await consoleViewClick(this, params));
    if (req.method === 'POST' && path === '/console/submit') return reply(await consoleSubmit(this, params));
    if (req.method === 'POST' && path === '/console/close') return reply(consoleClose(this, params));
    if (req.method === 'GET' && path === '/console/state')
      return reply(await consoleState(this, url.searchParams.get('user') ?? undefined));
    if (req.method === 'GET' && path === '/console/calls')
      return reply(consoleCalls(this.store, Number(url.searchParams.get('since') ?? 0) || 0));
    if (req.method === 'GET' && path === '/console/transcript') return this.#transcript(url, res);
    if (req.method === 'GET' && path === '/console/events')
      return serveConsoleEvents(this.store, this.cluster, res);
    if (path.startsWith('/console/cluster/'))
      return reply(
        await consoleClusterAction(this, req.method, path.slice('/console/cluster/'.length), params),
      );
    if (req.method === 'GET' && path === '/howto') return sendText(res, 200, consoleHowto(this.#url));
    if (req.method === 'GET' && (path === '/' || path.startsWith('/console/app/'))) {
      if (serveConsoleFile(this.#consoleDir, path, res)) return;
      if (path === '/') return sendText(res, 200, consoleHowto(this.#url));
    }
    return sendJson(res, 404, { ok: false, error: 'not_found' });
  }

  /**
   * The console acts as any user of the workspace, so only pages it served may drive it: the Host header must
   * name this server (no DNS rebinding) and a browser's Origin, when sent (another site's form post or
   * fetch), must be its own. curl sends no Origin.
   */
  #sameSite(req: http.IncomingMessage): boolean {
    const own = new URL(this.#url);
    const names = new Set([own.host, `127.0.0.1:${own.port}`, `localhost:${own.port}`, `[::1]:${own.port}`]);
    if (!names.has(req.headers.host ?? '')) return false;
    const origin = req.headers.origin;
    return origin === undefined || [...names].some((n) => origin === `http://${n}`);
  }

  #transcript(url: URL, res: http.ServerResponse): void {
    const channel = url.searchParams.get('channel') ?? SLACK_DOUBLE_IDS.defaultChannel;
    const t = consoleTranscript(this, channel, url.searchParams.get('format') === 'json' ? 'json' : 'md');
    res.writeHead(200, {
      'content-type': t.type,
      'content-disposition': `attachment; filename="${t.filename}"`,
      'content-length': Buffer.byteLength(t.text),
    });
    res.end(t.text);
  }

  #api(
    method: string,
    req: http.IncomingMessage,
    params: Record<string, unknown>,
    res: http.ServerResponse,
  ): void {
    const { token: bodyToken, ...args } = params;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof bodyToken === 'string' && bodyToken !== '' ? bodyToken : undefined);
    const handler = WEB_API_METHODS[method];
    let status = 200;
    let retryAfter: number | undefined;
    let body: ApiBody;
    const appLevel = APP_LEVEL_METHODS.has(method);
    const authError = appLevel ? appTokenError(bearer, this.#opts.appToken) : this.#botTokenError(token);
    if (!handler && !appLevel) body = fail('unknown_method');
    else if (authError) body = authError;
    else {
      const rejection = this.#faults.check(method, this.#now());
      if (rejection) {
        ({ status, body } = rejection);
        retryAfter = rejection.retryAfterSeconds;
      } else body = handler ? handler(args, this.store, this.#url) : this.#sockets.open(this.#url);
    }
    const error = typeof body['error'] === 'string' ? body['error'] : undefined;
    this.store.recordCall({
      method,
      at: this.#now(),
      params: args,
      status,
      ok: body.ok,
      ...(error === undefined ? {} : { error }),
    });
    this.#opts.log?.debug({ method, status, ok: body.ok, error }, 'slack double: api call');
    sendJson(res, status, body, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });
  }

  /** A Web API method's token check: an app-level token is the wrong type, another one must be the bot's. */
  #botTokenError(token: string | undefined): ApiBody | undefined {
    if (token === undefined) return fail('not_authed');
    if (token.startsWith('xapp-')) return fail('not_allowed_token_type');
    if (this.#opts.botToken !== undefined && token !== this.#opts.botToken) return fail('invalid_auth');
    return undefined;
  }
}

export function startSlackDouble(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
  return SlackDouble.start(opts);
}
