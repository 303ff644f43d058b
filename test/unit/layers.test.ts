/**
 * The suite's layering holds: every test file is in exactly one layer, every testbed glob still matches a
 * file, and no unit test reaches (through its runtime imports, transitively) a module that starts or needs a
 * server: Redis, BullMQ, the stack harness, the testbed. The test command also runs the unit layer as an
 * unprivileged user without network; this test names the offending import chain instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerOf, matches, TESTBED_GLOBS, UNIT_GLOBS } from '../support/layers.js';

const root = path.resolve(import.meta.dirname, '../..');
const rel = (f: string) => path.relative(root, f).split(path.sep).join('/');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}
const testFiles = filesUnder(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .map(rel);

/**
 * Modules a unit test must not load: they start servers or processes (a private redis-server, the whole
 * stack, testbed Hosts in network namespaces). Loading a client library (ioredis, BullMQ) is fine as long as
 * nothing connects: the sealed run in the test command (no network) catches a connection.
 */
const FORBIDDEN_FILES = [
  'src/local-redis.ts',
  'src/testbed/index.ts',
  'src/testbed/up.ts',
  'src/testbed/network.ts',
  'test/support/harness.ts',
  'test/support/global-setup.ts',
];

/** Runtime imports of a file (`import type` and `export type` are erased by the compiler). */
function importsOf(file: string): string[] {
  const src = readFileSync(path.join(root, file), 'utf8');
  const specs: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) specs.push(m[1]!);
  for (const m of src.matchAll(/^import\s+'([^']+)'/gm)) specs.push(m[1]!);
  return specs;
}

/** The first chain from `file` to a forbidden module, or null. */
function forbiddenChain(file: string): string[] | null {
  const seen = new Set<string>();
  const walk = (f: string, chain: string[]): string[] | null => {
    if (seen.has(f)) return null;
    seen.add(f);
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('.')) continue;
      const target = rel(path.resolve(root, path.dirname(f), spec)).replace(/\.js$/, '.ts');
      if (FORBIDDEN_FILES.includes(target)) return [...chain, f, target];
      const found = walk(target, [...chain, f]);
      if (found) return found;
    }
    return null;
  };
  return walk(file, []);
}

describe('test layers', () => {
  it('puts every test file in one layer: no file matches both the unit and the testbed globs', () => {
    const both = testFiles.filter(
      (f) => UNIT_GLOBS.some((g) => matches(g, f)) && TESTBED_GLOBS.some((g) => matches(g, f)),
    );
    expect(both).toEqual([]);
    expect(layerOf('test/unit/layers.test.ts')).toBe('unit');
    expect(layerOf('test/registration/replace.test.ts')).toBe('testbed');
    expect(layerOf('test/core/cancel.test.ts')).toBe('integration');
    for (const f of testFiles.filter((t) => layerOf(t) === 'unit'))
      expect(f.startsWith('test/unit/'), f).toBe(true);
  });

  it('has no test file outside test/ (vitest runs test/** only)', () => {
    const stray = ['src', 'examples', 'bench', 'scripts'].flatMap((d) =>
      filesUnder(path.join(root, d))
        .filter((f) => /\.(test|spec)\.[cm]?[jt]s$/.test(f))
        .map(rel),
    );
    expect(stray).toEqual([]);
  });

  it('has no testbed glob that matches nothing (a moved file would silently change layer)', () => {
    for (const g of TESTBED_GLOBS) {
      const prefix = g.split('*')[0]!;
      expect(
        testFiles.some((f) => f.startsWith(prefix) && layerOf(f) === 'testbed'),
        g,
      ).toBe(true);
    }
  });

  it('keeps unit tests away from the private redis-server, the stack harness and the testbed', () => {
    const offenders = testFiles
      .filter((f) => layerOf(f) === 'unit')
      .map((f) => forbiddenChain(f))
      .filter((c): c is string[] => c !== null)
      .map((c) => c.join(' → '));
    expect(offenders).toEqual([]);
  });

  it('finds a forbidden chain when there is one (the check can fail)', () => {
    expect(forbiddenChain('test/core/cancel.test.ts')).not.toBeNull();
  });
});
