#!/usr/bin/env bash
# What the test suite needs from this machine, checked before pytest starts: the system
# packages (installed with apt-get when missing and allowed), then the services, each named
# with where it was looked for and how to fix it when it is not there.
#   DATABASE_URL      the PostgreSQL the suite uses (make test passes its default)
#   REDIS_CHECK_URL   where the Redis check looks; the suite's tests use redis://127.0.0.1:6379
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

python=.venv/bin/python
[ -x "$python" ] || python=python3
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/imaging} \
REDIS_CHECK_URL=${REDIS_CHECK_URL:-redis://127.0.0.1:6379} \
"$python" - <<'PY'
import os
import socket
import sys
from urllib.parse import urlsplit

problems = []


def reach(host, port):
    """None when something accepts connections there, else why not."""
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


database = urlsplit(os.environ["DATABASE_URL"])
if database.scheme.startswith("postgres"):
    host, port = database.hostname or "127.0.0.1", database.port or 5432
    why = reach(host, port)
    if why:
        problems.append(
            f"PostgreSQL is not running at {host}:{port} ({why}), where DATABASE_URL points.\n"
            "  Start it (e.g. `service postgresql start`), or set DATABASE_URL to a server\n"
            "  that runs: make test DATABASE_URL=postgres://user@host:5432/imaging"
        )

redis = urlsplit(os.environ["REDIS_CHECK_URL"])
host, port = redis.hostname or "127.0.0.1", redis.port or 6379
why = reach(host, port)
if why is None:
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as error:
        reply = repr(error).encode()
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        why = f"something else answers there: {reply[:40]!r}"
if why:
    problems.append(
        f"Redis is not running at {host}:{port} ({why}).\n"
        "  The rate-limit, worker and health tests use it. Start it (e.g.\n"
        "  `service redis-server start`, or `redis-server --daemonize yes`)."
    )

if problems:
    print("make test cannot run: a service it needs is missing.", file=sys.stderr)
    for problem in problems:
        print(f"- {problem}", file=sys.stderr)
    sys.exit(1)
PY
