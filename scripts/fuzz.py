"""`make fuzz`: schemathesis against the live server, over every endpoint of our OpenAPI.

Starts a scratch PostgreSQL database, a SeaweedFS and gunicorn on loopback, provisions two
organisations, then runs `schemathesis run --checks all` as a device and as users of both
organisations. Bounded by --max-examples and --max-time. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from images_app.seaweed import SeaweedServer, free_ports  # noqa: E402

PROVISION = """
import json
from datetime import timedelta
from accounts.models import User
from accounts.services import org_create, site_create, user_create
from accounts.tokens import user_token_issue, device_token_issue
from accounts.tests.factories import DeviceFactory
out = {}
for label in ("a", "b"):
    org = org_create(name=f"Fuzz {label}")
    site = site_create(org=org, name="Studio")
    admin = user_create(org=org, email=f"admin-{label}@fuzz.example", name="Admin",
                        role=User.Role.ADMIN, sites=[site])
    device = DeviceFactory(org=org)
    out[label] = {"user": str(user_token_issue(user=admin)),
                  "device": str(device_token_issue(device=device)), "org_id": str(org.id),
                  "site_id": str(site.id)}
print(json.dumps(out))
"""


def _recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--max-time", type=int, default=120, help="seconds per actor")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging_fuzz"
        ),
    )
    args = parser.parse_args()

    python = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="imaging-fuzz-"))
    _recreate_database(args.database_url)
    seaweed = SeaweedServer(
        tmp / "seaweedfs", access_key="fuzz-access", secret_key="fuzz-secret"
    ).start()
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_ACCESS_KEY_ID": "fuzz-access",
        "AWS_SECRET_ACCESS_KEY": "fuzz-secret",
        "S3_BUCKET": "fuzz",
        "RATE_LIMITS_ENABLED": "false",
        "REDIS_URL": "",
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
    }
    manage = [python, str(ROOT / "manage.py")]
    web = None
    failures = 0
    try:
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            [*manage, "shell", "-c", "from images_app import storage; storage.bucket_ensure()"],
            env=env,
            check=True,
            cwd=ROOT,
        )
        provision = subprocess.run(
            [*manage, "shell", "-c", PROVISION],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        actors = json.loads(provision.stdout.strip().splitlines()[-1])
        web = subprocess.Popen(
            [
                str(Path(python).parent / "gunicorn"),
                "imaging.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", timeout=30)
        st = str(Path(python).parent / "schemathesis")
        for label, token in (
            ("device of org A", actors["a"]["device"]),
            ("admin of org A", actors["a"]["user"]),
            ("admin of org B", actors["b"]["user"]),
        ):
            print(f"\n=== schemathesis as {label} ===", flush=True)
            result = subprocess.run(
                [
                    st,
                    "run",
                    f"{base}/v1/openapi.json",
                    "--checks",
                    "all",
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--max-examples",
                    str(args.max_examples),
                    "--max-time",
                    str(args.max_time),
                    "--workers",
                    "2",
                    "--request-timeout",
                    "20",
                ],
                cwd=ROOT,
                env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            )
            failures += result.returncode != 0
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        seaweed.stop()
    print(f"\nfuzz: {3 - failures} of 3 actor runs clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
