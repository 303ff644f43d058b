#!/usr/bin/env bash
# Runs the product. With no arguments: `start --local-slack`, the whole product in one process with the
# built-in local Slack workspace, a private Redis and the example inventory (nothing to configure).
# With arguments: passed to the CLI, e.g. `bash scripts/run.sh start` (real Slack, see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
if [ $# -eq 0 ]; then set -- start --local-slack; fi
exec node dist/src/cli.js "$@"
