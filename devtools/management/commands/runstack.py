"""`make run`: the whole product on one machine.

Embedded (the default, no REDIS_URL): one process. A local SeaweedFS under var/ when S3
points at this machine and nothing answers there, the bucket, the demo organisation, then
Django's development server; tasks run in-process after each commit.

Production shape (REDIS_URL set, e.g. with DATABASE_URL pointing at PostgreSQL): the
Procfile's roles as separate processes under honcho: gunicorn (web), the Celery worker,
Celery beat and, when S3 is local, SeaweedFS. Ctrl-C stops them all (honcho sends SIGTERM,
then SIGKILL after 5 s).

Either way it first refuses, before printing anything, when its port or the local S3 port is
held by something else (a second `make run`, another server); then it migrates, waits for
the bucket, seeds the demo (idempotent), and prints where to go: the admin console with its
logins, the API docs, the enrollment code and the one command that simulates a device.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devtools.demo import demo_photo_count, demo_seed
from imaging.management.progress import Progress

BUCKET_WAIT_SECONDS = 60
WEB_WAIT_SECONDS = 60
STOP_WAIT_SECONDS = 20
S3_PROBE_SECONDS = 2


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _bindable(host: str, port: int) -> bool:
    """Whether a server could listen on (host, port) now: bound as runserver and gunicorn
    bind (SO_REUSEADDR), so a closed connection in TIME_WAIT does not count as taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _speaks_s3(endpoint_url: str) -> bool:
    """Whether what answers there is an S3 store: S3 (AWS, SeaweedFS, MinIO) answers even an
    anonymous request with its request id header or an XML error."""
    try:
        with urllib.request.urlopen(endpoint_url, timeout=S3_PROBE_SECONDS) as response:
            headers, body = response.headers, response.read(4096)
    except urllib.error.HTTPError as error:
        headers, body = error.headers, error.read(4096)
    except (OSError, ValueError):
        return False
    return "x-amz-request-id" in {name.lower() for name in headers} or b"<Error>" in body


def ports_refusal(*, host: str, port: int) -> str | None:
    """Why `make run` cannot start here (a port held by something else), or None."""
    if not _bindable(host, port):
        return (
            f"port {port} on {host} is already in use (is `make run` already running?). "
            f"Stop what holds it, or serve elsewhere: PORT={port + 1} make run"
        )
    local = _local_s3()
    if local and _answers(*local) and not _speaks_s3(settings.S3_ENDPOINT_URL):
        return (
            f"port {local[1]} (S3_ENDPOINT_URL={settings.S3_ENDPOINT_URL}) is held by "
            "something that is not an S3 store. Stop it, or point S3_ENDPOINT_URL at a free "
            "port, where a local SeaweedFS will be started."
        )
    return None


def _local_s3() -> tuple[str, int] | None:
    """(host, port) of S3 when it should run on this machine; None for a remote store."""
    s3 = urlsplit(settings.S3_ENDPOINT_URL)
    host, port = s3.hostname or "127.0.0.1", s3.port or 80
    return (host, port) if host in ("127.0.0.1", "localhost") else None


def simulator_command(*, base_url: str, demo: dict[str, Any]) -> str:
    simulator = Path(settings.BASE_DIR) / "clients" / "device_sim.py"
    with contextlib.suppress(ValueError):
        simulator = simulator.relative_to(Path.cwd())
    return shlex.join(
        [
            "python3",
            str(simulator),
            "--api",
            base_url,
            "--org",
            demo["org_id"],
            "--site",
            demo["site_id"],
            "--enrollment-code",
            demo["enrollment_code"],
        ]
    )


class Command(BaseCommand):
    help = "Run the whole product locally (embedded, or the production shape with REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-demo", action="store_true", help="Skip seeding the demo organisation."
        )

    def handle(self, *args, host, port, no_demo, **options):
        # Ctrl-C must stop us even when a shell started us with SIGINT ignored (background).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # Before anything is printed or changed, so a second `make run` says only why not.
        refusal = ports_refusal(host=host, port=port)
        if refusal:
            raise CommandError(refusal)
        call_command("migrate", interactive=False)
        if settings.REDIS_URL:
            return self.production_shape(host=host, port=port, seed=not no_demo)
        return self.embedded(host=host, port=port, seed=not no_demo)

    # --- the two shapes

    def embedded(self, *, host: str, port: int, seed: bool) -> None:
        from devtools.seaweed import SeaweedServer

        seaweed = None
        local = _local_s3()
        try:
            if local and not _answers(*local):
                data = Path(settings.VAR_DIR) / "seaweedfs"
                self.stdout.write(f"starting SeaweedFS on {settings.S3_ENDPOINT_URL} ({data})")
                seaweed = SeaweedServer(
                    data,
                    host=local[0],
                    s3_port=local[1],
                    access_key=settings.AWS_ACCESS_KEY_ID,
                    secret_key=settings.AWS_SECRET_ACCESS_KEY,
                ).start()
            self.wait_for_bucket()
            demo = self.seed_demo() if seed else None
            # The banner once the server answers, so every address in it works when read.
            threading.Thread(
                target=self.banner_when_up,
                kwargs={"host": host, "port": port, "demo": demo},
                daemon=True,
            ).start()
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            with contextlib.suppress(KeyboardInterrupt):
                call_command("runserver", f"{host}:{port}", use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            if seaweed is not None:
                seaweed.stop()
            self.stdout.write("stopped")

    def production_shape(self, *, host: str, port: int, seed: bool) -> None:
        roles = ["web", "worker", "webhooks", "beat"]
        local = _local_s3()
        if local and not _answers(*local):
            roles.append("s3")
        honcho = Path(sys.executable).parent / "honcho"
        if not honcho.exists():
            raise CommandError("honcho is not installed: pip install -r requirements-dev.txt")
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "VAR_DIR": str(settings.VAR_DIR),
            "WEB_BIND": host,
            "PYTHONUNBUFFERED": "1",
        }
        if local:
            env["S3_PORT"] = str(local[1])
        self.stdout.write(f"starting {', '.join(roles)} under honcho (Procfile)")
        supervisor = subprocess.Popen(
            [str(honcho), "start", "--no-colour", "-f", "Procfile", "-p", str(port), *roles],
            cwd=settings.BASE_DIR,
            env=env,
        )

        def forward_sigterm(signum: int, frame: Any) -> None:
            supervisor.send_signal(signal.SIGTERM)

        previous = signal.signal(signal.SIGTERM, forward_sigterm)
        try:
            self.wait_for_bucket(supervisor=supervisor)
            demo = self.seed_demo() if seed else None
            self.wait_for_web(f"http://{host}:{port}/healthz", supervisor=supervisor)
            self.banner(base_url=f"http://{host}:{port}", demo=demo, shape="production")
            supervisor.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to honcho too: it is already stopping its processes.
            pass
        finally:
            self.stop(supervisor)
            signal.signal(signal.SIGTERM, previous)
        if supervisor.returncode not in (0, -signal.SIGINT, -signal.SIGTERM, 130, 143):
            raise CommandError(f"a process exited (honcho returned {supervisor.returncode})")

    # --- steps

    def stop(self, supervisor: subprocess.Popen) -> None:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
        self.stdout.write("stopped")

    def wait_for_bucket(self, *, supervisor: subprocess.Popen | None = None) -> None:
        from devtools.seaweed import SeaweedError, wait_for
        from images_app import storage
        from publishing import public_store

        def check() -> None:
            if supervisor is not None and supervisor.poll() is not None:
                raise CommandError("the processes stopped before S3 answered")
            storage.bucket_ensure()
            public_store.bucket_ensure()  # renditions and manifests, read anonymously

        try:
            wait_for(check, timeout=BUCKET_WAIT_SECONDS, what=f"bucket {settings.S3_BUCKET}")
        except SeaweedError as exc:
            raise CommandError(str(exc).splitlines()[0]) from exc

    def wait_for_web(self, url: str, *, supervisor: subprocess.Popen) -> None:
        deadline = time.monotonic() + WEB_WAIT_SECONDS
        while time.monotonic() < deadline:
            if supervisor.poll() is not None:
                raise CommandError("the processes stopped before the web answered")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except OSError:
                time.sleep(0.3)
        raise CommandError(f"{url} did not answer within {WEB_WAIT_SECONDS}s")

    def seed_demo(self) -> dict[str, Any]:
        progress: Progress | None = None

        def advance(note: str) -> None:
            nonlocal progress
            if progress is None:
                self.stdout.write("capturing the demo sessions (first run only)")
                progress = Progress(self.stderr, total=demo_photo_count(), label="demo photos")
            progress.advance(note=note)

        demo = demo_seed(progress=advance)
        if progress is not None:
            progress.finish()
        return demo

    def banner_when_up(self, *, host: str, port: int, demo: dict[str, Any] | None) -> None:
        deadline = time.monotonic() + WEB_WAIT_SECONDS
        while not _answers(host, port) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.banner(base_url=f"http://{host}:{port}", demo=demo, shape="embedded")

    def banner(self, *, base_url: str, demo: dict[str, Any] | None, shape: str) -> None:
        lines = ["", f"360 Imaging is running ({shape}).", f"  admin console    {base_url}/admin/"]
        if demo:
            lines += [f"  login            {e} / {p}" for e, p in demo["passwords"].items()]
        lines += [
            f"  API docs         {base_url}/v1/docs",
            f"  OpenAPI          {base_url}/v1/openapi.json",
            f"  health           {base_url}/healthz  {base_url}/readyz  {base_url}/metrics",
            f"  S3 (bucket)      {settings.S3_ENDPOINT_URL} ({settings.S3_BUCKET})",
        ]
        if settings.DEV_PAGES:
            # A dealer's page in miniature: the embeddable viewer on the demo vehicle's public
            # manifest (a fixture vehicle without the demo).
            viewer = f"{base_url}/dev/viewer/"
            if demo and demo.get("manifest_url"):
                viewer += "?" + urlencode({"manifest": demo["manifest_url"]})
            lines.append(f"  spin viewer      {viewer}")
        if demo:
            lines += [
                f"  demo org id      {demo['org_id']}",
                f"  demo site id     {demo['site_id']}",
                f"  enrollment code  {demo['enrollment_code']}",
                f"  demo manifest    {demo['manifest_url']}",
                f"  demo spin        {base_url}/admin/sessions_app/capturesession/"
                f"{demo['spin_session_id']}/change/",
                f"  review loop      {base_url}/admin/sessions_app/capturesession/"
                f"{demo['reshoot_session_id']}/change/",
                "",
                "Simulate a device (in another terminal):",
                f"  {simulator_command(base_url=base_url, demo=demo)}",
            ]
        lines += ["", "Ctrl-C stops everything.", ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
