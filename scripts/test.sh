#!/usr/bin/env bash
# The test command: set-up, type check (src + tests), lint (Biome), then the whole vitest suite on real
# Redis (a private redis-server the suite starts itself), real OpenSSH and ocfs2-tools on testbed Hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit
echo "== lint" && npx biome check .
echo "== tests"
report=$(mktemp --suffix=.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
rm -f "$report"
exit "$status"
