/**
 * Opening an authenticated ssh2 Client to a Host whose key is pinned: the pins for its IP (and FQDN) are
 * read from known_hosts first (none → `ssh.hostkey_unknown` before any packet is sent), only host key
 * algorithms of the pinned types are offered, and the key the server presents is checked in `hostVerifier`
 * (raw key blob: `hostHash` unset) before authentication. Errors come back as AppErrors naming the Host.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import ssh2, { type Algorithms, type Client as SshClient } from 'ssh2';
import { AppError, ErrorCode } from '../errors.js';
import { connectError, describeTarget } from './errors.js';
import { mismatchError, pinNames, pinnedAlgorithms, unknownHostKeyError } from './host-key-policy.js';
import { checkHostKey, entryMatchesHost } from './known-hosts.js';
import { readKnownHosts } from './known-hosts-file.js';
import type { SshTarget } from './types.js';

export interface HandshakeOptions {
  target: SshTarget;
  user: string;
  knownHostsPath: string;
  loadPrivateKey: () => Promise<Buffer>;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  algorithms: Algorithms | undefined;
  log: Logger;
  /** Receives the Client as soon as it exists (so it can be ended while still connecting). */
  onClient: (client: SshClient) => void;
  /** A connection already under way to use instead of ssh2's own TCP connection (e.g. a ReadGate's). */
  socket?: Duplex | undefined;
}

export async function openClient(o: HandshakeOptions): Promise<SshClient> {
  const t = o.target;
  const kh = await readKnownHosts(o.knownHostsPath);
  const names = pinNames(t);
  const pins = kh.entries.filter(
    (e) => e.marker === undefined && names.some((n) => entryMatchesHost(e, n, t.port)),
  );
  if (pins.length === 0) throw unknownHostKeyError(t, o.knownHostsPath);
  const preferred = Array.isArray(o.algorithms?.serverHostKey) ? o.algorithms.serverHostKey : undefined;
  const algorithms = pinnedAlgorithms(pins, preferred);
  if (algorithms.length === 0) {
    const types = [...new Set(pins.map((p) => p.keyType))].join(', ');
    throw unknownHostKeyError(t, o.knownHostsPath, `pinned key types not usable: ${types}`);
  }
  const privateKey = await o.loadPrivateKey();

  const client = new ssh2.Client();
  o.onClient(client);
  return new Promise((resolve, reject) => {
    let settled = false;
    let keyError: AppError | undefined;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(keyError ?? handshakeError(t, err, o.connectTimeoutMs));
      client.end();
    };
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      client.setNoDelay(true); // Nagle + delayed ACK cost ~35 ms per command here otherwise
      resolve(client);
    });
    client.on('error', (err) => {
      if (!settled) fail(err);
      else o.log.warn({ err: err.message }, 'ssh connection error');
    });
    client.on('close', () => fail(new Error('connection closed during the handshake')));
    client.connect({
      ...(o.socket ? { sock: o.socket } : {}),
      host: t.host,
      port: t.port,
      username: o.user,
      privateKey,
      readyTimeout: o.connectTimeoutMs,
      keepaliveInterval: o.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      algorithms: { ...o.algorithms, serverHostKey: algorithms },
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(kh.entries, names, t.port, key);
        if (verdict.status === 'match') return true;
        keyError =
          verdict.status === 'mismatch'
            ? mismatchError(t, o.knownHostsPath, verdict)
            : unknownHostKeyError(t, o.knownHostsPath);
        return false;
      },
    });
  });
}

function handshakeError(t: SshTarget, err: unknown, connectTimeoutMs: number): AppError {
  if (err instanceof AppError) return err;
  if (/no matching host key format/.test((err as Error)?.message ?? '')) {
    return new AppError(
      ErrorCode.sshHostkeyMismatch,
      `${describeTarget(t)} offers none of its pinned key types`,
      {
        cause: err,
        details: { target: t.name, host: t.host, port: t.port },
        userMessage:
          `${describeTarget(t)} no longer offers the type of host key pinned for it: its keys changed. If the ` +
          'Host was reinstalled or replaced on purpose, re-pin it through the replace-host procedure.',
      },
    );
  }
  return connectError(t, err, connectTimeoutMs);
}
