#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine (as root, with Node 20): the Debian packages the product and
# its tests use, the npm packages (only when package-lock.json changed), and the build (dist/).
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
)
missing=()
for pair in "${wanted[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ] && [ ! -x "/sbin/$bin" ]; then
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
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
  echo "setup: Node.js 20.19 or later is required (found $(node --version))" >&2
  exit 1
fi

stamp=node_modules/.package-lock.sha256
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" >"$stamp"
fi

npm run --silent build
