/**
 * Prints the test command's last lines from vitest's JSON report: per layer (test/support/layers.ts) the
 * counts and the wall time the layer ran (layers run one after another: `sequence.groupOrder`), the total,
 * and the coverage figures when a summary is given.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LAYERS, type Layer, layerOf } from './layers.js';

interface FileResult {
  name: string;
  status: string;
  message?: string;
  startTime: number;
  endTime: number;
  assertionResults: { status: string }[];
}
interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numFailedTestSuites: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: FileResult[];
}
interface Pct {
  pct: number;
  covered: number;
  total: number;
}

const [reportFile, coverageFile] = process.argv.slice(2);
const r = JSON.parse(readFileSync(reportFile!, 'utf8')) as Report;
const root = path.resolve(import.meta.dirname, '../..');
const rows = new Map<
  Layer,
  { passed: number; failed: number; skipped: number; broken: number; start: number; end: number }
>();
const broken: string[] = [];
for (const f of r.testResults) {
  const layer = layerOf(path.relative(root, f.name).split(path.sep).join('/'));
  const row = rows.get(layer) ?? { passed: 0, failed: 0, skipped: 0, broken: 0, start: Infinity, end: 0 };
  // A file that failed outside its tests (an import error, a hook) has no failed test to count: say so.
  if (f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')) {
    row.broken++;
    broken.push(`${path.relative(root, f.name)}: ${(f.message ?? '').split('\n')[0]}`);
  }
  for (const a of f.assertionResults) {
    if (a.status === 'passed') row.passed++;
    else if (a.status === 'failed') row.failed++;
    else row.skipped++;
  }
  row.start = Math.min(row.start, f.startTime);
  row.end = Math.max(row.end, f.endTime);
  rows.set(layer, row);
}
for (const layer of LAYERS) {
  const row = rows.get(layer);
  if (!row) continue;
  const skipped = row.skipped ? `, ${row.skipped} skipped` : '';
  const files = row.broken ? `, ${row.broken} file(s) failed to run` : '';
  const secs = ((row.end - row.start) / 1000).toFixed(1);
  console.log(
    `${layer.padEnd(12)} ${row.passed} passed, ${row.failed} failed${skipped}${files} in ${secs} s`,
  );
}
const skipped = r.numPendingTests + r.numTodoTests;
const brokenNote = broken.length ? `, ${broken.length} file(s) failed to run` : '';
console.log(
  `${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}${brokenNote}`,
);
for (const b of broken) console.log(`  failed to run: ${b}`);
if (coverageFile && !existsSync(coverageFile))
  console.log('coverage: not reported (vitest writes none when tests fail)');
else if (coverageFile) {
  const total = (JSON.parse(readFileSync(coverageFile, 'utf8')) as { total: Record<string, Pct> }).total;
  const fig = (k: string) => `${k} ${total[k]!.pct.toFixed(2)} % (${total[k]!.covered}/${total[k]!.total})`;
  console.log(`coverage: ${['lines', 'branches', 'functions', 'statements'].map(fig).join(', ')}`);
}
