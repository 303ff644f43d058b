#!/usr/bin/env bash
# The test command under load, N times in a row (default 3): beside it, another testbed whose Hosts are failed
# and healed in turn (link-down, freeze, sshd-stop) and the ack-latency benchmark in a loop. Stops at the first
# red run. Prints each run's closing lines (layers, counts, coverage) and how long it took.
#   bash scripts/soak.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bash scripts/setup.sh >/dev/null
logs=$(mktemp -d /tmp/flexvdi-soak.XXXXXX)
cli=(node dist/src/cli.js)
name=soak$$

cleanup() {
  # each loop is its own process group: a `testbed fail` or a benchmark child in flight goes with it
  for g in ${churn:-} ${bench:-}; do kill -- -"$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${cli[@]}" testbed down --name "$name" >/dev/null 2>&1 || true
  rm -rf "$logs/tmp"
}
trap cleanup EXIT

"${cli[@]}" testbed up --name "$name" --hosts 4 >"$logs/testbed-up.log" 2>&1
echo "soak: testbed $name up (4 Hosts); logs in $logs"
export name
setsid bash -c '
  cli=(node dist/src/cli.js) modes=(link-down freeze sshd-stop) i=0
  while :; do
    host=host$((i % 4 + 1)) mode=${modes[$((i % 3))]}
    "${cli[@]}" testbed fail "$host" --name "$name" --mode "$mode" || true
    sleep 3
    "${cli[@]}" testbed heal "$host" --name "$name" || true
    sleep 2
    i=$((i + 1))
  done' >>"$logs/churn.log" 2>&1 &
churn=$!
mkdir -p "$logs/tmp" # the benchmark's temporary files, removed with it
TMPDIR="$logs/tmp" setsid bash -c 'while :; do node dist/bench/ack-latency.js --single 200 --bursts 4 || true; done' \
  >>"$logs/bench.log" 2>&1 &
bench=$!
echo "soak: fault churn (pgid $churn) and ack-latency benchmark loop (pgid $bench) running"

for ((r = 1; r <= runs; r++)); do
  t0=$(date +%s)
  if npm test >"$logs/run$r.log" 2>&1; then verdict=green; else verdict=RED; fi
  echo "== run $r/$runs: $verdict in $(($(date +%s) - t0)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  grep -E '^(unit|integration|testbed) |passed, .* failed|^coverage:|unit layer sealed' "$logs/run$r.log" || true
  if [ "$verdict" = RED ]; then
    grep -E 'FAIL|✗|×' "$logs/run$r.log" | head -20 || true
    exit 1
  fi
done
echo "soak: $runs consecutive green runs; bench figures in $logs/bench.log"
