/**
 * Process entry of the Manager stand-in, for the testbed to start inside a network namespace:
 *
 *   node dist/src/testbed/manager/main.js --host IP --port 443 --state FILE --password-file FILE
 *        [--username admin] [--fail-threshold-ms 60000] [--session-ttl-ms 1800000]
 *        [--tls-key FILE --tls-cert FILE] [--log-level info]
 *
 * Once listening it prints ONE JSON line on stdout: {"url","fingerprint256","host","port","pid"}; logs go to
 * stderr. SIGTERM or SIGINT closes the server and the process exits 0. Bad arguments exit 2, start failure 1.
 * `main()` holds everything; the last lines only run it when this file is the program.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import { type ManagerStandin, startManagerStandin } from './server.js';

export interface MainIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Where SIGTERM/SIGINT come from: `process` when run as a program. */
  signals: Pick<NodeJS.EventEmitter, 'once' | 'off'>;
  /** Default: pino at --log-level on stderr. */
  log?: Logger;
}

const USAGE =
  'usage: main.js --state FILE --password-file FILE [--host 127.0.0.1] [--port 443] [--username admin] ' +
  '[--fail-threshold-ms N] [--session-ttl-ms N] [--tls-key FILE --tls-cert FILE] [--log-level info]';

const processIo = (): MainIo => ({
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  signals: process,
});

function wholeNumber(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
}

/** The options of `startManagerStandin` from the command line; throws a one-line reason. */
function parseCli(argv: string[]) {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '443' },
      state: { type: 'string' },
      'password-file': { type: 'string' },
      username: { type: 'string', default: 'admin' },
      'fail-threshold-ms': { type: 'string', default: '60000' },
      'session-ttl-ms': { type: 'string', default: '1800000' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
  });
  if (!v.state || !v['password-file']) throw new Error('--state and --password-file are required');
  if (Boolean(v['tls-key']) !== Boolean(v['tls-cert'])) throw new Error('give both --tls-key and --tls-cert');
  const password = readFileSync(v['password-file'], 'utf8').replace(/\r?\n$/, '');
  if (!password) throw new Error(`--password-file ${v['password-file']} is empty`);
  return {
    host: v.host,
    port: wholeNumber(v.port, 'port'),
    stateFile: path.resolve(v.state),
    username: v.username,
    password,
    failThresholdMs: wholeNumber(v['fail-threshold-ms'], 'fail-threshold-ms'),
    sessionTtlMs: wholeNumber(v['session-ttl-ms'], 'session-ttl-ms'),
    ...(v['tls-key'] && v['tls-cert']
      ? { tls: { key: readFileSync(v['tls-key'], 'utf8'), cert: readFileSync(v['tls-cert'], 'utf8') } }
      : {}),
    logLevel: v['log-level'],
  };
}

export async function main(argv: string[], io: MainIo = processIo()): Promise<number> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(argv);
  } catch (err) {
    io.stderr(`manager stand-in: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { logLevel, ...options } = cli;
  const log = io.log ?? pino({ level: logLevel }, pino.destination(2));
  let standin: ManagerStandin;
  try {
    standin = await startManagerStandin({ ...options, log });
  } catch (err) {
    io.stderr(`manager stand-in: cannot start: ${(err as Error).message}`);
    return 1;
  }
  const { url, fingerprint256, host, port } = standin;
  io.stdout(JSON.stringify({ url, fingerprint256, host, port, pid: process.pid }));
  const signal = await new Promise<string>((resolve) => {
    const stop = (name: string) => () => {
      io.signals.off('SIGTERM', onTerm);
      io.signals.off('SIGINT', onInt);
      resolve(name);
    };
    const onTerm = stop('SIGTERM');
    const onInt = stop('SIGINT');
    io.signals.once('SIGTERM', onTerm);
    io.signals.once('SIGINT', onInt);
  });
  log.info({ signal }, 'Manager stand-in stopping');
  await standin.close();
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
