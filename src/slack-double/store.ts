/**
 * What the double has seen and what its workspace now shows: messages (with threads and edit history),
 * ephemeral messages, views, every API call and Socket Mode connection. Readers get copies; every change
 * emits an event so `waitFor` re-checks its condition only when something happened (no polling).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { MessageMetadata } from './metadata.js';

export type MessageSource = 'chat.postMessage' | 'chat.postEphemeral' | 'response_url' | 'command_ack';

export interface RecordedMessage {
  channel: string;
  ts: string;
  /** Set on thread replies: the parent's ts. */
  threadTs?: string;
  /** A reply also shown in the channel (`reply_broadcast`): it is in conversations.history too. */
  broadcast?: boolean;
  /** The author (the bot user for API posts). */
  user: string;
  text: string;
  blocks: unknown[];
  metadata?: MessageMetadata;
  replyCount: number;
  editCount: number;
  via: MessageSource;
  postedAt: number;
}

export interface RecordedEphemeral {
  channel: string;
  ts: string;
  threadTs?: string;
  /** The only user who sees it. */
  user: string;
  text: string;
  blocks: unknown[];
  editCount: number;
  via: MessageSource;
  postedAt: number;
}

export interface RecordedEdit {
  at: number;
  text: string;
  blocks: unknown[];
  via: 'chat.update' | 'response_url';
}

export interface RecordedView {
  id: string;
  /** The last method that wrote it. */
  method: 'views.open' | 'views.push' | 'views.update' | 'views.publish';
  userId?: string;
  externalId?: string;
  hash: string;
  view: Record<string, unknown>;
  versions: number;
  updatedAt: number;
}

export interface RecordedCall {
  method: string;
  at: number;
  /** Request parameters without the token. */
  params: Record<string, unknown>;
  status: number;
  ok: boolean;
  error?: string;
}

/** A Socket Mode connection the app opened (see socket-mode.ts). */
export interface RecordedConnection {
  id: string;
  openedAt: number;
  closedAt?: number;
  closeCode?: number;
  /** Envelopes (commands, interactions) sent over it. */
  envelopes: number;
}

export interface Content {
  text?: string;
  blocks?: unknown[];
  metadata?: MessageMetadata;
}

export interface WaitForOptions {
  timeoutMs?: number;
}

const key = (channel: string, ts: string) => `${channel}/${ts}`;

export class SlackStore {
  readonly #now: () => number;
  readonly #events = new EventEmitter();
  #lastMicros = 0;
  #messages: RecordedMessage[] = [];
  #ephemerals: RecordedEphemeral[] = [];
  #edits = new Map<string, RecordedEdit[]>();
  #views = new Map<string, RecordedView>();
  #calls: RecordedCall[] = [];
  #connections: RecordedConnection[] = [];
  /** Trigger ids the workspace handed out, by user: views.open shows the modal to that user. */
  #triggers = new Map<string, string>();
  #version = 0;

  constructor(now: () => number) {
    this.#now = now;
    this.#events.setMaxListeners(0);
  }

  /** Unique, increasing, Slack-shaped message timestamps ("1700000000.000100"). */
  nextTs(): string {
    const micros = Math.max(Math.floor(this.#now() * 1000), this.#lastMicros + 1);
    this.#lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  post(m: Omit<RecordedMessage, 'ts' | 'replyCount' | 'editCount' | 'postedAt'>): RecordedMessage {
    const msg: RecordedMessage = {
      ...m,
      ts: this.nextTs(),
      replyCount: 0,
      editCount: 0,
      postedAt: this.#now(),
    };
    if (m.threadTs !== undefined) {
      const parent = this.findMessage(m.channel, m.threadTs);
      if (parent) parent.replyCount += 1;
    }
    this.#messages.push(msg);
    this.#changed();
    return msg;
  }

  postEphemeral(e: Omit<RecordedEphemeral, 'ts' | 'editCount' | 'postedAt'>): RecordedEphemeral {
    const eph: RecordedEphemeral = { ...e, ts: this.nextTs(), editCount: 0, postedAt: this.#now() };
    this.#ephemerals.push(eph);
    this.#changed();
    return eph;
  }

  /** The live record (for the server's own use; inspection methods return copies). */
  findMessage(channel: string, ts: string): RecordedMessage | undefined {
    return this.#messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Every message of `channel`, thread replies included, oldest first (live records, read-only). */
  channelMessages(channel: string): readonly RecordedMessage[] {
    return this.#messages.filter((m) => m.channel === channel);
  }

  findEphemeral(channel: string, ts: string): RecordedEphemeral | undefined {
    return this.#ephemerals.find((e) => e.channel === channel && e.ts === ts);
  }

  /** Replaces text, blocks and/or metadata (absent fields are kept, as chat.update does); records the edit. */
  edit(target: RecordedMessage | RecordedEphemeral, change: Content, via: RecordedEdit['via']): void {
    if (change.text !== undefined) target.text = change.text;
    if (change.blocks !== undefined) target.blocks = change.blocks;
    if (change.metadata !== undefined && 'replyCount' in target) target.metadata = change.metadata;
    target.editCount += 1;
    const k = key(target.channel, target.ts);
    const history = this.#edits.get(k) ?? [];
    history.push({ at: this.#now(), text: target.text, blocks: target.blocks, via });
    this.#edits.set(k, history);
    this.#changed();
  }

  remove(target: RecordedMessage | RecordedEphemeral): void {
    if ('replyCount' in target) {
      this.#messages = this.#messages.filter((m) => m !== target);
      const parent =
        target.threadTs === undefined ? undefined : this.findMessage(target.channel, target.threadTs);
      if (parent) parent.replyCount -= 1;
    } else {
      this.#ephemerals = this.#ephemerals.filter((e) => e !== target);
    }
    this.#changed();
  }

  saveView(v: Omit<RecordedView, 'id' | 'hash' | 'versions' | 'updatedAt'>, id?: string): RecordedView {
    const prev = id === undefined ? undefined : this.#views.get(id);
    const view: RecordedView = {
      ...prev,
      ...v,
      id: id ?? `V${randomBytes(5).toString('hex').toUpperCase()}`,
      hash: `${Math.floor(this.#now() / 1000)}.${randomBytes(4).toString('hex')}`,
      versions: (prev?.versions ?? 0) + 1,
      updatedAt: this.#now(),
    };
    this.#views.set(view.id, view);
    this.#changed();
    return view;
  }

  /** Closes a view (a modal submitted or cancelled); Home tabs stay. */
  closeView(id: string): boolean {
    const gone = this.#views.delete(id);
    if (gone) this.#changed();
    return gone;
  }

  /** Remembers who a trigger id was given to (a command, a click): the modal it opens is theirs. */
  noteTrigger(triggerId: string, user: string): void {
    this.#triggers.set(triggerId, user);
    if (this.#triggers.size > 1000) this.#triggers.delete(this.#triggers.keys().next().value as string);
  }

  triggerUser(triggerId: string): string | undefined {
    return this.#triggers.get(triggerId);
  }

  findView(id: string | undefined, externalId: string | undefined): RecordedView | undefined {
    if (id !== undefined) return this.#views.get(id);
    return [...this.#views.values()].find((v) => externalId !== undefined && v.externalId === externalId);
  }

  recordCall(call: RecordedCall): void {
    this.#calls.push(call);
    this.#changed();
  }

  /** The live record of a new Socket Mode connection; its updates go through `connectionUpdate`. */
  connectionOpened(id: string): RecordedConnection {
    const c: RecordedConnection = { id, openedAt: this.#now(), envelopes: 0 };
    this.#connections.push(c);
    this.#changed();
    return c;
  }

  connectionUpdate(c: RecordedConnection, change: Partial<Omit<RecordedConnection, 'id'>>): void {
    Object.assign(c, change);
    this.#changed();
  }

  // ── inspection (copies) ──────────────────────────────────────────────────────────────────────────────

  /** Top-level messages, oldest first. */
  messages(channel?: string): RecordedMessage[] {
    return clone(
      this.#messages.filter(
        (m) => m.threadTs === undefined && (channel === undefined || m.channel === channel),
      ),
    );
  }

  /** The replies of the thread under `ts`, oldest first (not the parent). */
  thread(channel: string, ts: string): RecordedMessage[] {
    return clone(this.#messages.filter((m) => m.channel === channel && m.threadTs === ts));
  }

  ephemerals(channel?: string, user?: string): RecordedEphemeral[] {
    return clone(
      this.#ephemerals.filter(
        (e) => (channel === undefined || e.channel === channel) && (user === undefined || e.user === user),
      ),
    );
  }

  /** Every edit of a message or ephemeral message, oldest first, each with the content it left. */
  edits(channel: string, ts: string): RecordedEdit[] {
    return clone(this.#edits.get(key(channel, ts)) ?? []);
  }

  views(): RecordedView[] {
    return clone([...this.#views.values()]);
  }

  calls(method?: string): RecordedCall[] {
    return clone(this.#calls.filter((c) => method === undefined || c.method === method));
  }

  /** Socket Mode connections, oldest first, open and closed. */
  connections(): RecordedConnection[] {
    return clone(this.#connections);
  }

  /** How many changes were recorded: a cheap "has anything changed" for the console's live updates. */
  get version(): number {
    return this.#version;
  }

  /** Records that something outside the store changed (the demo's cluster): listeners refetch. */
  touch(): void {
    this.#changed();
  }

  /** How many listeners wait for changes (live-update streams, waitFor): a leak shows here. */
  get changeListeners(): number {
    return this.#events.listenerCount('change');
  }

  /** Calls `listener` after every recorded change; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  reset(): void {
    this.#triggers.clear();
    this.#messages = [];
    this.#ephemerals = [];
    this.#edits.clear();
    this.#views.clear();
    this.#calls = [];
    this.#connections = this.#connections.filter((c) => c.closedAt === undefined);
    this.#changed();
  }

  /**
   * Resolves with the first truthy value `check` returns, evaluated now and after every recorded change;
   * rejects after `timeoutMs` (default 5000) or if `check` throws.
   */
  waitFor<T>(check: () => T | undefined | null | false, opts: WaitForOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.#events.off('change', evaluate);
        fn();
      };
      const evaluate = () => {
        try {
          const v = check();
          if (v) finish(() => resolve(v));
        } catch (err) {
          finish(() => reject(err));
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(
                `slack double: condition not met within ${timeoutMs} ms ` +
                  `(${this.#messages.length} messages, ${this.#ephemerals.length} ephemerals, ${this.#calls.length} calls recorded)`,
              ),
            ),
          ),
        timeoutMs,
      );
      this.#events.on('change', evaluate);
      evaluate();
    });
  }

  #changed(): void {
    this.#version += 1;
    this.#events.emit('change');
  }
}

function clone<T>(v: T): T {
  return structuredClone(v);
}
