/**
 * Running one command on an open exec channel: stdin then EOF, stdout/stderr collected, exit status or
 * signal, cancellation.
 *
 * Cancelling must stop the remote command, not just our side of it: OpenSSH keeps a session (and its
 * MaxSessions slot) until the command exits, whatever the client closes. The SSH "signal" request cannot
 * do it (OpenSSH before 7.9, as on CentOS 7 Hosts, ignores it; 9.x refuses it for root sessions: "session
 * signalling requires privilege separation"). So every command first prints its process group id on
 * stderr (sshd makes each session's shell a session and group leader) and a cancel runs
 * `kill -9 -- -<pgid>` on a separate channel. That marker line is removed from the stderr callers see.
 */
import type { ClientChannel } from 'ssh2';

export const PGID_MARKER_CMD = 'echo "flexvdi-pgid:$$" >&2';
const PGID_MARKER_RE = /flexvdi-pgid:(\d+)\n/;
/** The marker is the command's first output; only the start of stderr is searched. */
const MARKER_WINDOW = 8192;

export interface RawExecResult {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecHooks {
  /** Kill the remote process group (best effort). */
  kill(pgid: number): void;
  /** The channel closed: its slot is free. Called exactly once, possibly after a cancel. */
  closed(): void;
  /** A cancelled command's channel has not closed within the grace period. */
  stuck(): void;
  /** The channel closed without an exit status: the connection dropped (or the server ended the session). */
  lost(): Error | undefined;
}

/** After a cancel, how long the server gets to close the channel before the connection is retired. */
const CANCEL_GRACE_MS = 5000;

export function withPgidMarker(command: string): string {
  return `${PGID_MARKER_CMD}\n${command}`;
}

function findMarker(stderr: Buffer): RegExpExecArray | null {
  return PGID_MARKER_RE.exec(stderr.subarray(0, MARKER_WINDOW).toString('latin1'));
}

export function runOnChannel(
  ch: ClientChannel,
  stdin: Buffer | undefined,
  signal: AbortSignal,
  hooks: ExecHooks,
): Promise<RawExecResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let exit: { code: number | null; signal: string | null } | undefined;
    let pgid: number | undefined;
    let cancelled = false;
    let settled = false;
    let closed = false;

    const onAbort = () => {
      if (settled) return;
      settled = true;
      cancelled = true;
      if (pgid !== undefined) hooks.kill(pgid);
      ch.close();
      setTimeout(() => {
        if (!closed) hooks.stuck();
      }, CANCEL_GRACE_MS).unref();
      reject(signal.reason);
    };
    ch.on('data', (d: Buffer) => out.push(d));
    let errBytes = 0;
    ch.stderr.on('data', (d: Buffer) => {
      errOut.push(d);
      errBytes += d.length;
      if (pgid !== undefined || errBytes - d.length > MARKER_WINDOW) return;
      const m = findMarker(Buffer.concat(errOut));
      if (!m) return;
      pgid = Number(m[1]);
      if (cancelled) hooks.kill(pgid);
    });
    ch.on('exit', (code: number | null, sig?: string) => {
      exit = { code: code ?? null, signal: sig ?? null };
    });
    ch.on('error', () => {});
    ch.on('close', () => {
      closed = true;
      hooks.closed();
      signal.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      const stderr = Buffer.concat(errOut);
      const m = findMarker(stderr);
      const clean = m
        ? Buffer.concat([stderr.subarray(0, m.index), stderr.subarray(m.index + m[0].length)])
        : stderr;
      const lost = exit ? undefined : hooks.lost();
      if (lost) reject(lost);
      else
        resolve({
          code: exit?.code ?? null,
          signal: exit?.signal ?? null,
          stdout: Buffer.concat(out),
          stderr: clean,
        });
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) {
      onAbort();
      return;
    }
    ch.end(stdin && stdin.length > 0 ? stdin : undefined);
  });
}
