"""`make run` as a newcomer meets it: the stack comes up, prints where to go, the printed
logins open the console, the printed simulator command captures a session that shows up
processed, and Ctrl-C stops every process.

Both shapes run for real: the embedded default (SQLite, in-process tasks, a SeaweedFS under a
temporary VAR_DIR) and the production shape (PostgreSQL, Redis, gunicorn, a Celery worker and
beat under honcho).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import http.server
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from devtools.seaweed import free_ports

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runstack")]

BASE_DIR = Path(django_settings.BASE_DIR)
START_SECONDS = 240  # first run: migrations, SeaweedFS, 29 demo photos through the pipeline
STOP_SECONDS = 30
REDIS_URL = "redis://127.0.0.1:6379/7"


def wait_until(check, *, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Stack:
    """`make run` in its own process group, its output collected line by line."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_banner(self) -> dict[str, str]:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited early:\n{self.output[-5000:]}")
            return any(line.startswith("Ctrl-C stops everything.") for line in self.lines)

        wait_until(ready, what=f"the banner:\n{self.output[-3000:]}", timeout=START_SECONDS)
        return banner_of(self.output)

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the foreground process group. Returns
        once every process that could write to our pipe has exited."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=STOP_SECONDS)
        self.reader.join(timeout=STOP_SECONDS)
        assert not self.reader.is_alive(), "a process still holds the output open"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in supervised_pids(self.output):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_SECONDS)


def banner_of(output: str) -> dict[str, str]:
    logins = dict(re.findall(r"^\s+login\s+(\S+) / (\S+)$", output, re.M))
    simulator = re.search(r"^\s+(python3 clients/device_sim\.py .+)$", output, re.M)
    admin = re.search(r"^\s+admin console\s+(\S+)$", output, re.M)
    assert simulator and admin, output[-3000:]
    return {"admin": admin.group(1), "simulator": simulator.group(1), **logins}


def supervised_pids(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", output)]


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)  # honcho starts each role as a session (and group) leader
    except ProcessLookupError:
        return False
    return True


def run_simulator(command: str, state_dir: Path) -> dict:
    result = subprocess.run(
        [*shlex.split(command), "--json"],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], "XDG_STATE_HOME": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


class Console:
    """A browser's view of the admin: cookies, CSRF token, login form."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.admin_url.rstrip("/") + path, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def log_in(self, email: str, password: str) -> str:
        _, form = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode(
            {
                "username": email,
                "password": password,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(self.admin_url + "login/?next=/admin/", data=body)
        with self.opener.open(request, timeout=30) as response:
            return response.geturl()


def api_images(stack_env: dict[str, str], base_url: str, session_id: str) -> list[dict]:
    """The session's images as the API shows them to the demo admin."""
    return api_read(stack_env, base_url, f"/v1/images?session_id={session_id}")["data"]


def api_read(stack_env: dict[str, str], base_url: str, path: str) -> dict:
    """What the API answers the demo admin at ``path``."""
    token = (
        subprocess.run(
            [".venv/bin/python", "manage.py", "issue_token", "--email", "admin@demo.example"],
            cwd=BASE_DIR,
            # A developer's manage.py command on the development stack (DEBUG is off unset).
            env={**stack_env, "DEBUG": "true"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def base_env(tmp_path: Path, s3_port: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "VAR_DIR": str(tmp_path / "var"),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "S3_PUBLIC_ENDPOINT_URL": "",
        # No DEBUG: make run turns development mode on by itself.
        "PYTHONUNBUFFERED": "1",
    }


# --- the embedded default ------------------------------------------------------------------


@pytest.fixture
def embedded(tmp_path) -> Iterator[tuple[Stack, dict[str, str]]]:
    port, s3_port = free_ports(2)
    env = {
        **base_env(tmp_path, s3_port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
    }
    stack = Stack(env, port)
    try:
        yield stack, env
    finally:
        stack.kill()


def test_a_newcomer_runs_make_run_logs_in_and_watches_a_simulated_session_processed(
    embedded, tmp_path
):
    stack, env = embedded

    banner = stack.wait_for_banner()

    assert banner["admin"] == f"{stack.base_url}/admin/"
    assert "360 Imaging is running (embedded)." in stack.output
    assert f"{stack.base_url}/v1/docs" in stack.output
    # The embeddable spin viewer's demo page, a dealer's page in miniature.
    viewer = re.search(r"^\s+spin viewer\s+(\S+)$", stack.output, re.M)
    # ...embedding the demo vehicle's public manifest, which is live and says so.
    assert viewer and viewer.group(1).startswith(f"{stack.base_url}/dev/viewer/?manifest=")
    with urllib.request.urlopen(viewer.group(1), timeout=10) as response:
        assert "imaging-viewer/imaging-viewer.js" in response.read().decode()
    manifest_url = urllib.parse.parse_qs(urllib.parse.urlsplit(viewer.group(1)).query)["manifest"][
        0
    ]
    with urllib.request.urlopen(manifest_url, timeout=10) as response:
        manifest = json.loads(response.read())
    assert (manifest["status"], manifest["spin"]["frame_count"]) == ("live", 24)
    console = Console(banner["admin"])
    assert console.log_in("admin@demo.example", banner["admin@demo.example"]).endswith("/admin/")
    # The demo spin is there before anything else happens.
    _, sessions = console.get("/sessions_app/capturesession/?q=DEMO-360")
    assert "DEMO-360" in sessions

    summary = run_simulator(banner["simulator"], tmp_path / "state")

    (session,) = summary["sessions"]
    assert (session["status"], session["frames"]) == ("complete", 24)
    _, listed = console.get(f"/sessions_app/capturesession/?q={session['stock']}")
    assert session["stock"] in listed
    _, page = console.get(f"/sessions_app/capturesession/{session['session_id']}/change/")
    assert "processed" in page
    images = api_images(env, stack.base_url, session["session_id"])
    assert len(images) == 24
    assert {image["status"] for image in images} == {"processed"}
    # Spin health is judged on SQLite too, over all 24 frames.
    detail = api_read(env, stack.base_url, f"/v1/sessions/{session['session_id']}")
    assert detail["spin_health"]["frames"] == 24

    stack.ctrl_c()
    assert "stopped" in stack.lines[-3:]

    # Again: the same demo, the same logins and code, nothing captured twice.
    again = Stack(env, stack.port)
    try:
        assert again.wait_for_banner() == banner
        assert "capturing the demo sessions" not in again.output
        again.ctrl_c()
    finally:
        again.kill()


# --- the production shape --------------------------------------------------------------------


@pytest.fixture
def scratch_database() -> Iterator[str]:
    import psycopg

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imaging")
    base = server.rsplit("/", 1)[0]
    name = f"imaging_ops_stack_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_with_postgres_and_redis_make_run_supervises_web_workers_beat_and_s3(
    scratch_database, tmp_path
):
    queue = redis.Redis.from_url(REDIS_URL)
    queue.delete("celery", "unacked", "unacked_index")
    port, s3_port = free_ports(2)
    env = {
        **base_env(tmp_path, s3_port),
        "DATABASE_URL": scratch_database,
        "REDIS_URL": REDIS_URL,
        "LOG_FORMAT": "json",
        "WORKER_CONCURRENCY": "1",
    }
    stack = Stack(env, port)
    try:
        banner = stack.wait_for_banner()
        assert "360 Imaging is running (production)." in stack.output
        roles = dict(re.findall(r"system\s+\| (\w+)\.1 started \(pid=(\d+)\)", stack.output))
        assert set(roles) == {"web", "worker", "webhooks", "beat", "s3"}

        summary = run_simulator(banner["simulator"] + " --frames 4", tmp_path / "state")
        (session,) = summary["sessions"]

        def processed() -> bool:
            images = api_images(env, stack.base_url, session["session_id"])
            return len(images) == 4 and {i["status"] for i in images} == {"processed"}

        wait_until(processed, what="the worker to process the upload", timeout=120)

        # Logs are JSON lines: the web's request lines and the worker's task lines.
        def logged(role: str) -> list[dict]:
            prefix = re.compile(rf"^\S+ {role}\.1\s+\| (\{{.*\}})$")
            return [json.loads(m.group(1)) for line in stack.lines if (m := prefix.match(line))]

        requests = [line for line in logged("web") if line.get("logger") == "imaging.request"]
        assert any(
            r["route"] == "/v1/presign" and r["actor"].startswith("device:") for r in requests
        )
        tasks = [line for line in logged("worker") if line.get("logger") == "imaging.task"]
        done = {t["image_id"] for t in tasks if t["outcome"] == "processed"}
        ids = {i["id"] for i in api_images(env, stack.base_url, session["session_id"])}
        assert ids <= done

        stack.ctrl_c()

        wait_until(
            lambda: not any(alive(int(pid)) for pid in roles.values()),
            what="every supervised process to stop",
            timeout=STOP_SECONDS,
        )
        assert "SIGINT received" in stack.output
    finally:
        stack.kill()


# --- refusing to start when a port is taken -----------------------------------------------


def make_run(env: dict[str, str], port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def ports() -> tuple[int, int]:
    """The web port and the S3 port of the `make run` below."""
    return tuple(free_ports(2))


@pytest.fixture
def refusing_env(tmp_path, ports) -> dict[str, str]:
    return {
        **base_env(tmp_path, ports[1]),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
    }


def test_make_run_started_while_its_port_is_taken_refuses_before_printing_anything(
    refusing_env, ports, tmp_path
):
    port, _ = ports
    with socket.socket() as holder:  # e.g. a first `make run`
        holder.bind(("127.0.0.1", port))
        holder.listen()

        result = make_run(refusing_env, port)

    assert result.returncode != 0
    assert result.stdout == ""  # no banner, no logins, no migrations
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()
    # docs/index.md shows this message for the default port.
    (message,) = [line for line in result.stderr.splitlines() if "CommandError" in line]
    shown = message.replace(f"port {port} ", "port 8000 ").replace(f"PORT={port + 1}", "PORT=8001")
    assert shown in (BASE_DIR / "docs" / "index.md").read_text()
    assert not (tmp_path / "var" / "seaweedfs").exists()


class _NotS3(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>some other web server</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_make_run_refuses_when_the_s3_port_is_held_by_something_that_is_not_s3(
    refusing_env, ports, tmp_path
):
    port, s3_port = ports
    other = http.server.HTTPServer(("127.0.0.1", s3_port), _NotS3)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        result = make_run(refusing_env, port)
    finally:
        other.shutdown()
        other.server_close()

    assert result.returncode != 0
    assert result.stdout == ""
    assert f"port {s3_port} (S3_ENDPOINT_URL=http://127.0.0.1:{s3_port})" in result.stderr
    assert "not an S3 store" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()
