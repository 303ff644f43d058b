/**
 * One Host's heartbeat probe: one persistent SSH connection (host key checked against the pins, like every
 * connection of the product) running a small loop on the Host that writes a line every `heartbeatMs`: `hb 1`
 * while something listens on the Host's SSH port, `hb 0` when nothing does (sshd stopped: open sessions
 * survive, new connections are refused). No new handshake per probe; the Host runs `grep` and `sleep` twice a
 * second.
 *
 * With the monitor's ReadGate, the connection is read on the monitor's tick, every Host in one wake-up
 * (ssh/read-gate.ts): a line is seen at most one tick after it arrived, never before.
 *
 * The probe only observes; the detector decides. A connection that goes silent for `staleAfterMs` is torn
 * down and reopened (a cut link is otherwise noticed by TCP only minutes later); while the Host cannot be
 * reached, a new attempt starts every `retryMs`, each bounded by `connectTimeoutMs`. `ECONNREFUSED` is reported
 * as `refused` (nothing listens: sshd is down).
 *
 * Something listening is not sshd answering: every `sshCheckEveryMs`, while the heartbeat flows, a plain TCP
 * connection to the SSH port must get sshd's banner (`SSH-…`) within `connectTimeoutMs` (no handshake, no
 * login: the check says hello and leaves). Two refused or silent checks in a row (sshd hung, MaxStartups
 * exhausted) are reported as `refused` until a check succeeds.
 */
import { connect } from 'node:net';
import type { Logger } from 'pino';
import type { Client as SshClient } from 'ssh2';
import { asAppError, ErrorCode } from '../errors.js';
import { openClient, type SshTarget } from '../ssh/index.js';
import type { GatedConnection, ReadGate } from '../ssh/read-gate.js';
import type { Observation } from './detector.js';

export interface ProbeOptions {
  target: SshTarget;
  user: string;
  knownHostsPath: string;
  loadPrivateKey: () => Promise<Buffer>;
  heartbeatMs: number;
  connectTimeoutMs: number;
  /** Silence after which the connection is considered dead and reopened. */
  staleAfterMs: number;
  /** How often a new TCP connection must get sshd's banner (0: never). */
  sshCheckEveryMs?: number;
  /** First wait between failed attempts; doubled (with jitter) up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  log: Logger;
  now?: () => number;
  /**
   * Reads the heartbeat connection only when this gate opens (the monitor's tick), once the heartbeat runs:
   * one wake-up per tick for every Host instead of one per line per Host. Without it, lines are read as they come.
   */
  gate?: ReadGate;
}

export interface HostProbe {
  readonly name: string;
  /** What the probe knows now. */
  observe(): Observation;
  /** The last connection problem, in words (null while connected). */
  readonly problem: string | null;
  close(): Promise<void>;
}

/**
 * The loop run on the Host: every `everyMs` a line `hb 1` (something listens on the port this session came
 * in on: sshd), `hb 0` (nothing does), or `hb ?` (cannot tell: no grep). The port is the session's own
 * (`$SSH_CONNECTION`), right behind NAT too. A failed write (the connection is gone) ends the loop, whatever
 * the shell's signal dispositions.
 */
export function heartbeatScript(everyMs: number): string {
  const secs = (everyMs / 1000).toFixed(3);
  // /proc/net/tcp{,6}: "sl local_address rem_address st …"; a listener is state 0A with remote port 0000.
  return [
    `p=$(printf ':%04X' "\${SSH_CONNECTION##* }");`,
    `while :; do`,
    `if ! command -v grep >/dev/null 2>&1; then s='?';`,
    `elif grep -qs "$p [0-9A-F]*:0000 0A" /proc/net/tcp /proc/net/tcp6; then s=1; else s=0; fi;`,
    `echo "hb $s" || exit 0;`,
    `sleep ${secs} || exit 0;`,
    `done`,
  ].join(' ');
}

const CHECK_FAILURES = 2;

export function startProbe(o: ProbeOptions): HostProbe {
  // Monotonic: a wall-clock step must not look like silence.
  const now = o.now ?? (() => performance.now());
  const log = o.log.child({ component: 'probe', host: o.target.name });
  let lastBeatAt: number | null = null;
  let listening: boolean | null = null;
  let lastListeningAt: number | null = null;
  let refused = false;
  let problem: string | null = 'not connected yet';
  let client: SshClient | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let staleTimer: NodeJS.Timeout | undefined;
  let sessionStart = 0;
  /** The current connection, when it goes through the gate. */
  let current: GatedConnection | undefined;

  /**
   * Reopens the connection once it has been silent for `staleAfterMs`. The check runs after pending input
   * is read (setImmediate): a monitor whose own event loop stalled sees the lines that did arrive first.
   */
  const armStale = () => {
    clearTimeout(staleTimer);
    staleTimer = setTimeout(() => {
      current?.drain(); // a gated connection's lines wait for the tick: read what has come, handled before the check
      setImmediate(() => {
        const last = lastBeatAt ?? sessionStart;
        if (closed) return;
        if (now() - last < o.staleAfterMs) return armStale();
        problem = `no heartbeat for ${o.staleAfterMs} ms: connection reopened`;
        // destroy, not end: a frozen or cut-off Host never answers the close. The gated connection too:
        // ssh2 no longer destroys a socket whose end it has already read.
        client?.destroy();
        current?.stream.destroy();
      });
    }, o.staleAfterMs);
  };

  /** One connection's life: resolves when it ends (closed, failed, or torn down as stale). */
  const session = async (): Promise<void> => {
    let c: SshClient | undefined;
    let conn: GatedConnection | undefined;
    try {
      conn = o.gate?.connect(o.target.host, o.target.port);
      current = conn;
      c = await openClient({
        socket: conn?.stream,
        target: o.target,
        user: o.target.user ?? o.user,
        knownHostsPath: o.knownHostsPath,
        loadPrivateKey: o.loadPrivateKey,
        connectTimeoutMs: o.connectTimeoutMs,
        keepaliveIntervalMs: 0,
        algorithms: undefined,
        log,
        onClient: (x) => {
          client = x;
        },
      });
    } catch (err) {
      const e = asAppError(err);
      refused = e.code === ErrorCode.sshConnect && e.details?.['reason'] === 'ECONNREFUSED';
      problem = e.userMessage;
      conn?.stream.destroy();
      return;
    }
    if (closed) return void c.end();
    refused = false;
    sessionStart = now();
    armStale(); // from the handshake on: a Host that freezes before the loop starts is noticed too
    const ended = new Promise<void>((resolve) => c!.once('close', () => resolve()));
    c.on('error', (err: Error) => {
      problem = err.message;
    });
    c.exec(heartbeatScript(o.heartbeatMs), (err, stream) => {
      if (err) {
        problem = `cannot start the heartbeat: ${err.message}`;
        c!.end();
        return;
      }
      problem = null;
      conn?.gate();
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf = (buf + chunk.toString('latin1')).slice(-4096);
        let nl = buf.indexOf('\n');
        while (nl !== -1) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === 'hb 1' || line === 'hb 0' || line === 'hb ?') {
            lastBeatAt = now();
            listening = line === 'hb ?' ? null : line === 'hb 1';
            if (listening) lastListeningAt = lastBeatAt;
            // The same timer pushed back (no new Timeout per line); armed with the full silence at the start.
            staleTimer?.refresh();
          }
          nl = buf.indexOf('\n');
        }
      });
      stream.stderr.resume();
      stream.on('close', () => c!.end());
    });
    await ended;
    conn?.stream.destroy();
    clearTimeout(staleTimer);
    problem ??= 'the heartbeat connection closed';
  };

  /** One banner check: null when sshd greeted us, else what went wrong. */
  const checkBanner = (): Promise<string | null> =>
    new Promise((resolve) => {
      const sock = connect({ host: o.target.host, port: o.target.port });
      let got = '';
      const done = (r: string | null) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(r);
      };
      const timer = setTimeout(
        () => done(`sshd accepted a connection but sent no banner within ${o.connectTimeoutMs} ms`),
        o.connectTimeoutMs,
      );
      sock.on('data', (d: Buffer) => {
        got = (got + d.toString('latin1')).slice(0, 512);
        if (got.includes('\n')) {
          if (got.startsWith('SSH-')) {
            sock.write('SSH-2.0-flexvdi-monitor-check\r\n');
            done(null);
          } else done('something other than sshd answers on the SSH port');
        }
      });
      sock.on('error', (err: NodeJS.ErrnoException) =>
        done(err.code === 'ECONNREFUSED' ? 'new SSH connections are refused' : `SSH port: ${err.message}`),
      );
      sock.on('close', () => done('sshd closed a new connection before its banner'));
    });
  let checking = false;
  /** What the banner checks found wrong (null: sshd answered one of the last two). */
  let checkProblem: string | null = null;
  let checkFailures = 0;
  let checkTimer: NodeJS.Timeout | undefined;
  const scheduleCheck = () => {
    if (!o.sshCheckEveryMs || closed) return;
    checkTimer = setTimeout(async () => {
      // Only while the heartbeat flows: otherwise the session's own reconnects tell what is wrong.
      if (!checking && lastBeatAt !== null && now() - lastBeatAt < o.staleAfterMs) {
        checking = true;
        const failed = await checkBanner();
        checking = false;
        checkFailures = failed ? checkFailures + 1 : 0;
        // Two in a row: one slow greeting (sshd busy with a burst of logins) is not an incident.
        if (checkFailures === CHECK_FAILURES)
          log.warn({ problem: failed }, 'SSH check failed twice in a row');
        checkProblem = checkFailures >= CHECK_FAILURES ? failed : null;
        refused = checkProblem !== null;
      }
      scheduleCheck();
    }, o.sshCheckEveryMs);
  };
  scheduleCheck();

  const loop = async () => {
    let failures = 0;
    while (!closed) {
      const started = now();
      await session();
      if (closed) break;
      // A session that ran a while was fine: start over quickly. Failed attempts back off, with jitter, so
      // 100 Hosts coming back do not all knock at once, and a frozen sshd's backlog does not fill up.
      failures = lastBeatAt !== null && lastBeatAt >= started ? 0 : failures + 1;
      const base = Math.min((o.retryMs ?? 500) * 2 ** Math.max(0, failures - 1), o.maxRetryMs ?? 4000);
      const wait = Math.max(0, base * (0.75 + Math.random() * 0.5) - (now() - started));
      await new Promise<void>((r) => {
        wake = r;
        retryTimer = setTimeout(r, wait);
      });
    }
  };
  const running = loop().catch((err: Error) => log.error({ err: err.message }, 'probe loop failed'));

  return {
    name: o.target.name,
    observe: () => ({ at: now(), lastBeatAt, listening, lastListeningAt, refused }),
    get problem() {
      return problem ?? checkProblem;
    },
    async close() {
      closed = true;
      clearTimeout(staleTimer);
      clearTimeout(checkTimer);
      clearTimeout(retryTimer);
      client?.destroy();
      current?.stream.destroy();
      wake?.();
      await running;
    },
  };
}
