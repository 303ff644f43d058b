#!/usr/bin/env bash
# The test command (`npm test`): set-up (with Chromium), type check (src + tests, and the browser console), lint (Biome), the unit layer sealed (as an
# unprivileged user in a network namespace with no network: proof it needs neither root nor Redis), then the
# three layers in order — unit, integration (a private redis-server, the Slack double, a local sshd), testbed
# (root, network namespaces, real OpenSSH and ocfs2-tools) — with v8 coverage and its floor. Prints each
# layer's counts and time, and the coverage figures. Arguments (test files, -t …) run only those, without
# coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit && npx tsc -p web/console/tsconfig.json
echo "== lint" && npx biome check .

if (($# == 0)); then
  # As uid 65534 when it can read the checkout (not one under root's private home): then no root either.
  as=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp)
  who="uid 65534"
  if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r package.json; then
    as=() who="root: uid 65534 cannot read this checkout"
  fi
  echo "== unit layer, sealed ($who, no network)"
  t0=$(date +%s%N)
  unshare --net "${as[@]}" npx vitest run --configLoader runner --project unit --reporter=dot
  echo "unit layer sealed ($who): passed in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fi

echo "== tests"
report=$(mktemp --suffix=.json)
status=0
coverage=()
(($# == 0)) && coverage=(--coverage)
npx vitest run "${coverage[@]}" --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
npx tsx test/support/summary.ts "$report" "$( ((${#coverage[@]})) && echo coverage/coverage-summary.json)" || true
rm -f "$report"
((status == 0)) || echo "FAILED: vitest exited with $status (failed tests, unhandled errors or the coverage floor: see above)"
exit "$status"
