#!/usr/bin/env bash
# Runs the product. With no arguments: `demo` — as root, a 3-Host cluster on this machine (network
# namespaces), a private Redis, bot + worker + monitor against the built-in local Slack workspace, and its
# console in the browser (the URL is printed); Ctrl-C removes everything. Not root: the local workspace with
# the example inventory. With arguments: passed to the CLI, e.g. `bash scripts/run.sh start` (real Slack).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
if [ $# -eq 0 ]; then set -- demo; fi
exec node dist/src/cli.js "$@"
