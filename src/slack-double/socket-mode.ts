/**
 * Socket Mode, Slack's side. `apps.connections.open` (app-level token) hands out a single-use
 * `ws://<double>/link/?ticket=…&app_id=…` URL on the double's own port; a connection to it gets Slack's
 * `hello`; commands, interactions and events then reach the app as envelopes `{envelope_id, type, payload,
 * accepts_response_payload}` instead of signed HTTP POSTs, and the app's `{envelope_id, payload}` reply is
 * the ack: its payload is what an HTTP app answers in the response body. With several connections open,
 * envelopes take turns between them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { type ApiBody, fail, isObj } from './api-common.js';
import { ACK_TIMEOUT_MS, type SendResult } from './client.js';
import type { RecordedConnection, SlackStore } from './store.js';
import { SLACK_DOUBLE_IDS } from './workspace.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** Interactions whose ack may carry a body (`response_action`, options); a block_actions ack cannot. */
const RESPONSE_PAYLOAD_INTERACTIONS = new Set(['view_submission', 'block_suggestion']);

export interface EnvelopeOptions {
  /** Slack's redelivery fields (`retry_attempt`, `retry_reason`). */
  retryNum?: number;
  retryReason?: string;
  /** How long to wait for the ack; default Slack's 3 s. */
  timeoutMs?: number;
}

interface Live {
  ws: WebSocket;
  record: RecordedConnection;
}

interface PendingAck {
  live: Live;
  resolve(payload: unknown): void;
  reject(err: Error): void;
}

export class SocketModeHub {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #store: SlackStore;
  /** apps.connections.open tickets not used yet. */
  readonly #tickets = new Set<string>();
  #live: Live[] = [];
  readonly #acks = new Map<string, PendingAck>();
  readonly #now: () => number;
  #turn = 0;

  constructor(store: SlackStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  /**
   * True while the app has an open Socket Mode connection: Slack then delivers over it, not over HTTP. A
   * connection whose close frame has arrived is closing, not open (false from then on).
   */
  get connected(): boolean {
    return this.#open().length > 0;
  }

  #open(): Live[] {
    return this.#live.filter((l) => l.ws.readyState === WebSocket.OPEN);
  }

  /** The body of a successful apps.connections.open: a single-use WebSocket URL on `baseUrl`'s host. */
  open(baseUrl: string): ApiBody {
    const ticket = randomBytes(16).toString('hex');
    this.#tickets.add(ticket);
    const ws = new URL('/link/', baseUrl.replace(/^http/, 'ws'));
    ws.searchParams.set('ticket', ticket);
    ws.searchParams.set('app_id', SLACK_DOUBLE_IDS.appId);
    return { ok: true, url: ws.toString() };
  }

  /** node:http 'upgrade': accepts a connection on a valid, unused ticket; refuses anything else. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'ws://double');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !this.#tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  /**
   * Sends an envelope over one of the app's connections and resolves with the ack as an HTTP app would
   * have answered: status 200, the ack's payload as the body ('' for an empty ack). Rejects (code
   * ETIMEDOUT) when no ack comes within the timeout, or when the connection closes first.
   */
  deliver(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    o: EnvelopeOptions = {},
  ): Promise<SendResult> {
    const open = this.#open();
    const live = open[this.#turn++ % open.length];
    if (!live) return Promise.reject(new Error('slack double: no Socket Mode connection'));
    const envelopeId = randomUUID();
    const timeoutMs = o.timeoutMs ?? ACK_TIMEOUT_MS;
    const started = performance.now();
    return new Promise<SendResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(envelopeId);
        const err = new Error(`no ack for envelope ${envelopeId} within ${timeoutMs} ms`);
        reject(Object.assign(err, { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.#acks.delete(envelopeId);
        fn();
      };
      this.#acks.set(envelopeId, {
        live,
        resolve: (ack) =>
          settle(() =>
            resolve({ status: 200, body: ackBody(ack), headers: {}, ms: performance.now() - started }),
          ),
        reject: (err) => settle(() => reject(err)),
      });
      const envelope = {
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload:
          type === 'slash_commands' || RESPONSE_PAYLOAD_INTERACTIONS.has(String(payload['type'])),
        ...(o.retryNum === undefined ? {} : { retry_attempt: o.retryNum }),
        ...(o.retryReason === undefined ? {} : { retry_reason: o.retryReason }),
      };
      live.ws.send(JSON.stringify(envelope), (err) => {
        if (err) this.#acks.get(envelopeId)?.reject(err);
      });
      this.#store.connectionUpdate(live.record, { envelopes: live.record.envelopes + 1 });
    });
  }

  /** Forgets unused tickets (open connections stay). */
  reset(): void {
    this.#tickets.clear();
  }

  /** Drops every connection at once (the double is going away). */
  close(): void {
    for (const { ws } of this.#live) ws.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket): void {
    const live: Live = { ws, record: this.#store.connectionOpened(randomUUID()) };
    this.#live.push(live);
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('error', () => {}); // a protocol error closes the connection: 'close' follows
    ws.on('close', (code: number) => {
      this.#live = this.#live.filter((l) => l !== live);
      for (const p of [...this.#acks.values()])
        if (p.live === live) p.reject(new Error('the Socket Mode connection closed before the ack'));
      this.#store.connectionUpdate(live.record, { closedAt: this.#now(), closeCode: code });
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.#live.length,
        debug_info: { host: 'applink-double', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: SLACK_DOUBLE_IDS.appId },
      }),
    );
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return;
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return; // Slack ignores what it cannot read; the envelope then times out
    }
    // A late or unknown envelope id is ignored, as Slack ignores an ack after its 3 s.
    if (isObj(msg) && typeof msg['envelope_id'] === 'string')
      this.#acks.get(msg['envelope_id'])?.resolve(msg['payload']);
  }
}

/** The ack as an HTTP response body: its payload as JSON, '' when it has none (Bolt's `ack()` sends `{}`). */
function ackBody(payload: unknown): string {
  if (payload === undefined || (isObj(payload) && Object.keys(payload).length === 0)) return '';
  return JSON.stringify(payload);
}

/**
 * The token check of an app-level method (apps.connections.open): an `xapp-` token in the Authorization
 * header (Slack refuses one passed as a parameter), `not_allowed_token_type` for a bot or user token,
 * `invalid_auth` for any other; `expected` (when set) is the only app token accepted.
 */
export function appTokenError(bearer: string | undefined, expected: string | undefined): ApiBody | undefined {
  if (bearer === undefined) return fail('not_authed');
  if (/^xox[a-z]-/.test(bearer)) return fail('not_allowed_token_type');
  if (!bearer.startsWith('xapp-') || (expected !== undefined && bearer !== expected))
    return fail('invalid_auth');
  return undefined;
}
