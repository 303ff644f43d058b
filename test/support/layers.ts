/**
 * The three layers of the suite, one place (vitest.config.ts builds its projects from it; the layering test
 * checks every test file lands in exactly one and that unit files import nothing that needs a server):
 * - unit: pure (parsing, rendering, cluster.conf, plan decisions, classifiers); no Redis, no root, no server.
 * - integration: real Redis (a private redis-server), the Slack double, the Manager stand-in, a local sshd.
 * - testbed: root and network namespaces: Hosts with real sshd and ocfs2-tools.
 * A file in no explicit layer is integration, so a new test file never goes unrun.
 */
export const LAYERS = ['unit', 'integration', 'testbed'] as const;
export type Layer = (typeof LAYERS)[number];

export const UNIT_GLOBS = ['test/unit/**/*.test.ts'];
/**
 * The demo and its console in Chromium: testbed tests (root), run by a project of their own after the other
 * testbed files, alone, so a browser does not compete with two testbeds for this machine's two cores.
 */
export const BROWSER_GLOBS = ['test/browser/**/*.test.ts'];
export const TESTBED_GLOBS = [
  'test/testbed/**/*.test.ts',
  ...BROWSER_GLOBS,
  'test/ocfs2/**/*.test.ts',
  'test/registration/**/*.test.ts',
  'test/storage/**/*.test.ts',
  'test/examples/**/*.test.ts',
  'test/e2e/doctor.test.ts',
  'test/alerts/hosts.test.ts',
  'test/monitor/heartbeat.test.ts',
  'test/monitor/restart.test.ts',
  'test/monitor/false-alarm.test.ts',
  'test/monitor/incidents.test.ts',
  'test/monitor/redis-outage.test.ts',
];
export const ALL_GLOBS = ['test/**/*.test.ts'];

/** The layer of a test file (path relative to the repository root, `/` separators). */
export function layerOf(file: string): Layer {
  if (UNIT_GLOBS.some((g) => matches(g, file))) return 'unit';
  if (TESTBED_GLOBS.some((g) => matches(g, file))) return 'testbed';
  return 'integration';
}

/** The globs' subset of glob syntax: `**` (any directories), `*` (within one path segment). */
export function matches(glob: string, file: string): boolean {
  const re = glob
    .split('/')
    .map((seg) =>
      seg === '**' ? '(?:.*/)?' : `${seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}/`,
    )
    .join('');
  return new RegExp(`^${re.replace(/\/$/, '')}$`).test(file);
}
