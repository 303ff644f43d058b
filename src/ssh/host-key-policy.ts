/**
 * Host key pinning as the pool applies it: which host key algorithms to offer (only those of the pinned key
 * types, so a Host with ed25519 + rsa keys of which only rsa is pinned presents its rsa key, like OpenSSH's
 * client does), and the AppErrors for unknown and changed keys.
 */
import { AppError, ErrorCode } from '../errors.js';
import { describeTarget } from './errors.js';
import { algorithmsForKeyType, type KnownHostsEntry, type PinVerdict } from './known-hosts.js';
import type { SshTarget } from './types.js';

/** ssh2 1.17's default preference order (ssh-dss left out: OpenSSH disabled it). */
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

export type HostKeyAlgorithm = (typeof DEFAULT_HOST_KEY_ALGORITHMS)[number];

/** The names a Host's pins are filed under: its IP, and its FQDN when known. */
export function pinNames(t: SshTarget): string[] {
  return t.fqdn ? [t.host, t.fqdn] : [t.host];
}

/** Algorithms able to present one of the pinned key types, in `preferred` order. */
export function pinnedAlgorithms(
  pins: readonly KnownHostsEntry[],
  preferred: readonly string[] = DEFAULT_HOST_KEY_ALGORITHMS,
): HostKeyAlgorithm[] {
  const wanted = new Set(pins.flatMap((p) => algorithmsForKeyType(p.keyType)));
  return DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => wanted.has(a) && preferred.includes(a)).sort(
    (a, b) => preferred.indexOf(a) - preferred.indexOf(b),
  );
}

/** Pinned types first (so a probe compares like with like), then every other algorithm. */
export function probeAlgorithms(pins: readonly KnownHostsEntry[]): HostKeyAlgorithm[] {
  const first = pinnedAlgorithms(pins);
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

export function unknownHostKeyError(t: SshTarget, knownHostsPath: string, reason?: string): AppError {
  const where = describeTarget(t);
  return new AppError(
    ErrorCode.sshHostkeyUnknown,
    `no usable pinned host key for ${where} in ${knownHostsPath}${reason ? `: ${reason}` : ''}`,
    {
      details: { target: t.name, host: t.host, port: t.port, knownHostsPath },
      userMessage:
        `The SSH host key of ${where} is not pinned yet${reason ? ` (${reason})` : ''}. Register the Host ` +
        '(it shows the key fingerprint for you to confirm and pins it), then try again.',
    },
  );
}

export function mismatchError(
  t: SshTarget,
  knownHostsPath: string,
  verdict: Extract<PinVerdict, { status: 'mismatch' }>,
): AppError {
  const where = describeTarget(t);
  const details = {
    target: t.name,
    host: t.host,
    port: t.port,
    presented: verdict.fingerprint,
    pinned: verdict.expected,
    knownHostsLines: verdict.lines,
    revoked: verdict.revoked,
  };
  if (verdict.revoked) {
    return new AppError(
      ErrorCode.sshHostkeyMismatch,
      `${where} presented a revoked host key ${verdict.fingerprint}`,
      {
        details,
        userMessage: `${where} presented a host key marked @revoked in ${knownHostsPath}. Connection refused.`,
      },
    );
  }
  return new AppError(
    ErrorCode.sshHostkeyMismatch,
    `host key of ${where} changed: presented ${verdict.fingerprint}, pinned ${verdict.expected.join(', ')}`,
    {
      details,
      userMessage:
        `The SSH host key of ${where} has changed (now ${verdict.fingerprint}, pinned ` +
        `${verdict.expected.join(', ')}). This can be an attack; nothing was run on it. If the Host was ` +
        'reinstalled or replaced on purpose, re-pin its key through the replace-host procedure (it shows ' +
        'the new fingerprint for confirmation).',
    },
  );
}
