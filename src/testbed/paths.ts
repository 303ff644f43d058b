/**
 * Where the testbed finds its own files. The shell scripts are read in place from `src/testbed/scripts`
 * (never copied to dist): the repo root is computed from this module's URL, which is either
 * `<repo>/src/testbed/paths.ts` (tests, run from the sources) or `<repo>/dist/src/testbed/paths.js` (the CLI).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** True when this code runs from the TypeScript build output (`dist/`). */
export const runningFromDist = here.split(path.sep).includes('dist');

export const repoRoot = path.resolve(here, runningFromDist ? '../../..' : '../..');

export const scriptsDir = path.join(repoRoot, 'src', 'testbed', 'scripts');

/** Default parent of every testbed's state folder: `<repo>/.state/testbed/<name>/`. */
export const defaultStateRoot = path.join(repoRoot, '.state', 'testbed');

/** Machine-wide registry of running testbeds (tmpfs: gone after a reboot, like the namespaces it names). */
export const registryDir = '/run/flexvdi-testbed';
