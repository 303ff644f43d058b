/**
 * Where the testbed finds its own files. The shell scripts are read in place from `src/testbed/scripts`
 * (never copied to dist): the repo root is computed from this module's URL, which is either
 * `<repo>/src/testbed/paths.ts` (tests, run from the sources) or `<repo>/dist/src/testbed/paths.js` (the CLI).
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** True when this code runs from the TypeScript build output (`dist/`). */
export const runningFromDist = here.split(path.sep).includes('dist');

export const repoRoot = path.resolve(here, runningFromDist ? '../../..' : '../..');

/**
 * A Host sees this machine's files except the folders it has its own of (host-mounts.ts): a repo checked
 * out below one of them (a CI clone in /tmp, a home folder) would be invisible inside the Hosts, so its
 * state and the scripts the Hosts run go to /var/tmp instead.
 */
const HOST_OWN_DIRS = ['/tmp', '/run', '/root', '/home', '/var/log', '/dev'];
const repoHidden = HOST_OWN_DIRS.some((d) => repoRoot === d || repoRoot.startsWith(`${d}/`));
const visibleBase = path.join(
  '/var/tmp/flexvdi-testbed',
  createHash('sha256').update(repoRoot).digest('hex').slice(0, 8),
);

const sourceScriptsDir = path.join(repoRoot, 'src', 'testbed', 'scripts');

let copied: string | undefined;

/**
 * The Hosts run these scripts (host-init, the o2cb/mount emulation): a folder every Host can see. Copied on
 * first use, not when this module loads: code that only computes layouts (and its unit tests, run without
 * root) writes nothing.
 */
export function scriptsDir(): string {
  if (!repoHidden) return sourceScriptsDir;
  if (!copied) {
    const dir = path.join(visibleBase, 'scripts');
    mkdirSync(dir, { recursive: true });
    cpSync(sourceScriptsDir, dir, { recursive: true });
    copied = dir;
  }
  return copied;
}

/** Default parent of every testbed's state folder: `<repo>/.state/testbed/<name>/` (see HOST_OWN_DIRS). */
export const defaultStateRoot = repoHidden
  ? path.join(visibleBase, 'state')
  : path.join(repoRoot, '.state', 'testbed');

/** Machine-wide registry of running testbeds (tmpfs: gone after a reboot, like the namespaces it names). */
export const registryDir = '/run/flexvdi-testbed';

/** True when a Host cannot see `p` at its own path (it lies in a folder every Host has its own of). */
export const hiddenInHosts = (p: string): boolean =>
  HOST_OWN_DIRS.some((d) => p === d || p.startsWith(`${d}/`));

/**
 * Folders of this machine every Host is given at their own path, read-only, although they lie in a folder each
 * Host has its own of: this checkout (the Manager guest runs the stand-in from it, with its node_modules) and
 * node's install, when a clone or node lives under /tmp, /root or /home (host-mounts.ts mounts them).
 */
export function hostViews(): string[] {
  const node = path.dirname(path.dirname(process.execPath));
  return [...new Set([repoRoot, node])].filter(hiddenInHosts);
}

/** Whether a Host sees `p` at its own path (outside its own folders, or in a folder it is given). */
export const visibleInHosts = (p: string): boolean =>
  !hiddenInHosts(p) || hostViews().some((v) => p === v || p.startsWith(`${v}/`));

/** Where a path of a Host's own folder (`/tmp/x`) lies in that Host's folder on this machine. */
export function inHostDir(hostDir: string, p: string): string {
  const own: Record<string, string> = {
    '/run': 'run',
    '/root': 'root',
    '/home': 'home',
    '/tmp': 'tmp',
    '/var/log': 'log',
  };
  const d = HOST_OWN_DIRS.find((x) => p === x || p.startsWith(`${x}/`));
  if (!d || !own[d]) throw new Error(`${p} is not in a Host's own folder`);
  return path.join(hostDir, own[d], p.slice(d.length));
}
