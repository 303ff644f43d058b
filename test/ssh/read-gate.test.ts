/**
 * ReadGate (src/ssh/read-gate.ts) on real sockets: a gated connection's bytes stay in the kernel until the
 * gate opens, then arrive in order within that call's turn; before gate() it reads as data comes (the SSH
 * handshake); end and errors reach the stream; and ssh2 runs a real session over it against real OpenSSH.
 * "Not delivered yet" is proved against a twin connection that is not gated and did receive the same bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import type { ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClient } from '../../src/ssh/index.js';
import { ReadGate } from '../../src/ssh/read-gate.js';
import { eventually } from './helpers.js';
import { type SshdFixture, startSshd } from './sshd-fixture.js';

let server: Server;
let port: number;
const accepted: Socket[] = [];
const nextAccepted = async (n: number) => {
  await eventually(() => accepted.length >= n);
  return accepted[n - 1]!;
};

beforeAll(async () => {
  server = createServer((s) => {
    s.on('error', () => {});
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise((r) => server.close(r));
});

/** Everything a stream emitted, as text, and whether it ended / closed / failed. */
function record(stream: Duplex) {
  const r = { text: '', ended: false, closed: false, error: null as Error | null };
  stream.on('data', (d: Buffer) => {
    r.text += d.toString();
  });
  stream.on('end', () => {
    r.ended = true;
  });
  stream.on('close', () => {
    r.closed = true;
  });
  stream.on('error', (e) => {
    r.error = e;
  });
  return r;
}

/** A connection through `gate` to the test server: its stream, what it received, and the server's end. */
async function open(gate: ReadGate) {
  const conn = gate.connect('127.0.0.1', port);
  const got = record(conn.stream);
  const peer = await nextAccepted(accepted.length + 1);
  return { conn, got, peer };
}

/** Lets the nextTicks and promise jobs queued by a synchronous call run (not a wait for I/O). */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('ReadGate on TCP', () => {
  it('reads as data comes until gated; then only when the gate opens, everything, in order', async () => {
    const gate = new ReadGate();
    const { conn, got, peer } = await open(gate);
    // never gated: shows when the bytes have arrived
    const { conn: twin, got: twinGot, peer: twinPeer } = await open(gate);

    peer.write('before\n');
    await eventually(() => got.text === 'before\n');
    conn.gate();
    expect(gate.size).toBe(1);

    for (const line of ['one\n', 'two\n', 'three\n']) {
      peer.write(line);
      twinPeer.write(line);
    }
    await eventually(() => twinGot.text === 'one\ntwo\nthree\n');
    await settle();
    expect(got.text).toBe('before\n'); // arrived at this machine, not read

    gate.open();
    await settle();
    expect(got.text).toBe('before\none\ntwo\nthree\n');

    peer.write('four\n');
    twinPeer.write('four\n');
    await eventually(() => twinGot.text.endsWith('four\n'));
    conn.drain(); // one connection read now, as the probe does before judging silence
    await settle();
    expect(got.text).toBe('before\none\ntwo\nthree\nfour\n');

    conn.stream.destroy();
    twin.stream.destroy();
    await eventually(() => got.closed && gate.size === 0);
  });

  it('writes go out at once, gated or not (gated while still connecting: from the connect on)', async () => {
    const gate = new ReadGate();
    const conn = gate.connect('127.0.0.1', port);
    conn.gate();
    const peer = await nextAccepted(accepted.length + 1);
    let heard = '';
    peer.on('data', (d: Buffer) => {
      heard += d.toString();
    });
    conn.stream.write('ping\n');
    await eventually(() => heard === 'ping\n');
    expect(gate.size).toBe(1);
    conn.stream.destroy();
    await eventually(() => gate.size === 0);
  });

  it('an end from the other side reaches the stream when the gate opens, then it closes', async () => {
    const gate = new ReadGate();
    const { conn, got, peer } = await open(gate);
    const { got: twinGot, peer: twinPeer } = await open(gate);
    peer.write('x');
    await eventually(() => got.text === 'x');
    conn.gate();
    peer.end('last');
    twinPeer.end('last');
    await eventually(() => twinGot.ended); // the twin's end arrived: so has ours, sent first
    await settle();
    expect(got).toMatchObject({ text: 'x', ended: false });
    gate.open();
    await settle();
    expect(got.ended).toBe(true); // read in that same call: the data, then the end
    await eventually(() => got.closed);
    expect(got.text).toBe('xlast');
    expect(gate.size).toBe(0);
  });

  it('a reader that throws ends its own connection, not the turn of the others', async () => {
    const gate = new ReadGate();
    const { conn: a, peer: aPeer } = await open(gate);
    const { conn: b, got: bGot, peer: bPeer } = await open(gate);
    // never gated: shows when the bytes have arrived
    const { conn: twin, got: twinGot, peer: twinPeer } = await open(gate);
    let aError: Error | undefined;
    a.stream.on('error', (e) => {
      aError = e;
    });
    a.stream.on('data', () => {
      throw new Error('reader failed');
    });
    a.gate();
    b.gate();
    await eventually(() => gate.size === 2);
    aPeer.write('to a\n');
    bPeer.write('to b\n');
    twinPeer.write('sent\n');
    await eventually(() => twinGot.text === 'sent\n');
    expect(() => gate.open()).not.toThrow();
    await settle();
    expect(bGot.text).toBe('to b\n');
    await eventually(() => aError !== undefined);
    expect(aError?.message).toBe('reader failed');
    expect(gate.size).toBe(1);
    b.stream.destroy();
    twin.stream.destroy();
  });

  it('a refused connection fails the stream with ECONNREFUSED (what ssh2 reports as its own)', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const closedPort = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    const conn = new ReadGate().connect('127.0.0.1', closedPort);
    const got = record(conn.stream);
    await eventually(() => got.closed);
    expect((got.error as NodeJS.ErrnoException | null)?.code).toBe('ECONNREFUSED');
  });
});

describe('ReadGate under ssh2, against OpenSSH', () => {
  let f: SshdFixture;
  let knownHosts: string;
  beforeAll(async () => {
    f = await startSshd({ label: 'gate' });
    knownHosts = path.join(f.dir, 'known_hosts');
    await writeFile(knownHosts, await f.knownHostsText());
  });
  afterAll(async () => f?.stop());

  it('handshakes as usual, then a command’s output is read only when the gate opens', async () => {
    const gate = new ReadGate();
    const t = f.target();
    const conn = gate.connect(t.host, t.port);
    const client = await openClient({
      target: t,
      user: 'root',
      knownHostsPath: knownHosts,
      loadPrivateKey: () => readFile(f.clientKeyPath),
      connectTimeoutMs: 10_000,
      keepaliveIntervalMs: 0,
      algorithms: undefined,
      log: pino({ level: 'silent' }),
      onClient: () => {},
      socket: conn.stream,
    });
    // The command writes a line, then a marker file once a second line is written: the file proves the
    // line left the Host while the gate was shut.
    const marker = path.join(f.dir, 'second-line-written');
    const lines: string[] = [];
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec(`echo first; read -r _; echo second; touch ${marker}; sleep 30`, (err, ch) => {
        if (err) return reject(err);
        ch.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
        ch.stderr.resume();
        resolve(ch);
      }),
    );
    await eventually(() => lines.includes('first'));
    conn.gate();
    stream.write('go\n'); // writes are not gated
    await eventually(async () =>
      readFile(marker).then(
        () => true,
        () => false,
      ),
    );
    await settle();
    expect(lines).toEqual(['first']);
    // The line may still be on its way from sshd: open the gate until it is read (each opening reads all).
    await eventually(() => {
      gate.open();
      return lines.includes('second');
    });
    expect(lines).toEqual(['first', 'second']);
    client.destroy();
    await eventually(() => gate.size === 0);
  }, 30_000);
});
