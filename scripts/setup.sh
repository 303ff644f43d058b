#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine (as root, with Node 20): the Debian packages the product and
# its tests use (with `--tests`, also Chromium for the browser tests), the npm packages (only when
# package-lock.json changed), and the builds — the server (tsc → dist/) and the console (Vite → dist/console)
# — each only when its sources changed since the last build (a stamp of their hashes in dist/).
set -euo pipefail
cd "$(dirname "$0")/.."

# command:package — what the product, the testbed and the tests run.
wanted=(
  redis-server:redis-server
  sshd:openssh-server
  ssh-keygen:openssh-client
  mkfs.ocfs2:ocfs2-tools
  modprobe:kmod
  ip:iproute2
  unshare:util-linux
  nsenter:util-linux
  setpriv:util-linux
  openssl:openssl
  curl:curl
  pkill:procps
)
# The browser tests drive Debian's Chromium (playwright-core never downloads a browser); the emoji font makes
# their screenshots show what Slack shows (🔴, ✅ in alerts and job messages).
if [ "${1:-}" = --tests ]; then wanted+=(chromium:chromium); fi
missing=()
for pair in "${wanted[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ] && [ ! -x "/sbin/$bin" ]; then
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
if [ "${1:-}" = --tests ] && [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  missing+=(fonts-noto-color-emoji)
fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # Do not let package scripts start system services (sshd, redis) we do not use: we start our own.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.flexvdi && chmod +x /usr/sbin/policy-rc.d.flexvdi
  [ -e /usr/sbin/policy-rc.d ] || ln -s /usr/sbin/policy-rc.d.flexvdi /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$(readlink /usr/sbin/policy-rc.d 2>/dev/null)" = /usr/sbin/policy-rc.d.flexvdi ] && rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.flexvdi
fi

# vitest 4 (its vite) needs Node ^20.19 or >= 22.12
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)'; then
  echo "setup: Node.js 20.19+ or 22.12+ is required (vitest 4 needs it; found $(node --version))" >&2
  exit 1
fi

stamp=node_modules/.package-lock.sha256
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" >"$stamp"
fi

# Rebuild only what changed: a hash of each build's inputs, kept beside its output.
inputs_hash() { find "$@" -type f -not -path '*/node_modules/*' -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1; }
build_if_changed() { # name stamp-file output command… (inputs from $inputs)
  local name=$1 stamp=$2 output=$3 sum
  shift 3
  sum=$(inputs_hash "${inputs[@]}")
  if [ -f "$stamp" ] && [ -e "$output" ] && [ "$(cat "$stamp")" = "$sum" ]; then return; fi
  echo "setup: building the $name" >&2
  "$@"
  mkdir -p "$(dirname "$stamp")" && echo "$sum" >"$stamp"
}
inputs=(src bench tsconfig.json tsconfig.build.json package-lock.json)
build_if_changed server dist/.build.sha256 dist/src/cli.js npm run --silent build
inputs=(web/console src/slack-double/console-contract.ts package-lock.json)
build_if_changed console dist/console.sha256 dist/console/index.html npx vite build --logLevel warn --config web/console/vite.config.ts
