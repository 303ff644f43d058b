/**
 * The SSH pool: one reused connection per Host (user@ip:port), commands multiplexed as channels on it, host
 * keys checked against the pinned known_hosts, errors as AppErrors naming the Host. See connection.ts for
 * the per-connection mechanics and remote-files.ts for atomic file writes.
 *
 * Retry policy: a command is re-sent once on a fresh connection only when the old connection went away
 * before the command started (the server never saw it); a command that may have run is never repeated here.
 */
import { readFile as readLocalFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { AppError, ErrorCode } from '../errors.js';
import { HostConnection, StaleConnectionError } from './connection.js';
import {
  cancelledError,
  commandFailedError,
  connectError,
  describeTarget,
  SshErrorCode,
  type TargetLabel,
} from './errors.js';
import { pinNames, probeAlgorithms } from './host-key-policy.js';
import { checkHostKey, entryMatchesHost, keyTypeOf } from './known-hosts.js';
import { readKnownHosts } from './known-hosts-file.js';
import { readFile, type WithSftp, writeFileAtomic } from './remote-files.js';
import { shellJoin } from './shell-quote.js';
import type { ExecOptions, ExecResult, HostKeyProbe, SshPool, SshPoolOptions, SshTarget } from './types.js';

export function createSshPool(options: SshPoolOptions): SshPool {
  const log = options.log;
  const connections = new Map<string, HostConnection>();
  let privateKey: Promise<Buffer> | undefined;
  let closed = false;

  const loadPrivateKey = (): Promise<Buffer> => {
    privateKey ??= loadKey(options.privateKey);
    return privateKey;
  };

  const userOf = (t: SshTarget) => t.user ?? options.user;

  function connectionFor(t: SshTarget): HostConnection {
    if (closed) throw poolClosed();
    const key = `${userOf(t)}@${t.host}:${t.port}`;
    const existing = connections.get(key);
    if (existing?.usable) return existing;
    const conn: HostConnection = new HostConnection({
      key,
      target: t,
      user: userOf(t),
      knownHostsPath: options.knownHostsPath,
      loadPrivateKey,
      connectTimeoutMs: options.connectTimeoutMs,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxChannels: options.maxChannelsPerConnection ?? 8,
      algorithms: options.algorithms,
      log: log.child({ ssh: key, host: t.name }),
      onGone: (c) => {
        if (connections.get(key) === c) connections.delete(key);
      },
    });
    connections.set(key, conn);
    return conn;
  }

  /**
   * Runs `fn` on the Host's connection under the call's deadline and cancel signal. A connection that went
   * away before the call started is replaced once; anything that may have reached the Host is not repeated.
   */
  async function onConnection<T>(
    t: SshTarget,
    opts: { timeoutMs?: number; signal?: AbortSignal },
    what: string,
    fn: (conn: HostConnection, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? options.commandTimeoutMs;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(timeoutError(t, what, timeoutMs)), timeoutMs);
    const onCancel = () => ctl.abort(cancelledError(`${what} on ${describeTarget(t)}`));
    opts.signal?.addEventListener('abort', onCancel, { once: true });
    if (opts.signal?.aborted) onCancel();
    try {
      try {
        return await fn(connectionFor(t), ctl.signal);
      } catch (err) {
        if (!(err instanceof StaleConnectionError)) throw err;
        log.debug(
          { host: t.name, reason: err.message },
          'ssh connection went away before the call; reconnecting',
        );
      }
      try {
        return await fn(connectionFor(t), ctl.signal);
      } catch (err) {
        if (err instanceof StaleConnectionError) throw connectError(t, err, options.connectTimeoutMs);
        throw err;
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCancel);
    }
  }

  async function exec(
    t: SshTarget,
    command: string | readonly string[],
    opts: ExecOptions = {},
  ): Promise<ExecResult> {
    const started = performance.now();
    const line = typeof command === 'string' ? command : shellJoin(command);
    const stdin = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
    const raw = await onConnection(t, opts, 'command', (conn, signal) => conn.exec(t, line, stdin, signal));
    const res: ExecResult = {
      code: raw.code,
      signal: raw.signal,
      stdout: raw.stdout.toString('utf8'),
      stderr: raw.stderr.toString('utf8'),
      ms: Math.round(performance.now() - started),
    };
    log.debug({ host: t.name, code: res.code, ms: res.ms }, 'ssh exec');
    if (res.code !== 0 && !opts.allowNonZero) throw commandFailedError(t, line, res);
    return res;
  }

  const withSftp: WithSftp = (t, opts, what, fn) =>
    onConnection(t, opts, what, (conn, signal) => conn.sftp(t, signal, fn)).catch((err) => {
      throw sftpError(t, what, err);
    });

  async function probeHostKey(t: SshTarget, opts: { signal?: AbortSignal } = {}): Promise<HostKeyProbe> {
    if (closed) throw poolClosed();
    const kh = await readKnownHosts(options.knownHostsPath);
    const names = pinNames(t);
    const pins = kh.entries.filter(
      (e) => e.marker === undefined && names.some((n) => entryMatchesHost(e, n, t.port)),
    );
    const key = await readServerKey(
      t,
      userOf(t),
      probeAlgorithms(pins),
      options.connectTimeoutMs,
      opts.signal,
    );
    const verdict = checkHostKey(kh.entries, names, t.port, key);
    return {
      keyType: keyTypeOf(key),
      keyBase64: key.toString('base64'),
      fingerprint: verdict.fingerprint,
      pinned: verdict.status,
    };
  }

  return {
    exec,
    probeHostKey,
    writeFileAtomic: (t, remotePath, content, opts) =>
      writeFileAtomic(withSftp, t, remotePath, content, opts),
    readFile: (t, remotePath, opts) => readFile(withSftp, t, remotePath, opts),
    stats: () => [...connections.values()].map((c) => c.stats()),
    async close() {
      closed = true;
      const all = [...connections.values()];
      connections.clear();
      await Promise.all(all.map((c) => c.close()));
    },
  };
}

/**
 * Connects far enough to receive the server's host key, then refuses it: the connection ends before any
 * authentication, so first contact never sends credentials to an unconfirmed Host.
 */
function readServerKey(
  t: SshTarget,
  user: string,
  algorithms: ReturnType<typeof probeAlgorithms>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  if (signal?.aborted) return Promise.reject(cancelledError(`host key probe of ${describeTarget(t)}`));
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let key: Buffer | undefined;
    let settled = false;
    const settle = (err: AppError | undefined) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      client.destroy();
      if (key && !err) resolve(key);
      else
        reject(
          err ?? connectError(t, new Error('connection closed before the host key was received'), timeoutMs),
        );
    };
    const onAbort = () => settle(cancelledError(`host key probe of ${describeTarget(t)}`));
    signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err) => settle(key ? undefined : connectError(t, err, timeoutMs)));
    client.on('close', () => settle(undefined));
    client.connect({
      host: t.host,
      port: t.port,
      username: user,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: algorithms },
      hostVerifier: (k: Buffer) => {
        key = Buffer.from(k);
        return false;
      },
    });
  });
}

/** A private key (a path or its contents), checked usable (no passphrase). */
export async function loadKey(source: Buffer | string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = typeof source === 'string' ? await readLocalFile(source) : source;
  } catch (err) {
    throw new AppError(
      SshErrorCode.privateKeyInvalid,
      `cannot read the SSH private key ${source}: ${(err as Error).message}`,
      {
        cause: err,
        userMessage: `The SSH private key file ${source} cannot be read; check ssh.privateKeyPath in the inventory.`,
      },
    );
  }
  const parsed = ssh2.utils.parseKey(buf);
  const bad = parsed instanceof Error ? parsed.message : undefined;
  if (bad) {
    const where = typeof source === 'string' ? source : 'given';
    throw new AppError(SshErrorCode.privateKeyInvalid, `SSH private key ${where} is not usable: ${bad}`, {
      userMessage: `The SSH private key ${where} is not usable (${bad}). A key without passphrase is needed.`,
    });
  }
  return buf;
}

function timeoutError(t: TargetLabel, what: string, ms: number): AppError {
  return new AppError(ErrorCode.sshTimeout, `${what} on ${describeTarget(t)} timed out after ${ms} ms`, {
    details: { target: t.name, host: t.host, timeoutMs: ms },
    userMessage: `${capitalize(what)} on ${t.name} did not finish within ${Math.round(ms / 1000)} s and was stopped.`,
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** SFTP status errors (numeric `code`) become `ssh.command_failed` naming the Host and the file. */
function sftpError(t: TargetLabel, what: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const message = (err as Error)?.message ?? String(err);
  return new AppError(ErrorCode.sshCommandFailed, `${what} on ${describeTarget(t)} failed: ${message}`, {
    cause: err,
    details: { target: t.name, host: t.host, sftpStatus: (err as { code?: unknown })?.code },
    userMessage: `${capitalize(what)} on ${t.name} failed: ${message}`,
  });
}

function poolClosed(): AppError {
  return new AppError(ErrorCode.sshConnect, 'the SSH pool is closed', { userMessage: 'Shutting down.' });
}
