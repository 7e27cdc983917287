#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing (Debian).
set -euo pipefail
missing=()
# Browser tests drive Debian's Chromium through Playwright; Playwright never downloads one.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Security, concurrency and fault tests start (and kill) a redis-server of their own.
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing system packages: ${missing[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
