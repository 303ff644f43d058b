/**
 * The Manager stand-in must run as its own process (inside its own network namespace), so it needs a
 * JavaScript entry file. From the build (`dist/`) that is dist/src/testbed/manager/main.js. When the testbed
 * runs from the TypeScript sources (vitest), the stand-in's import closure is transpiled (no type check) with
 * the project's own TypeScript into <repo>/.state/testbed-build/, mirroring the source tree so relative
 * imports and node_modules resolve; files are only redone when their source is newer.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { TestbedErrorCode } from './errors.js';
import { repoRoot, runningFromDist } from './paths.js';

const MAIN = path.join('src', 'testbed', 'manager', 'main');
const buildRoot = path.join(repoRoot, '.state', 'testbed-build');

const relativeImportRe = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)\.js['"]/g;

export async function standinEntry(): Promise<string> {
  if (runningFromDist) {
    const entry = path.join(repoRoot, 'dist', `${MAIN}.js`);
    if (!existsSync(entry)) {
      throw new AppError(TestbedErrorCode.prerequisite, `${entry} is missing: build first (npm run build)`);
    }
    return entry;
  }
  const ts = (await import('typescript')).default;
  const seen = new Set<string>();
  const queue = [path.join(repoRoot, `${MAIN}.ts`)];
  while (queue.length) {
    const src = queue.pop()!;
    if (seen.has(src)) continue;
    seen.add(src);
    if (!existsSync(src)) {
      throw new AppError(TestbedErrorCode.prerequisite, `Manager stand-in source ${src} is missing`);
    }
    const text = readFileSync(src, 'utf8');
    for (const m of text.matchAll(relativeImportRe)) {
      queue.push(path.resolve(path.dirname(src), `${m[1]}.ts`));
    }
    const out = path.join(buildRoot, path.relative(repoRoot, src)).replace(/\.ts$/, '.js');
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    const js = ts.transpileModule(text, {
      fileName: src,
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        esModuleInterop: true,
      },
    }).outputText;
    mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, js);
    renameSync(tmp, out);
  }
  const pkg = path.join(buildRoot, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, '{"type":"module"}\n');
  return path.join(buildRoot, `${MAIN}.js`);
}
