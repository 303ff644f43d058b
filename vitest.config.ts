import { defineConfig } from 'vitest/config';
import { ALL_GLOBS, BROWSER_GLOBS, TESTBED_GLOBS, UNIT_GLOBS } from './test/support/layers.js';

/**
 * Coverage floor (v8, src/ and examples/): the figure the whole suite reached, rounded down to the whole
 * percent because some branches (retry and reconnect paths) are taken or not depending on timing. Reached:
 * lines 92.3–92.5 %, branches 78.7–78.8 % (2026-12-01); 92.48 / 79.36 with the monitor (2026-12-02).
 * Raise it when coverage rises; never lower it.
 */
const COVERAGE_FLOOR = { lines: 92, branches: 79 };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'examples/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      thresholds: COVERAGE_FLOOR,
    },
    // The layers (test/support/layers.ts) run one after another: unit, integration, testbed (its browser files last, alone).
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_GLOBS, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ALL_GLOBS,
          exclude: [...UNIT_GLOBS, ...TESTBED_GLOBS],
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'testbed',
          include: TESTBED_GLOBS,
          exclude: [...UNIT_GLOBS, ...BROWSER_GLOBS],
          // hang guards only: mkfs/fsck of a volume and Host start-ups take several times longer on a busy machine
          testTimeout: 180_000,
          hookTimeout: 240_000,
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: BROWSER_GLOBS,
          testTimeout: 180_000,
          hookTimeout: 240_000,
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
