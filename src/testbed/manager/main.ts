/**
 * Process entry of the Manager stand-in, for the testbed to start inside a network namespace:
 *
 *   node dist/src/testbed/manager/main.js --host IP --port 443 --state FILE --password-file FILE
 *        [--username admin] [--fail-threshold-ms 60000] [--session-ttl-ms 1800000]
 *        [--tls-key FILE --tls-cert FILE] [--log-level info]
 *
 * or, as a testbed Host's guest (scripts/flexvdi-manager.sh starts it so), from its disk image — the state
 * file that also holds the admin login, the TLS identity and fail_threshold (state.ts `ImageIdentity`):
 *
 *   node …/main.js --image FILE --host IP --port 443 --running-on FQDN
 *        --lease-file FILE --lease-owner FQDN --lease-ms 20000 [--session-ttl-ms N] [--log-level info]
 *
 * Once listening it prints ONE JSON line on stdout: {"url","fingerprint256","host","port","pid"}; logs go to
 * stderr. SIGTERM or SIGINT closes the server (a guest releases its lease) and the process exits 0; a guest
 * that loses its lease stops serving and exits 4. Bad arguments exit 2, start failure 1.
 * `main()` holds everything; the last lines only run it when this file is the program.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import { Lease, type LeaseOptions } from './lease.js';
import { type ManagerStandin, startManagerStandin } from './server.js';
import { StandinStore } from './state.js';

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
  '[--fail-threshold-ms N] [--session-ttl-ms N] [--tls-key FILE --tls-cert FILE] [--log-level info]\n' +
  '   or: main.js --image FILE --lease-file FILE --lease-owner FQDN --lease-ms N --running-on FQDN ' +
  '[--host IP] [--port 443] [--session-ttl-ms N] [--log-level info]';

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
      image: { type: 'string' },
      'lease-file': { type: 'string' },
      'lease-owner': { type: 'string' },
      'lease-ms': { type: 'string' },
      'running-on': { type: 'string' },
    },
  });
  if (v.image) return parseGuestCli(v);
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

interface GuestValues {
  host: string;
  port: string;
  image?: string;
  'session-ttl-ms': string;
  'log-level': string;
  'lease-file'?: string;
  'lease-owner'?: string;
  'lease-ms'?: string;
  'running-on'?: string;
}

/** A guest's options: everything but the address and the lease comes from its disk image. */
function parseGuestCli(v: GuestValues) {
  const image = path.resolve(v.image!);
  const leaseFile = v['lease-file'];
  const owner = v['lease-owner'];
  const runningOn = v['running-on'];
  if (!leaseFile || !owner || !v['lease-ms'] || !runningOn) {
    throw new Error('--image needs --lease-file, --lease-owner, --lease-ms and --running-on');
  }
  const ttlMs = wholeNumber(v['lease-ms'], 'lease-ms');
  if (ttlMs < 1000) throw new Error('--lease-ms must be at least 1000');
  const id = StandinStore.load(image).image;
  if (!id) throw new Error(`${image} is not a Manager disk image (no image identity)`);
  return {
    host: v.host,
    port: wholeNumber(v.port, 'port'),
    stateFile: image,
    username: id.username,
    passwordSha256: id.password_sha256,
    failThresholdMs: id.fail_threshold_ms,
    sessionTtlMs: wholeNumber(v['session-ttl-ms'], 'session-ttl-ms'),
    tls: id.tls,
    runningOn,
    leaseOptions: { file: path.resolve(leaseFile), owner, ttlMs },
    logLevel: v['log-level'],
  };
}

export async function main(argv: string[], io: MainIo = processIo()): Promise<number> {
  let cli: ReturnType<typeof parseCli> & { leaseOptions?: LeaseOptions };
  try {
    cli = parseCli(argv);
  } catch (err) {
    io.stderr(`manager stand-in: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { logLevel, leaseOptions, ...options } = cli;
  const log = io.log ?? pino({ level: logLevel }, pino.destination(2));
  let standin: ManagerStandin;
  let onLost: (reason: string) => void = () => undefined;
  const leaseLost = new Promise<string>((resolve) => {
    onLost = resolve;
  });
  try {
    standin = await startManagerStandin({
      ...options,
      ...(leaseOptions
        ? { lease: { lease: new Lease(leaseOptions), ttlMs: leaseOptions.ttlMs, onLost: (r) => onLost(r) } }
        : {}),
      log,
    });
  } catch (err) {
    io.stderr(`manager stand-in: cannot start: ${(err as Error).message}`);
    return 1;
  }
  const { url, fingerprint256, host, port } = standin;
  io.stdout(JSON.stringify({ url, fingerprint256, host, port, pid: process.pid }));
  let onTerm: () => void = () => undefined;
  let onInt: () => void = () => undefined;
  const signal = await Promise.race([
    new Promise<string>((resolve) => {
      onTerm = () => resolve('SIGTERM');
      onInt = () => resolve('SIGINT');
      io.signals.once('SIGTERM', onTerm);
      io.signals.once('SIGINT', onInt);
    }),
    leaseLost.then(() => 'lease-lost'),
  ]);
  io.signals.off('SIGTERM', onTerm);
  io.signals.off('SIGINT', onInt);
  log.info({ signal }, 'Manager stand-in stopping');
  await standin.close();
  return signal === 'lease-lost' ? 4 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A guest that lost its lease dies at once, whatever handle would keep the loop alive (as sanlock kills
    // the VM): its Host's `flexvdi-manager status` must say stopped, so another start there is not refused.
    if (code === 4) process.exit(code);
  });
}
