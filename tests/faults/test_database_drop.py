"""PostgreSQL connections dropped under a running server (gunicorn, as in production, with
persistent connections): requests caught by it fail with a 503 envelope, never a 500, and
the server recovers by itself; no restart.

The server's connections carry ``application_name``, so a separate admin connection can
find them in ``pg_stat_activity`` and ``pg_terminate_backend`` them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from accounts.tokens import user_token_issue
from devtools.seaweed import _die_with_parent, free_ports
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from tests.faults.conftest import database_url
from tests.helpers import http

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

APP_NAME = "faults-web"
WAIT_SECONDS = 60


def wait_until(check, *, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def get(self, path: str, token: str | None = None):
        return http("GET", f"{self.url}{path}", token=token)


@pytest.fixture
def web_server(transactional_db, settings, tmp_path) -> Iterator[WebServer]:
    """gunicorn with one sync worker, whose database connections persist between requests."""
    port = free_ports(1)[0]
    log_path = tmp_path / "gunicorn.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "imaging.settings",
        "DATABASE_URL": f"{database_url()}?application_name={APP_NAME}",
        "DB_CONN_MAX_AGE": "60",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "imaging.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--workers=1",
        "--worker-class=sync",
        "--timeout=120",
        "--no-control-socket",  # its default path is per user: two servers would share it
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = WebServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until(lambda: answers(server), what="gunicorn to answer")
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def answers(server: WebServer) -> bool:
    assert server.process.poll() is None, server.log_path.read_text(errors="replace")
    try:
        return server.get("/healthz")[0] == 200
    except OSError:
        return False


@pytest.fixture
def admin_connection() -> Iterator[psycopg.Connection]:
    """Not the test's connection, nor the server's: the DBA's."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        yield admin


def server_backends(admin: psycopg.Connection) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
        [APP_NAME, connection.settings_dict["NAME"]],
    ).fetchall()
    return [pid for (pid,) in rows]


def terminate_server_backends(admin: psycopg.Connection) -> list[int]:
    pids = server_backends(admin)
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until(lambda: not set(pids) & set(server_backends(admin)), what="the backends to go")
    return pids


def assert_unavailable(status: int, body: dict) -> None:
    assert status == 503, body
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_connections_dropped_between_requests_are_replaced_on_the_next_one(
    web_server, admin, admin_connection
):
    token = str(user_token_issue(user=admin))
    assert web_server.get("/v1/sessions", token)[0] == 200
    dropped = terminate_server_backends(admin_connection)
    assert dropped  # the worker kept its connection open between requests

    # CONN_HEALTH_CHECKS: the dead connection is noticed and replaced, not used.
    assert web_server.get("/v1/sessions", token)[0] == 200
    assert not set(dropped) & set(server_backends(admin_connection))


def test_a_connection_dropped_mid_request_is_a_503_envelope_and_the_next_request_works(
    web_server, admin, org, site, admin_connection
):
    token = str(user_token_issue(user=admin))
    session = CaptureSessionFactory(org=org, site=site, operator=admin)
    url = f"{web_server.url}/v1/sessions/{session.id}"
    responses = []
    finish = threading.Thread(
        target=lambda: responses.append(
            http("PATCH", url, token=token, body={"status": "complete"})
        ),
        daemon=True,
    )

    with transaction.atomic():
        # Hold the session so the request stops at its row lock, mid-request.
        CaptureSession.objects.select_for_update().get(pk=session.pk)
        finish.start()
        wait_until(lambda: waiting_for_a_lock(admin_connection), what="the request to block")
        terminate_server_backends(admin_connection)
        finish.join(WAIT_SECONDS)
    assert not finish.is_alive()

    [(status, body)] = responses
    assert_unavailable(status, body)
    session.refresh_from_db()
    assert session.status == "active"  # nothing half-done
    # Recovered without a restart: the same request now goes through.
    status, body = http("PATCH", url, token=token, body={"status": "complete"})
    assert (status, body["status"]) == (200, "complete")
    assert web_server.process.poll() is None


def waiting_for_a_lock(admin: psycopg.Connection) -> bool:
    rows = admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = %s AND wait_event_type = 'Lock'",
        [APP_NAME],
    ).fetchone()
    return rows[0] > 0


def test_while_the_database_refuses_connections_requests_are_503_then_recover(
    web_server, admin, admin_connection
):
    token = str(user_token_issue(user=admin))
    name = connection.settings_dict["NAME"]
    assert web_server.get("/v1/sessions", token)[0] == 200

    admin_connection.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        terminate_server_backends(admin_connection)
        during = [web_server.get("/v1/sessions", token) for _ in range(3)]
        ready = web_server.get("/readyz")
        alive = web_server.get("/healthz")
    finally:
        admin_connection.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    for status, body in during:
        assert_unavailable(status, body)
    assert ready[0] == 503
    assert ready[1]["checks"]["database"].startswith("unavailable")
    assert alive == (200, {"status": "ok"})
    # The database is back: so is the API, with the same server process.
    assert web_server.get("/v1/sessions", token)[0] == 200
    assert web_server.process.poll() is None
