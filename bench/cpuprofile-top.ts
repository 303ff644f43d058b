/**
 * bench/cpuprofile-top: a text summary of a V8 `.cpuprofile` (what `node --cpu-prof` writes), so a profile
 * can be read and compared without DevTools.
 *
 * Prints, over the samples that are not idle:
 *   - CPU time per part: our code (src/), Bolt (@slack/*), BullMQ + ioredis, other packages (by name),
 *     node internals (node:…, natives), and V8's own buckets ((garbage collector), (program));
 *   - the top frames by self time (any part);
 *   - per part (ours, Bolt, BullMQ/ioredis, other packages, node internals), the top frames by total time
 *     (the frame anywhere on the stack; a recursive frame counts once per sample).
 * A frame is a function at a place (name, file, line); files are shown relative to the project or the
 * package (node_modules/<pkg>/…).
 *
 * Run: node dist/bench/cpuprofile-top.js <file.cpuprofile | dir> [--top 15] [--skip-ms 0] [--from NAME]
 *        [--callers NAME] [--callees NAME]
 *   a directory: its newest .cpuprofile; --skip-ms ignores the first milliseconds (start-up, imports);
 *   --from: ignores the samples before the first one with a function named NAME on its stack (e.g.
 *   `--from handleSlashCommand`: from the first request on, start-up left out);
 *   --callers: also the frames that call functions named NAME (their time under NAME), to find who pays;
 *   --callees: also what functions named NAME spend their time in (by direct callee, and NAME's own time).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export type Part = 'ours' | 'bolt' | 'bullmq/ioredis' | 'other packages' | 'node internals' | 'v8';
const PARTS: readonly Part[] = ['ours', 'bolt', 'bullmq/ioredis', 'other packages', 'node internals', 'v8'];

/** Which part of the program a frame belongs to, and a short place for it. */
export function classify(cf: CallFrame): { part: Part; where: string; pkg?: string } {
  const url = cf.url.replace(/^file:\/\//, '');
  const line = cf.lineNumber >= 0 ? `:${cf.lineNumber + 1}` : '';
  if (!url) {
    if (/^\((garbage collector|program|idle|root)\)$/.test(cf.functionName)) return { part: 'v8', where: '' };
    return { part: 'node internals', where: '(native)' };
  }
  if (url.startsWith('node:')) return { part: 'node internals', where: `${url}${line}` };
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? '');
    const where = `${rest}${line}`;
    if (pkg.startsWith('@slack/')) return { part: 'bolt', where, pkg };
    if (pkg === 'bullmq' || pkg === 'ioredis' || pkg.startsWith('@ioredis/') || pkg === 'redis-parser')
      return { part: 'bullmq/ioredis', where, pkg };
    return { part: 'other packages', where, pkg };
  }
  const m = /\/(?:dist\/)?(src|bench)\/(.*)$/.exec(url);
  if (m) return { part: 'ours', where: `${m[1]}/${m[2]}${line}` };
  return { part: 'node internals', where: `${url}${line}` };
}

export interface Row {
  key: string;
  name: string;
  where: string;
  part: Part;
  pkg?: string | undefined;
  selfMs: number;
  totalMs: number;
}

export interface Summary {
  /** Time under frames named `callersOf`, by their caller (function, place). */
  callers: Map<string, number>;
  /** Time under frames named `calleesOf`, by their direct callee (or "(self)"). */
  callees: Map<string, number>;
  /** Non-idle sampled time, ms. */
  busyMs: number;
  idleMs: number;
  byPart: Map<Part, number>;
  byPackage: Map<string, number>;
  rows: Row[];
}

export interface SummaryOptions {
  skipMs?: number | undefined;
  from?: string | undefined;
  callersOf?: string | undefined;
  calleesOf?: string | undefined;
}

export function summarize(p: CpuProfile, o: SummaryOptions = {}): Summary {
  const { skipMs = 0, from, callersOf, calleesOf } = o;
  const callers = new Map<string, number>();
  const callees = new Map<string, number>();
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const frameKey = (cf: CallFrame) => `${cf.functionName}\u0000${cf.url}\u0000${cf.lineNumber}`;
  const rows = new Map<string, Row>();
  const rowOf = (n: ProfileNode): Row => {
    const key = frameKey(n.callFrame);
    let r = rows.get(key);
    if (!r) {
      const c = classify(n.callFrame);
      r = {
        key,
        name: n.callFrame.functionName || '(anonymous)',
        where: c.where,
        part: c.part,
        pkg: c.pkg,
        selfMs: 0,
        totalMs: 0,
      };
      rows.set(key, r);
    }
    return r;
  };
  const byPart = new Map<Part, number>();
  const byPackage = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let started = from === undefined;
  const hasFrame = (id: number | undefined, name: string): boolean => {
    for (; id !== undefined; id = parent.get(id))
      if (byId.get(id)?.callFrame.functionName === name) return true;
    return false;
  };
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: the interval the sample stands for ends at it.
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    t += p.timeDeltas[i] ?? 0;
    if ((t - p.startTime) / 1000 < skipMs) continue;
    const leaf = byId.get(p.samples[i]!);
    if (!leaf) continue;
    if (!started) {
      if (!hasFrame(leaf.id, from!)) continue;
      started = true;
    }
    if (leaf.callFrame.functionName === '(idle)') {
      idleMs += dt;
      continue;
    }
    busyMs += dt;
    const self = rowOf(leaf);
    self.selfMs += dt;
    byPart.set(self.part, (byPart.get(self.part) ?? 0) + dt);
    if (self.pkg) byPackage.set(self.pkg, (byPackage.get(self.pkg) ?? 0) + dt);
    let pendingCallee: string | undefined;
    const seen = new Set<string>();
    const seenCallers = new Set<string>();
    let below: ProfileNode | undefined;
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') break;
      const up = parent.get(id);
      if (callersOf && n.callFrame.functionName === callersOf && up !== undefined) {
        const c = byId.get(up)!;
        const k = `${c.callFrame.functionName || '(anonymous)'} ${classify(c.callFrame).where}`;
        if (!seenCallers.has(k)) callers.set(k, (callers.get(k) ?? 0) + dt);
        seenCallers.add(k);
      }
      // The outermost frame named calleesOf counts the sample once, under the frame it called.
      if (calleesOf && n.callFrame.functionName === calleesOf) {
        const k = below
          ? `${below.callFrame.functionName || '(anonymous)'} ${classify(below.callFrame).where}`
          : '(self)';
        pendingCallee = k;
      }
      below = n;
      const r = rowOf(n);
      if (seen.has(r.key)) continue;
      seen.add(r.key);
      r.totalMs += dt;
    }
    if (pendingCallee) callees.set(pendingCallee, (callees.get(pendingCallee) ?? 0) + dt);
  }
  return { busyMs, idleMs, byPart, byPackage, rows: [...rows.values()], callers, callees };
}

export function report(s: Summary, top = 15): string {
  const out: string[] = [];
  const pc = (ms: number) => `${((100 * ms) / (s.busyMs || 1)).toFixed(1).padStart(5)}%`;
  const ms = (x: number) => x.toFixed(0).padStart(7);
  const line = (r: Row, v: number) =>
    `${ms(v)} ms ${pc(v)}  ${r.name.slice(0, 48).padEnd(48)} ${r.where.slice(0, 90)}`;
  out.push(`busy ${s.busyMs.toFixed(0)} ms sampled (idle ${s.idleMs.toFixed(0)} ms not counted)`);
  out.push('', 'self time by part');
  for (const part of PARTS)
    out.push(`${ms(s.byPart.get(part) ?? 0)} ms ${pc(s.byPart.get(part) ?? 0)}  ${part}`);
  const pkgs = [...s.byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  out.push('', 'self time by package');
  for (const [pkg, v] of pkgs) out.push(`${ms(v)} ms ${pc(v)}  ${pkg}`);
  out.push('', `top ${top} frames by self time`);
  for (const r of [...s.rows].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) out.push(line(r, r.selfMs));
  for (const part of PARTS.filter((x) => x !== 'v8')) {
    out.push('', `top ${top} frames by total time: ${part}`);
    const rows = s.rows.filter((r) => r.part === part).sort((a, b) => b.totalMs - a.totalMs);
    for (const r of rows.slice(0, top)) out.push(line(r, r.totalMs));
  }
  for (const [title, m] of [
    ['callers (time under the named function)', s.callers],
    ['callees (time of the named function, by what it called)', s.callees],
  ] as const) {
    if (!m.size) continue;
    out.push('', title);
    for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top))
      out.push(`${ms(v)} ms ${pc(v)}  ${k}`);
  }
  return out.join('\n');
}

function newestProfile(p: string): string {
  if (!statSync(p).isDirectory()) return p;
  const files = readdirSync(p)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(p, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) throw new Error(`no .cpuprofile in ${p}`);
  return files[0];
}

const isMain = process.argv[1] && /cpuprofile-top\.(js|ts)$/.test(process.argv[1]);
if (isMain) {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const target = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const str = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (!target) {
    console.error(
      'usage: cpuprofile-top <file.cpuprofile | dir> [--top 15] [--skip-ms 0] [--from NAME] [--callers NAME] [--callees NAME]',
    );
    process.exit(2);
  }
  const file = newestProfile(target);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  console.log(`${file}`);
  console.log(
    report(
      summarize(profile, {
        skipMs: opt('skip-ms', 0),
        from: str('from'),
        callersOf: str('callers'),
        calleesOf: str('callees'),
      }),
      opt('top', 15),
    ),
  );
}
