/**
 * SSH-layer error codes beyond the shared ones in src/errors.ts, and the translation of ssh2's errors
 * (which carry a `level` and sometimes a Node `code`) into AppErrors that name the Host.
 */
import { AppError, ErrorCode } from '../errors.js';

export const SshErrorCode = {
  /** A host key given to pinHostKey/replacePin is not a valid OpenSSH public key of its stated type. */
  keyInvalid: 'ssh.key_invalid',
  /** The SSH private key cannot be read or parsed (missing file, wrong format, passphrase-protected). */
  privateKeyInvalid: 'ssh.private_key_invalid',
  /** A known_hosts edit cannot be done safely (bad host name, wildcard entry naming the Host). */
  knownHostsInvalid: 'ssh.known_hosts_invalid',
  /** A caller passed something the SSH layer cannot use (relative remote path, bad file mode). */
  invalidArgument: 'ssh.invalid_argument',
} as const;

export interface TargetLabel {
  name: string;
  host: string;
  port: number;
}

export function describeTarget(t: TargetLabel): string {
  return `${t.name} (${t.host}:${t.port})`;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
]);

/** Maps an error emitted by an ssh2 Client while connecting to the right AppError. */
export function connectError(t: TargetLabel, err: unknown, connectTimeoutMs: number): AppError {
  const e = err as { level?: string; code?: unknown; message?: string };
  const where = describeTarget(t);
  const message = e?.message ?? String(err);
  const details = { target: t.name, host: t.host, port: t.port };
  if (e?.level === 'client-authentication') {
    return new AppError(ErrorCode.sshAuth, `SSH authentication to ${where} failed: ${message}`, {
      cause: err,
      details,
      userMessage:
        `The Host ${where} refused the product's SSH key. Install the public key in the SSH user's ` +
        'authorized_keys on that Host (registration does this) and try again.',
    });
  }
  if (e?.level === 'client-timeout' || e?.code === 'ETIMEDOUT') {
    return new AppError(
      ErrorCode.sshTimeout,
      `SSH connection to ${where} timed out after ${connectTimeoutMs} ms`,
      {
        cause: err,
        details,
        userMessage: `The Host ${where} did not answer SSH within ${connectTimeoutMs / 1000} s. Is it up and reachable?`,
      },
    );
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const reason = code && UNREACHABLE.has(code) ? code : message;
  return new AppError(ErrorCode.sshConnect, `SSH connection to ${where} failed: ${reason}`, {
    cause: err,
    details: { ...details, reason },
    userMessage: `Cannot open an SSH connection to ${where} (${reason}). Is sshd running and the address right?`,
  });
}

export function cancelledError(what: string): AppError {
  return new AppError(ErrorCode.jobCancelled, `${what}: cancelled`, { userMessage: 'Cancelled.' });
}

/** Last `max` characters, for error details (a failing command's stderr can be long). */
export function tail(text: string, max = 2000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * `ssh.command_failed` for a non-zero exit. Details carry the command line (secrets belong on stdin, which
 * is never included), the exit code or signal and the tails of stderr and stdout.
 */
export function commandFailedError(
  t: TargetLabel,
  command: string,
  res: { code: number | null; signal: string | null; stdout: string; stderr: string },
): AppError {
  const how =
    res.code !== null ? `exit ${res.code}` : res.signal ? `killed by ${res.signal}` : 'no exit status';
  const firstLine = res.stderr.trim().split('\n').pop() ?? '';
  return new AppError(
    ErrorCode.sshCommandFailed,
    `command failed on ${describeTarget(t)} (${how})${firstLine ? `: ${firstLine}` : ''}`,
    {
      details: {
        target: t.name,
        host: t.host,
        command: tail(command, 500),
        code: res.code,
        signal: res.signal,
        stderrTail: tail(res.stderr),
        stdoutTail: tail(res.stdout, 500),
      },
      userMessage: `A command failed on ${t.name} (${how})${firstLine ? `: ${tail(firstLine, 300)}` : ''}`,
    },
  );
}
