/**
 * What `/flexvdi diagnose` measures on one Host: a TCP connect to its SSH port (open, refused, timed out,
 * unreachable, with the time it took), and, over the product's SSH pool, a few reads every Debian Host can
 * answer — /proc (uptime, load, memory), `df -P /`, whether anything listens on the SSH port this session came
 * in on (as the monitor's heartbeat checks it), sshd processes (`pgrep`), and `o2cb cluster-status`. The
 * script only reads. Parsing and rendering are pure, so they are unit tests; every value from the Host is
 * escaped where it is shown.
 */
import { connect } from 'node:net';
import { z } from 'zod';
import { type Md, md } from '../../core/text.js';
import { sizeText } from '../../core/units.js';
import { duration } from '../../monitor/messages.js';

export const TCP_OUTCOMES = ['open', 'refused', 'timeout', 'unreachable', 'error'] as const;
export const tcpProbeSchema = z.object({
  outcome: z.enum(TCP_OUTCOMES),
  /** How long the attempt took (to the answer, or to the deadline). */
  ms: z.number(),
  /** The system error code when it failed otherwise (e.g. `EHOSTUNREACH`). */
  detail: z.string().nullable(),
});
export type TcpProbe = z.output<typeof tcpProbeSchema>;

/** One TCP connect to `ip:port`, closed at once; never throws. */
export function tcpProbe(
  ip: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<TcpProbe> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, signal });
    const done = (p: TcpProbe) => {
      socket.destroy();
      resolve(p);
    };
    socket.setTimeout(timeoutMs, () => done({ outcome: 'timeout', ms: ms(), detail: null }));
    socket.once('connect', () => done({ outcome: 'open', ms: ms(), detail: null }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.name;
      const outcome =
        code === 'ECONNREFUSED'
          ? 'refused'
          : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
            ? 'unreachable'
            : code === 'ETIMEDOUT'
              ? 'timeout'
              : 'error';
      done({ outcome, ms: ms(), detail: outcome === 'error' || outcome === 'unreachable' ? code : null });
    });
  });
}

/**
 * Runs under `sh -c` on the Host; one `key value` line per fact. The SSH port is the session's own
 * (`$SSH_CONNECTION`), as the monitor's heartbeat reads it; `-` marks a fact the Host could not give.
 */
export const DIAGNOSIS_SCRIPT = [
  'export LC_ALL=C',
  `echo "uptime $(cut -d' ' -f1 /proc/uptime 2>/dev/null)"`,
  `echo "load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"`,
  `echo "cpus $(getconf _NPROCESSORS_ONLN 2>/dev/null)"`,
  `echo "mem $(awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t+0, a+0}' /proc/meminfo 2>/dev/null)"`,
  `echo "rootfs $(df -Pk / 2>/dev/null | awk 'NR==2{print $2, $3, $4}')"`,
  `p=$(printf ':%04X' "\${SSH_CONNECTION##* }")`,
  `if grep -qs "$p [0-9A-F]*:0000 0A" /proc/net/tcp /proc/net/tcp6; then echo "sshd-listening yes"; else echo "sshd-listening no"; fi`,
  `if command -v pgrep >/dev/null 2>&1; then echo "sshd-procs $(pgrep -x sshd | wc -l)"; else echo "sshd-procs -"; fi`,
  `if command -v o2cb >/dev/null 2>&1; then echo "o2cb $(o2cb cluster-status 2>&1 | head -n 1)"; else echo "o2cb -"; fi`,
].join('\n');

export const hostFactsSchema = z.object({
  uptimeS: z.number().nullable(),
  load: z.tuple([z.number(), z.number(), z.number()]).nullable(),
  cpus: z.number().nullable(),
  memTotalKb: z.number().nullable(),
  memAvailableKb: z.number().nullable(),
  rootfs: z.object({ sizeKb: z.number(), usedKb: z.number(), availKb: z.number() }).nullable(),
  /** Whether something listens on the SSH port (null: could not tell). */
  sshdListening: z.boolean().nullable(),
  sshdProcs: z.number().nullable(),
  /** The first line of `o2cb cluster-status`; null when o2cb is not installed. */
  o2cb: z.string().nullable(),
});
export type HostFacts = z.output<typeof hostFactsSchema>;

const num = (s: string | undefined): number | null => {
  if (s === undefined || !/^\d+(\.\d+)?$/.test(s)) return null;
  return Number(s);
};

/** The facts in the script's output (what a line does not give is null). */
export function parseDiagnosis(stdout: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
    else if (line) kv.set(line, '');
  }
  const words = (k: string) => (kv.get(k) ?? '').split(/\s+/).filter(Boolean);
  const load = words('load').map(num);
  const mem = words('mem').map(num);
  const fs = words('rootfs').map(num);
  const listening = kv.get('sshd-listening');
  const o2cb = kv.get('o2cb');
  return {
    uptimeS: num(kv.get('uptime')),
    load: load.length === 3 && load.every((x) => x !== null) ? [load[0]!, load[1]!, load[2]!] : null,
    cpus: num(kv.get('cpus')),
    memTotalKb: mem[0] || null,
    memAvailableKb: mem[0] ? (mem[1] ?? null) : null,
    rootfs:
      fs.length === 3 && fs.every((x) => x !== null) && fs[0]
        ? { sizeKb: fs[0], usedKb: fs[1]!, availKb: fs[2]! }
        : null,
    sshdListening: listening === 'yes' ? true : listening === 'no' ? false : null,
    sshdProcs: num(kv.get('sshd-procs')),
    o2cb: o2cb === undefined || o2cb === '-' ? null : o2cb.slice(0, 200),
  };
}

/** `3.8 GiB`, `512 MiB` (from KiB, as /proc and df give them). */
export const bytes = (kb: number): string => sizeText(kb * 1024);

export const ROOTFS_WARN_PCT = 90;
export const MEM_WARN_PCT = 10;

/** One line per fact, ⚠️ where it needs attention; and which facts need it (`load`, `memory`…). */
export function factLines(f: HostFacts, port: number): { lines: Md[]; warnings: string[] } {
  const warnings: string[] = [];
  const warn = (bad: boolean, what: string) => {
    if (bad) warnings.push(what);
    return bad ? ':warning: ' : '';
  };
  const lines: Md[] = [];
  const up = f.uptimeS === null ? md`uptime unknown` : md`up ${duration(f.uptimeS * 1000)}`;
  const busy = f.load !== null && f.cpus !== null && f.load[0] > 2 * f.cpus;
  lines.push(
    md`• ${warn(busy, 'load')}${up}${f.load ? md`, load ${f.load.join(' ')}` : ''}${f.cpus ? md` on ${f.cpus} CPUs` : ''}`,
  );
  if (f.memTotalKb && f.memAvailableKb !== null) {
    const pct = Math.round((100 * f.memAvailableKb) / f.memTotalKb);
    lines.push(
      md`• ${warn(pct < MEM_WARN_PCT, 'memory')}Memory: ${bytes(f.memAvailableKb)} available of ${bytes(f.memTotalKb)} (${pct} %)`,
    );
  } else lines.push(md`• Memory: unknown`);
  if (f.rootfs) {
    const pct = Math.round((100 * f.rootfs.usedKb) / f.rootfs.sizeKb);
    lines.push(
      md`• ${warn(pct >= ROOTFS_WARN_PCT, 'root filesystem')}Root filesystem: ${pct} % used (${bytes(f.rootfs.usedKb)} of ${bytes(f.rootfs.sizeKb)}, ${bytes(f.rootfs.availKb)} free)`,
    );
  } else lines.push(md`• Root filesystem: unknown`);
  const procs =
    f.sshdProcs === null ? '' : md` (${f.sshdProcs} sshd process${f.sshdProcs === 1 ? '' : 'es'})`;
  lines.push(
    f.sshdListening === false
      ? md`• ${warn(true, 'sshd')}sshd: nothing listens on port ${port}${procs}: new connections are refused (this session survives)`
      : f.sshdListening
        ? md`• sshd: listening on port ${port}${procs}`
        : md`• sshd: could not tell whether it listens${procs}`,
  );
  lines.push(f.o2cb === null ? md`• o2cb: not installed` : md`• o2cb: \`${f.o2cb}\``);
  return { lines, warnings };
}
