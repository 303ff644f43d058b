/**
 * The flock files of the testbed's shared folder (the OCFS2 emulation's own `.lock`, the Manager lease's
 * `<lease>.lock` on an emulated Volume), held for a moment by the testbed itself.
 *
 * Why: a real cluster recovers the locks of a node that hangs: OCFS2's DLM hands them on once the node is
 * evicted. The testbed has no eviction, so a Host frozen while one of its processes held such a lock (the
 * Manager's lease renewal holds one for a few ms every few seconds) would block every other Host on it until
 * the Host is thawed, and a failover test would measure that instead of the product. `freeze` therefore
 * freezes a Host between two holds: with every shared lock taken by the testbed, no process of the Host can
 * be inside one (one waiting for it is frozen while waiting, and holds nothing).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** Where the locks are: `.lock` at the top, the Volumes' at the top of their data (ocfs2-data/<uuid>/). */
const MAX_DEPTH = 3;
/** Each lock is waited for this long while the ones before it are held; then all are let go and taken again. */
const WAIT_EACH_S = 1;
const DEADLINE_MS = 10_000;

/** Every `*.lock` file under `dir` (sorted: one lock order for every caller), at most MAX_DEPTH deep. */
export function sharedLockFiles(dir: string, depth = 0): string[] {
  if (depth > MAX_DEPTH) return [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sharedLockFiles(p, depth + 1));
    else if (e.isFile() && e.name.endsWith('.lock')) out.push(p);
  }
  return out.sort();
}

interface Holder {
  release(): Promise<void>;
}

/** One attempt: every lock in order, each waited for WAIT_EACH_S; null (and nothing held) when one was busy. */
async function holdAll(files: readonly string[]): Promise<Holder | null> {
  const args = files.flatMap((f) => ['-w', String(WAIT_EACH_S), f, 'flock']);
  args.pop(); // the last file's command is the holder, not another flock
  const holder = spawn('flock', [...args, 'sh', '-c', 'echo held; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const ended = new Promise<void>((resolve) => {
    holder.on('close', () => resolve());
    holder.on('error', () => resolve());
  });
  const held = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve(true);
    });
    void ended.then(() => resolve(false));
  });
  if (!held) return null;
  return {
    release: async () => {
      holder.stdin.end();
      await ended;
    },
  };
}

/**
 * Runs `fn` while this process holds every lock file under `shared`. The locks are taken in order, each
 * waited for at most WAIT_EACH_S (so no Host waits long behind the ones already taken); when one is busy all
 * are let go and taken again, for up to DEADLINE_MS. Past that (a lock held by a Host frozen in a jitter
 * pause, say) `fn` runs anyway and the log says so: the fault still happens, as it would on a real cluster.
 */
export async function withSharedLocks<T>(shared: string, log: Logger, fn: () => T | Promise<T>): Promise<T> {
  const files = sharedLockFiles(shared);
  let holder: Holder | null = null;
  const deadline = Date.now() + DEADLINE_MS;
  while (files.length && !holder && Date.now() < deadline) holder = await holdAll(files);
  if (files.length && !holder)
    log.warn({ files }, 'the shared locks could not all be taken: the Host may freeze holding one');
  try {
    return await fn();
  } finally {
    await holder?.release();
  }
}
