"""The image's entry commands run the same way outside Docker, and the Dockerfile and compose
file hold together (no container engine here: their structure is checked instead)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings

from devtools.seaweed import free_ports

BASE_DIR = Path(django_settings.BASE_DIR)
ENTRYPOINT = BASE_DIR / "scripts" / "entrypoint.sh"
WAIT_SECONDS = 60


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What the image sets, with this machine's paths: DEBUG off, JSON logs, real secrets."""
    venv_bin = Path(os.sys.executable).parent
    return {
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "false",
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "JWT_SIGNING_KEY": "test-jwt-key-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "imaging.test,127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        **extra,
    }


def entrypoint(*args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [str(ENTRYPOINT), *args],
        cwd=tmp_cwd(env),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tmp_cwd(env: dict[str, str]) -> str:
    # Run from elsewhere: the script must find the app by itself, as in the image's HEALTHCHECK.
    return env["TMPDIR"]


class Role:
    """A long-running role (web, worker) started through the entrypoint."""

    def __init__(self, role: str, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(ENTRYPOINT), role],
            cwd=tmp_cwd(env),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, check, what: str):
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{what}: exited\n" + "\n".join(self.lines[-40:]))
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out: {what}\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.2)

    def json_lines(self) -> list[dict]:
        out = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def stop(self) -> int:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=WAIT_SECONDS)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def roles() -> Iterator[list[Role]]:
    started: list[Role] = []
    yield started
    for role in started:
        role.stop()


def get(url: str, **headers: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


# --- entry commands, outside Docker --------------------------------------------------------


def test_migrate_applies_migrations_and_creates_the_bucket(tmp_path, s3):
    bucket = f"deploy-{uuid.uuid4().hex[:8]}"
    env = production_env(tmp_path, **{**s3.env, "S3_BUCKET": bucket}, S3_CREATE_BUCKET="true")

    result = entrypoint("migrate", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == bucket
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        applied = {row[0] for row in db.execute("SELECT app FROM django_migrations")}
    assert {"accounts", "sessions_app", "images_app", "events_app"} <= applied
    again = entrypoint("migrate", env=env)
    assert again.returncode == 0, again.stderr


def test_production_settings_refuse_to_start_without_their_secrets(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    result = entrypoint("migrate", env=env)

    assert result.returncode != 0
    assert "Set SECRET_KEY: it is required when DEBUG is off." in result.stderr


def test_a_process_started_without_debug_set_runs_as_production(tmp_path):
    env = production_env(tmp_path)
    del env["DEBUG"]
    show = "from django.conf import settings; print(settings.DEBUG, settings.LOG_FORMAT)"

    started = entrypoint("python", "manage.py", "shell", "-c", show, env=env)
    del env["SECRET_KEY"]
    refused = entrypoint("python", "manage.py", "shell", "-c", show, env=env)

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "False json"
    assert refused.returncode != 0
    assert "Set SECRET_KEY: it is required when DEBUG is off." in refused.stderr


def test_a_checkout_with_no_environment_checks_its_migrations(tmp_path):
    # makemigrations only reads the code: it runs in development settings when DEBUG is not
    # set (manage.py), where every other command would refuse without its secrets.
    bare = {"PATH": f"{Path(os.sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    bare["VAR_DIR"] = str(tmp_path / "var")  # its SQLite file and dev secrets, not the checkout's

    result = subprocess.run(
        [os.sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=BASE_DIR,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No changes detected"


def test_console_cookie_and_hsts_settings_come_from_the_environment(tmp_path):
    show = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, "
        "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    production = production_env(tmp_path, SESSION_COOKIE_AGE="3600", SECURE_HSTS_SECONDS="600")
    development = {**production_env(tmp_path), "DEBUG": "true"}

    configured = entrypoint("python", "manage.py", "shell", "-c", show, env=production)
    defaults = entrypoint("python", "manage.py", "shell", "-c", show, env=development)

    assert configured.stdout.strip().splitlines()[-1] == "3600 600 True True"
    assert defaults.stdout.strip().splitlines()[-1] == "28800 0 False False"


def test_any_other_command_runs_as_given(tmp_path):
    result = entrypoint(
        "python", "-c", "import os; print(os.getcwd())", env=production_env(tmp_path)
    )

    assert result.returncode == 0
    assert result.stdout.strip() == str(BASE_DIR)


@pytest.mark.slow
@pytest.mark.xdist_group("runstack")
def test_web_serves_health_static_files_and_json_logs_then_stops_on_sigterm(tmp_path, s3, roles):
    (port,) = free_ports(1)
    env = production_env(tmp_path, **s3.env, PORT=str(port), WEB_BIND="127.0.0.1")
    assert entrypoint("migrate", env=env).returncode == 0
    collected = entrypoint("python", "manage.py", "collectstatic", "--noinput", "-v0", env=env)
    assert collected.returncode == 0, collected.stderr
    web = Role("web", env)
    roles.append(web)
    base = f"http://127.0.0.1:{port}"

    status, body = web.wait_for(lambda: (r := get(f"{base}/healthz"))[0] and r, "web to answer")

    assert (status, json.loads(body)) == (200, {"status": "ok"})
    ready, body = get(f"{base}/readyz")
    assert ready == 200, body
    assert get(f"{base}/static/admin/css/base.css")[0] == 200  # WhiteNoise, DEBUG off
    assert get(f"{base}/healthz", Host="evil.example")[0] == 400  # ALLOWED_HOSTS holds
    # The container's HEALTHCHECK: Host is the first of ALLOWED_HOSTS, not 127.0.0.1.
    healthcheck = entrypoint("healthcheck", env={**env, "ALLOWED_HOSTS": "imaging.test"})
    assert healthcheck.returncode == 0, healthcheck.stderr
    requests = web.wait_for(
        lambda: [
            line
            for line in web.json_lines()
            if line.get("logger") == "imaging.request" and line.get("path") == "/readyz"
        ],
        "the request log line",
    )
    assert requests[0]["status"] == 200 and requests[0]["route"] == "/readyz"
    assert {"ts", "level", "request_id", "duration_ms", "actor", "org_id"} <= set(requests[0])
    # gunicorn's own lines are JSON too, and there is no second (access) log line per request.
    assert any(line.get("logger") == "gunicorn.error" for line in web.json_lines())
    assert not any("GET /readyz HTTP" in line for line in web.lines)

    assert web.stop() == 0
    assert get(f"{base}/healthz")[0] == 0


@pytest.mark.slow
@pytest.mark.xdist_group("runstack")
def test_worker_answers_its_healthcheck_and_serves_its_metrics(tmp_path, roles):
    (metrics_port,) = free_ports(1)
    env = production_env(
        tmp_path,
        REDIS_URL="redis://127.0.0.1:6379/7",
        METRICS_WORKER_PORT=str(metrics_port),
        METRICS_TOKEN="scrape",
        METRICS_ALLOWED_NETWORKS="10.99.0.0/16",  # not loopback: only the token lets us in
        WORKER_CONCURRENCY="1",
    )
    worker = Role("worker", env)
    roles.append(worker)
    worker.wait_for(
        lambda: any('"celery.apps.worker"' in line and "ready" in line for line in worker.lines),
        "the worker to be ready",
    )

    healthcheck = entrypoint("healthcheck", env=env)
    metrics = get(f"http://127.0.0.1:{metrics_port}/metrics", Authorization="Bearer scrape")
    refused = get(f"http://127.0.0.1:{metrics_port}/metrics", Authorization="Bearer nope")

    assert healthcheck.returncode == 0, healthcheck.stdout + healthcheck.stderr
    assert metrics[0] == 200
    assert b"imaging_images_processed_total" in metrics[1]
    assert refused[0] == 403
    assert worker.stop() == 0


@pytest.mark.slow
@pytest.mark.xdist_group("runstack")
def test_the_webhooks_worker_serves_its_queue_only_and_answers_its_healthcheck(tmp_path, roles):
    env = production_env(
        tmp_path, REDIS_URL="redis://127.0.0.1:6379/7", WEBHOOK_WORKER_CONCURRENCY="1"
    )
    worker = Role("webhooks", env)
    roles.append(worker)
    worker.wait_for(
        lambda: any('"celery.apps.worker"' in line and "ready" in line for line in worker.lines),
        "the webhooks worker to be ready",
    )

    healthcheck = entrypoint("healthcheck", env=env)
    queues = entrypoint(
        "celery",
        "-A",
        "imaging",
        "inspect",
        "active_queues",
        "--timeout",
        "5",
        "--destination",
        f"webhooks@{socket.gethostname()}",
        env=env,
    )

    assert healthcheck.returncode == 0, healthcheck.stdout + healthcheck.stderr
    assert queues.returncode == 0, queues.stdout + queues.stderr
    assert set(re.findall(r"'(?:name|routing_key)': '(\w+)'", queues.stdout)) == {"webhooks"}
    assert worker.stop() == 0


# --- the Dockerfile -----------------------------------------------------------------------------


def dockerfile() -> str:
    return (BASE_DIR / "Dockerfile").read_text()


def test_the_image_is_multi_stage_slim_non_root_with_a_healthcheck():
    text = dockerfile()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2 and all("slim" in image for image in stages)
    final = text.split("\nFROM ", 2)[-1]
    assert re.search(r"^USER app$", final, re.M)
    assert "useradd" in final and "--uid 10001" in final
    assert "HEALTHCHECK" in final and '"healthcheck"]' in final
    assert 'ENTRYPOINT ["/app/scripts/entrypoint.sh"]' in final
    assert 'CMD ["web"]' in final
    assert "collectstatic" in final
    # No compilers in the final image: dependencies arrive as wheels in the build stage.
    assert not re.search(r"apt-get|build-essential|gcc", text)
    assert "--only-binary=:all:" in text
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "DEBUG=false" in final


def test_the_dockerignore_keeps_state_secrets_and_tests_out_of_the_image():
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env", "tests", "**/tests", "**/__pycache__"} <= ignored


def test_every_role_in_the_dockerfile_comment_is_a_role_of_the_entrypoint():
    script = ENTRYPOINT.read_text()
    for role in ("web", "worker", "webhooks", "beat", "migrate", "healthcheck"):
        assert re.search(rf"^  {role}\)$", script, re.M), role


# --- docker-compose.yml --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_runs_the_production_shape_from_one_image(compose):
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "seaweedfs",
        "migrate",
        "web",
        "worker",
        "webhooks",
        "beat",
    }
    app = {name: services[name] for name in ("migrate", "web", "worker", "webhooks", "beat")}
    assert {s["command"][0] for s in app.values()} == {
        "migrate",
        "web",
        "worker",
        "webhooks",
        "beat",
    }
    assert len({(s["image"], s["build"]) for s in app.values()}) == 1
    assert all(s.get("init") is True for s in app.values())


def test_compose_dependencies_wait_for_health_and_for_migrations(compose):
    services = compose["services"]
    conditions = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert rule["condition"] in conditions
            if rule["condition"] == "service_healthy":
                assert "test" in services[dependency].get("healthcheck", {}), dependency
    for name in ("web", "worker", "webhooks", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["restart"] == "no"


def test_compose_gives_every_long_running_service_a_healthcheck_and_data_a_volume(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "seaweedfs", "web", "worker", "webhooks", "beat"):
        assert services[name]["healthcheck"]["test"], name
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
    }
    assert used == declared == {"postgres-data", "redis-data", "seaweedfs-data"}
    # Only the web and the S3 gateway (devices upload there) are published.
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"web", "seaweedfs"}


def test_compose_requires_the_secrets_and_sets_only_real_settings(compose):
    env = compose["services"]["web"]["environment"]
    for secret in ("SECRET_KEY", "JWT_SIGNING_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert re.fullmatch(rf"\$\{{{secret}:\?.+\}}", env[secret]), secret
    assert env["DEBUG"] == "false"
    settings_text = (BASE_DIR / "imaging" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', settings_text))
    read |= {"DATABASE_URL"}  # env.db("DATABASE_URL")
    # Variables the entrypoint reads rather than Django.
    entry = {
        "WEB_CONCURRENCY",
        "WORKER_CONCURRENCY",
        "WEBHOOK_WORKER_CONCURRENCY",
        "S3_CREATE_BUCKET",
        "PORT",
    }
    for service in ("migrate", "web", "worker", "webhooks", "beat"):
        names = set(compose["services"][service]["environment"])
        assert names - read - entry == set(), service


def test_compose_gives_seaweedfs_the_apps_credentials(compose):
    identities = compose["configs"]["seaweedfs-s3"]["content"]
    parsed = json.loads(identities)
    identity, anonymous = parsed["identities"]
    # Anyone may read the public bucket (web renditions, manifests), and only it.
    assert anonymous == {"name": "anonymous", "actions": ["Read:imaging-public"]}
    assert identity["credentials"] == [
        {"accessKey": "${AWS_ACCESS_KEY_ID}", "secretKey": "${AWS_SECRET_ACCESS_KEY}"}
    ]
    assert "-s3.config=/etc/seaweedfs/s3.json" in compose["services"]["seaweedfs"]["command"]


# --- ensure_bucket ---------------------------------------------------------------------------


def test_ensure_bucket_creates_the_bucket_once_and_says_which(s3, settings):
    from io import StringIO

    from django.core.management import call_command

    from images_app import storage

    settings.S3_BUCKET = f"ensure-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        out = StringIO()
        call_command("ensure_bucket", "--wait", "10", stdout=out)
        assert out.getvalue().strip() == settings.S3_BUCKET
    storage.bucket_check()


def test_ensure_bucket_gives_up_on_an_unreachable_store_in_one_line(settings):
    from django.core.management import CommandError, call_command

    (closed,) = free_ports(1)
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed}"

    with pytest.raises(CommandError) as refused:
        call_command("ensure_bucket", "--wait", "0")

    assert str(refused.value).startswith(f"bucket {settings.S3_BUCKET} not ready after 0s: ")
    assert "\n" not in str(refused.value)
