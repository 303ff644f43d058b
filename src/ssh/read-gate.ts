/**
 * Reading many quiet connections on one beat instead of waking up for each. The heartbeat monitor's
 * connections each carry a few bytes twice a second, and on a small VM every wake-up of the process costs
 * 0.2–0.6 ms of CPU whatever it reads (an idle vCPU is woken through the hypervisor): for 100 Hosts, 200
 * wake-ups a second, five times the monitor's whole budget. Behind the gate, a connection's bytes wait in the
 * kernel's socket buffer until the gate opens (on the monitor's tick); then every connection is read, in
 * that call, without waiting: one wake-up per tick whatever the number of Hosts, and what a line says is known
 * at most one tick late, never earlier than it arrived.
 *
 * How: the connection is made with `net.connect`'s `onread` (its `pause()` then stops libuv reading it:
 * documented Node behaviour) and handed to ssh2 as its `sock` through a Duplex that forwards both ways. Until
 * `gate()` it is read as data comes (the SSH handshake should not wait for ticks). After `gate()` libuv no
 * longer reads it — the kernel stops reporting it after its next arrival, once — and `open()` reads it with a
 * non-blocking `read(2)` on its descriptor until there is nothing left (EAGAIN), end of file or an error,
 * which reach ssh2 as from its own socket. Writes always go through libuv. Where the descriptor cannot be had
 * (not a Unix socket handle), `gate()` leaves the connection read as data comes: correct, only dearer.
 */
import { readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** One read buffer for every connection: reads are synchronous on the one thread, and copied out. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export interface GatedConnection {
  /** The connection as ssh2's `sock`: already connecting, written through, read through the gate. */
  readonly stream: Duplex;
  /** From now on the connection is read only when the gate opens (or `drain()` is called). */
  gate(): void;
  /** Reads what has arrived now (gated connections only; a no-op otherwise). */
  drain(): void;
}

interface Member {
  sock: Socket;
  fd: number;
  stream: Duplex;
  /** Called when the gate read the end of the stream. */
  onEof: () => void;
}

/** The descriptor of a connected TCP socket, where Node exposes it on its handle (Unix). */
function descriptorOf(sock: Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** At most this many reads per connection per opening (4 MiB): a Host that floods does not hold up the tick. */
const MAX_READS = 64;

/** Ends a gated connection with an error (its stream hears it as from its own socket). */
function fail(m: Member, members: Set<Member>, err: Error): void {
  members.delete(m);
  m.sock.destroy(err);
}

/**
 * Reads what the kernel holds for one gated connection, without waiting. Stops as soon as the connection
 * leaves the gate or its socket is no longer the one whose descriptor was taken (its reader may close it on
 * what it just read): the descriptor may then belong to another socket. A reader that throws ends its own
 * connection, not the caller's tick.
 */
function drainMember(m: Member, members: Set<Member>): void {
  for (let reads = 0; reads < MAX_READS && members.has(m); reads++) {
    if (m.sock.destroyed || descriptorOf(m.sock) !== m.fd) {
      members.delete(m);
      return;
    }
    let n: number;
    // An empty socket answers EAGAIN, thrown as an Error each time: without a stack trace it is cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      n = readSync(m.fd, READ_BUFFER, 0, READ_BUFFER.length, null);
    } catch (err) {
      Error.stackTraceLimit = limit;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') fail(m, members, err as Error);
      return;
    }
    Error.stackTraceLimit = limit;
    try {
      if (n === 0) {
        // End of file: the other side closed; the stream hears the end, then the close.
        members.delete(m);
        m.onEof();
        m.stream.push(null);
        m.sock.destroy();
        return;
      }
      m.stream.push(Buffer.from(READ_BUFFER.subarray(0, n)));
    } catch (err) {
      fail(m, members, err as Error);
      return;
    }
  }
}

export class ReadGate {
  readonly #members = new Set<Member>();

  /** Opens a TCP connection whose reads can be put behind this gate. */
  connect(host: string, port: number): GatedConnection {
    const members = this.#members;
    let member: Member | undefined;
    let stream: Duplex | undefined;
    let eofRead = false;
    const sock = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          stream?.push(Buffer.from(buf.subarray(0, n)));
          return true;
        },
      },
    });
    const s = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (sock.destroyed) return cb(new Error('the connection is closed'));
        sock.write(chunk, (err) => cb(err ?? null));
      },
      final(cb) {
        sock.end(() => cb());
      },
      destroy(err, cb) {
        if (member) members.delete(member);
        sock.destroy();
        cb(err);
      },
    });
    stream = s;
    // ssh2 waits for 'connect' on a socket that says it is connecting (else it takes it as connected and,
    // when the connect fails, reports a lost handshake on top of the refusal).
    Object.defineProperty(s, 'connecting', { get: () => sock.connecting });
    sock.once('connect', () => s.emit('connect'));
    sock.on('end', () => s.push(null));
    sock.on('error', (err) => s.destroy(err));
    sock.on('close', () => {
      if (member) members.delete(member);
      // After an end read through the gate, the stream closes once its reader has seen that end.
      if (s.readableEnded || !eofRead) s.destroy();
      else s.once('end', () => s.destroy());
    });
    return {
      stream: s,
      gate: () => {
        const enter = () => {
          if (member || sock.destroyed) return;
          const fd = descriptorOf(sock);
          if (fd === undefined) return;
          sock.pause();
          member = {
            sock,
            fd,
            stream: s,
            onEof: () => {
              eofRead = true;
            },
          };
          members.add(member);
        };
        if (sock.connecting) sock.once('connect', enter);
        else enter();
      },
      drain: () => {
        if (member && members.has(member)) drainMember(member, members);
      },
    };
  }

  /** How many connections are behind the gate. */
  get size(): number {
    return this.#members.size;
  }

  /** Reads, now, what every gated connection has received: handed to each stream before this returns. */
  open(): void {
    if (!this.#members.size) return;
    for (const m of [...this.#members]) drainMember(m, this.#members);
  }
}
