/**
 * One SSH connection to one Host (user@ip:port), shared by every command for that Host: connects lazily,
 * checks the host key against the pins, multiplexes exec and SFTP channels up to a limit and queues beyond
 * it, closes itself when idle, and tells the pool when it stops taking work.
 *
 * OpenSSH refuses session channels beyond MaxSessions (10 by default) with "open failed". When that happens
 * while other channels are open, this connection's limit is lowered and the call waits for a slot instead
 * of failing; clean opens raise it back step by step (slots.ts). Keep maxChannelsPerConnection below the
 * Hosts' MaxSessions (default 8 < 10) and refusals stay rare.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Algorithms, ClientChannel, SFTPWrapper, Client as SshClient } from 'ssh2';
import { AppError, ErrorCode } from '../errors.js';
import { describeTarget, type TargetLabel } from './errors.js';
import { type RawExecResult, runOnChannel, withPgidMarker } from './exec-channel.js';
import { openClient } from './handshake.js';
import { ChannelSlots } from './slots.js';
import type { ConnectionStats, SshTarget } from './types.js';

export interface ConnectionSettings {
  key: string;
  target: SshTarget;
  user: string;
  knownHostsPath: string;
  loadPrivateKey: () => Promise<Buffer>;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  maxChannels: number;
  algorithms: Algorithms | undefined;
  log: Logger;
  /** Called once when the connection stops taking new work (closed, failed, idle or retired). */
  onGone: (conn: HostConnection) => void;
}

/** The connection went away before the call started: the pool may retry it on a fresh connection. */
export class StaleConnectionError extends Error {
  override readonly name = 'StaleConnectionError';
}

/** The server refused to open a session channel (OpenSSH: MaxSessions reached). */
class ChannelRefused extends Error {}

/** Retries of a refused channel open when no other channel of ours is open. */
const REFUSED_ALONE_RETRIES = 3;

/** How long an SFTP channel gets to close after end() before the connection is retired. */
const SFTP_CLOSE_GRACE_MS = 5000;

export class HostConnection {
  readonly ready: Promise<void>;
  #state: 'connecting' | 'ready' | 'closed' = 'connecting';
  #draining = false;
  #gone = false;
  #client: SshClient | undefined;
  #closed: Promise<void> | undefined;
  #slots: ChannelSlots;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly s: ConnectionSettings) {
    this.#slots = new ChannelSlots(s.maxChannels, () => this.#onIdle());
    this.ready = this.#connect();
    this.ready.catch(() => {});
  }

  /** Can take a new call: connecting or connected, not closed, not draining. */
  get usable(): boolean {
    return this.#state !== 'closed' && !this.#draining;
  }

  stats(): ConnectionStats {
    const slots = this.#slots;
    return {
      key: this.s.key,
      state: this.#state,
      activeChannels: slots.active,
      queued: slots.queued,
      channelLimit: slots.limit,
    };
  }

  async exec(
    who: TargetLabel,
    command: string,
    stdin: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<RawExecResult> {
    let released = false;
    const release = () => {
      if (!released) this.#slots.release();
      released = true;
    };
    const { value } = await this.#withSlot<ClientChannel, Promise<RawExecResult>>(
      who,
      signal,
      (client, cb) => client.exec(withPgidMarker(command), cb),
      (ch) => {
        const running = runOnChannel(ch, stdin, signal, {
          kill: (pgid) => this.#killGroup(pgid),
          closed: release,
          stuck: () => {
            release();
            this.#retire('a cancelled command did not end');
          },
          lost: () =>
            this.#state === 'closed'
              ? new AppError(
                  ErrorCode.sshConnect,
                  `connection to ${describeTarget(who)} lost during a command`,
                )
              : undefined,
        });
        running.catch(() => {}); // handled by the caller once #withSlot resolves
        return running;
      },
    );
    return value;
  }

  /** Runs `fn` with an SFTP session of its own (one channel slot); the session ends when `fn` settles. */
  async sftp<T>(who: TargetLabel, signal: AbortSignal, fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    let released = false;
    const release = () => {
      if (!released) this.#slots.release();
      released = true;
    };
    const { value: sftp } = await this.#withSlot<SFTPWrapper, SFTPWrapper>(
      who,
      signal,
      (client, cb) => client.sftp(cb),
      (channel) => channel.once('close', release),
    );
    try {
      return await abortable(fn(sftp), signal);
    } finally {
      sftp.end();
      setTimeout(() => {
        if (released) return;
        release();
        this.#retire('an SFTP session did not close');
      }, SFTP_CLOSE_GRACE_MS).unref();
    }
  }

  /** Ends the connection; running calls fail with `ssh.connect_failed`. */
  async close(): Promise<void> {
    this.#markGone();
    this.#state = 'closed';
    this.#slots.closeWith(() => new StaleConnectionError('connection closed'));
    const client = this.#client;
    if (!client || !this.#closed) return;
    client.end();
    const force = setTimeout(() => client.destroy(), 2000);
    await this.#closed;
    clearTimeout(force);
  }

  async #connect(): Promise<void> {
    const started = performance.now();
    try {
      const client = await openClient({
        ...this.s,
        onClient: (c) => {
          this.#client = c;
          this.#closed = new Promise((resolve) => c.once('close', () => resolve()));
          c.on('close', () => {
            this.#state = 'closed';
            this.#markGone();
            this.#slots.closeWith(() => new StaleConnectionError('connection closed'));
          });
        },
      });
      if (this.#state === 'closed') {
        client.end();
        throw new StaleConnectionError('connection closed while connecting');
      }
      this.#state = 'ready';
      this.s.log.debug({ ms: Math.round(performance.now() - started) }, 'ssh connected');
      this.#slots.pump();
    } catch (err) {
      this.#state = 'closed';
      this.#markGone();
      this.#slots.closeWith(() => new StaleConnectionError('connection failed'));
      throw err;
    }
  }

  /**
   * Waits for the connection and a slot, then opens a channel. A refused open (MaxSessions) waits for
   * another slot when other channels are open; alone, it is retried a few times after a short pause
   * (sessions the server has not yet freed) before it fails.
   */
  async #withSlot<C, R>(
    who: TargetLabel,
    signal: AbortSignal,
    open: (client: SshClient, cb: (err: Error | undefined, channel: C) => void) => void,
    onOpen: (channel: C) => R,
  ): Promise<{ value: R }> {
    await abortable(this.ready, signal);
    for (let alone = 0; ; ) {
      await this.#slots.acquire(signal);
      clearTimeout(this.#idleTimer);
      try {
        const opened = await this.#open(who, signal, open, onOpen);
        this.#slots.opened();
        return opened;
      } catch (err) {
        if (!(err instanceof ChannelRefused)) {
          this.#slots.release();
          throw err;
        }
        if (this.#slots.active > 1) {
          this.s.log.debug(
            { limit: this.#slots.lowerLimit() },
            'server refused a session; channel limit lowered',
          );
          this.#slots.release();
          continue;
        }
        this.#slots.release();
        if (++alone > REFUSED_ALONE_RETRIES) {
          throw new AppError(
            ErrorCode.sshConnect,
            `${describeTarget(who)} refused a session: ${err.message}`,
            {
              cause: err,
            },
          );
        }
        await abortable(sleep(50 * alone), signal);
      }
    }
  }

  /**
   * Opens a channel and runs `onOpen` on it inside ssh2's callback: packets that arrived with the open
   * confirmation (a fast command's exit status, its close) are dispatched in the same tick, before any
   * promise continuation, so listeners attached later would miss them. The result is boxed so a promise
   * returned by `onOpen` is not mistaken for the open itself failing.
   */
  #open<C, R>(
    who: TargetLabel,
    signal: AbortSignal,
    open: (client: SshClient, cb: (err: Error | undefined, channel: C) => void) => void,
    onOpen: (channel: C) => R,
  ): Promise<{ value: R }> {
    const client = this.#client;
    if (this.#state !== 'ready' || this.#draining || !client) {
      return Promise.reject(new StaleConnectionError('not connected'));
    }
    return new Promise((resolve, reject) => {
      // A live server answers a channel open at once. No answer within the connect timeout means the link
      // or the Host is gone (a cut link is only noticed by keepalives after ~45 s): the connection is retired
      // and the call goes to a fresh one (the pool retries a stale connection once), which fails to connect
      // within its own deadline if the Host is really gone. The call's deadline and cancel are honoured too.
      let settled = false;
      const done = () => {
        settled = true;
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
      };
      // A cancelled call gives up its open only: the connection may be carrying other calls' commands.
      const onAbort = () => {
        if (settled) return;
        done();
        reject(signal.reason);
      };
      const deadline = setTimeout(() => {
        if (settled) return;
        done();
        this.#abandon(`no answer to a channel open within ${this.s.connectTimeoutMs} ms`);
        reject(new StaleConnectionError(`${describeTarget(who)} did not answer a channel open`));
      }, this.s.connectTimeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        open(client, (err, channel) => {
          if (settled) {
            // Answered after we gave up: the channel is nobody's; close it.
            if (!err) (channel as { close?: () => void }).close?.();
            return;
          }
          done();
          if (!err) return resolve({ value: onOpen(channel) });
          const reason = (err as { reason?: unknown }).reason;
          if (this.#state === 'closed') reject(new StaleConnectionError(err.message));
          else if (reason !== undefined) reject(new ChannelRefused(err.message));
          else reject(new AppError(ErrorCode.sshConnect, `${describeTarget(who)}: ${err.message}`));
        });
      } catch (err) {
        done();
        reject(new StaleConnectionError((err as Error).message));
      }
    });
  }

  /** A connection that does not answer is not waited on: it stops taking work and is torn down. */
  #abandon(reason: string): void {
    this.s.log.warn({ reason }, 'ssh connection does not answer; replacing it');
    this.#retire(reason);
    this.#state = 'closed';
    this.#client?.destroy();
  }

  /** Kills a cancelled command's process group over a separate channel (outside the slots: best effort). */
  #killGroup(pgid: number): void {
    const client = this.#client;
    if (this.#state !== 'ready' || !client || !(Number.isInteger(pgid) && pgid > 1)) return;
    try {
      client.exec(`kill -9 -- -${pgid}`, (err, ch: ClientChannel) => {
        if (err)
          return this.s.log.warn({ err: err.message }, 'cannot open a channel to kill a cancelled command');
        ch.on('data', () => {});
        ch.stderr.on('data', () => {});
        ch.end();
      });
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'cannot kill a cancelled command');
    }
  }

  #onIdle(): void {
    if (this.#state !== 'ready') return;
    if (this.#draining) {
      this.#client?.end();
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.s.log.debug('ssh connection idle; closing');
      this.#draining = true;
      this.#markGone();
      this.#client?.end();
    }, this.s.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  /** Stop taking work here; end the connection once its open channels are done. */
  #retire(reason: string): void {
    if (this.#state === 'closed' || this.#draining) return;
    this.s.log.warn({ reason }, 'retiring ssh connection');
    this.#draining = true;
    this.#markGone();
    this.#slots.closeWith(() => new StaleConnectionError('connection retired'));
    this.#slots.pump();
  }

  #markGone(): void {
    clearTimeout(this.#idleTimer);
    if (this.#gone) return;
    this.#gone = true;
    this.s.onGone(this);
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
