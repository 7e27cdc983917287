"""`make fuzz`: schemathesis against the live server, over every endpoint of our OpenAPI.

Starts a scratch PostgreSQL database, a SeaweedFS, a local OIDC provider and gunicorn on
loopback in the production shape (DEBUG off), provisions two organisations (a site, an
admin, a device, a session and a processed image each), then runs
`schemathesis run --checks all` once per actor: the device of org A and the admins of
org A and org B. Each run knows every identity (a Web Fuzzing Commons auth file) so the
object-level authorization check can replay an owner's reads as the other organisation,
and draws the provisioned ids from dictionaries so requests reach past the 404s.
Bounded by --max-examples and --max-time per actor. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.tests.oidc_provider import LocalOIDCProvider, rsa_signing_key  # noqa: E402
from devtools.seaweed import SeaweedServer, free_ports  # noqa: E402

PROVISION = """
import json
from accounts.models import User
from accounts.services import org_create, site_create, user_create
from accounts.tokens import user_token_issue, device_token_issue
from accounts.tests.factories import DeviceFactory
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory
out = {}
for label in ("a", "b"):
    org = org_create(name=f"Fuzz {label}")
    site = site_create(org=org, name="Studio")
    admin = user_create(org=org, email=f"admin-{label}@fuzz.example", name="Admin",
                        role=User.Role.ADMIN, sites=[site])
    device = DeviceFactory(org=org)
    vehicle = VehicleFactory(org=org)
    session = CaptureSessionFactory(org=org, site=site, vehicle=vehicle, device=device)
    image = processed(ImageFactory(session=session, frame_index=0, angle_deg=0))
    out[label] = {"admin": str(user_token_issue(user=admin)),
                  "device": str(device_token_issue(device=device)), "org_id": str(org.id),
                  "site_id": str(site.id), "session_id": str(session.id),
                  "image_id": str(image.id), "vehicle_id": str(vehicle.id)}
print(json.dumps(out))
"""

# (who runs, the identities whose objects it must not reach)
RUNS = (
    ("device-a", ("device-b", "admin-b")),
    ("admin-a", ("admin-b", "device-b")),
    ("admin-b", ("admin-a", "device-a")),
)

# Known ids, drawn with this probability instead of a random uuid: random ids only ever
# reach the 404 branch of an endpoint.
KNOWN_ID_PROBABILITY = 0.5
ID_BINDINGS = {
    # (operation path regex, parameter key): dictionary
    ("^/v1/sessions/", "path.id"): "session_id",
    ("^/v1/images/", "path.id"): "image_id",
}
GLOBAL_BINDINGS = {
    "query.session_id": "session_id",
    "body.session_id": "session_id",
    "query.site_id": "site_id",
    "body.site_id": "site_id",
    "query.vehicle_id": "vehicle_id",
    "body.org_id": "org_id",
    "body.entity_id": "entity_id",
    "body.events[*].entity_id": "entity_id",
}


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


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _write_config(tmp: Path, *, user: str, peers: tuple[str, ...], orgs: dict) -> Path:
    """The schemathesis config of one actor run: identities, peers, known ids."""
    ids = {
        "session_id": [orgs[o]["session_id"] for o in ("a", "b")],
        "image_id": [orgs[o]["image_id"] for o in ("a", "b")],
        "site_id": [orgs[o]["site_id"] for o in ("a", "b")],
        "vehicle_id": [orgs[o]["vehicle_id"] for o in ("a", "b")],
        "org_id": [orgs[o]["org_id"] for o in ("a", "b")],
    }
    ids["entity_id"] = ids["session_id"] + ids["image_id"]
    lines = [
        "[auth.wfc]",
        f"path = {_toml_string(str(tmp / 'auth.json'))}",
        f"user = {_toml_string(user)}",
        f"peers = {json.dumps([user, *peers])}",
        "",
        "[dictionaries]",
    ]
    lines += [f"{name} = {{ values = {json.dumps(values)} }}" for name, values in ids.items()]
    lines += ["", "[parameters]"]
    lines += [
        f'"{key}" = {{ dictionary = "{name}", probability = {KNOWN_ID_PROBABILITY} }}'
        for key, name in GLOBAL_BINDINGS.items()
    ]
    for (path_regex, key), name in ID_BINDINGS.items():
        lines += [
            "",
            "[[operations]]",
            f"include-path-regex = {_toml_string(path_regex)}",
            f'parameters = {{ "{key}" = {{ dictionary = "{name}", '
            f"probability = {KNOWN_ID_PROBABILITY} }} }}",
        ]
    # An over-long URI is refused by the HTTP server itself (414, documented on every
    # operation as URI_TOO_LONG): a rejection of invalid data like the application's own.
    lines += [
        "",
        "[checks.negative_data_rejection]",
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", '
        '"422", "428", "429", "5xx"]',
    ]
    path = tmp / f"schemathesis-{user}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _schemathesis_command(args, *, base: str, config: Path, user: str) -> list[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base}/v1/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(args.max_examples),
        "--max-time",
        str(args.max_time),
        # One worker: two hit an internal schemathesis error in the coverage phase, and the
        # 2-core CI machine also runs gunicorn, PostgreSQL and SeaweedFS.
        "--workers",
        str(args.workers),
        "--request-timeout",
        "20",
        # NUL is refused by design (PostgreSQL cannot store it; SECURITY.md), and JSON Schema
        # cannot say "no NUL" of free-form keys. Lone surrogates are not UTF-8 at all.
        "--generation-allow-x00",
        "false",
        "--generation-codec",
        "utf-8",
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.report_dir is not None:
        report_dir = args.report_dir.resolve() / user
        command += ["--report", "junit,ndjson", "--report-dir", str(report_dir)]
    return command


def _provision(manage: list[str], env: dict[str, str]) -> dict:
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
    return json.loads(provision.stdout.strip().splitlines()[-1])


def _write_identities(tmp: Path, orgs: dict) -> None:
    """A Web Fuzzing Commons auth file naming every identity: device-a, admin-a, ..."""
    entries = [
        {
            "name": f"{role}-{label}",
            "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {orgs[label][role]}"}],
        }
        for label in ("a", "b")
        for role in ("admin", "device")
    ]
    (tmp / "auth.json").write_text(json.dumps({"auth": entries}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--max-time", type=int, default=60, help="seconds per actor")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--report-dir", type=Path, default=None, help="write JUnit and NDJSON reports here"
    )
    parser.add_argument(
        "--only", choices=[user for user, _ in RUNS], action="append", help="run these actors"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging_fuzz"
        ),
    )
    args = parser.parse_args()
    runs = [(user, peers) for user, peers in RUNS if not args.only or user in args.only]

    failures = 0
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="imaging-fuzz-")))
        (tmp / "static").mkdir()
        _recreate_database(args.database_url)
        seaweed = SeaweedServer(
            tmp / "seaweedfs", access_key="fuzz-access", secret_key="fuzz-secret"
        ).start()
        stack.callback(seaweed.stop)
        # Real id_token verification: garbage tokens get their 401, not "not configured".
        oidc = stack.enter_context(LocalOIDCProvider(keys=[rsa_signing_key("fuzz-2026")]))
        env = {
            **os.environ,
            # The production shape: no debug pages, real secrets, an allow-list of hosts.
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": args.database_url,
            "S3_ENDPOINT_URL": seaweed.endpoint_url,
            "AWS_ACCESS_KEY_ID": "fuzz-access",
            "AWS_SECRET_ACCESS_KEY": "fuzz-secret",
            "S3_BUCKET": "fuzz",
            "STATIC_ROOT": str(tmp / "static"),
            "OIDC_OP_ISSUER": oidc.issuer,
            "OIDC_OP_JWKS_ENDPOINT": f"{oidc.base_url}/jwks",
            "OIDC_RP_CLIENT_ID": oidc.client_id,
            # Thousands of requests a minute: 429s would only hide the endpoints.
            "RATE_LIMITS_ENABLED": "false",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        orgs = _provision([sys.executable, str(ROOT / "manage.py")], env)
        _write_identities(tmp, orgs)
        (port,) = free_ports(1)
        # gunicorn as scripts/entrypoint.sh runs it (default request-line limit included).
        web = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
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
        stack.callback(web.wait, timeout=20)
        stack.callback(web.terminate)
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", timeout=30)
        for user, peers in runs:
            config = _write_config(tmp, user=user, peers=peers, orgs=orgs)
            print(f"\n=== schemathesis as {user} ===", flush=True)
            command = _schemathesis_command(args, base=base, config=config, user=user)
            # cwd: schemathesis keeps its example database and cache there, one per run.
            result = subprocess.run(command, cwd=tmp, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
            failures += result.returncode != 0
    print(f"\nfuzz: {len(runs) - failures} of {len(runs)} actor runs clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
