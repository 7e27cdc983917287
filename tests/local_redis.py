"""A redis-server of the test's own, on a free loopback port, without persistence.

Tests that stop, kill or restart Redis use this one and never the machine's shared Redis:

    server = LocalRedis(tmp_dir).start()
    server.url(db=0)     # redis://127.0.0.1:<port>/0
    server.kill()        # SIGKILL: like a crash; every key is gone (no persistence)
    server.start()       # the same port again, empty
    server.stop()
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from devtools.seaweed import _die_with_parent, free_ports

START_TIMEOUT_SECONDS = 15


class LocalRedis:
    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.port = port or free_ports(1)[0]
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> LocalRedis:
        if self.is_running():
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # Never outlive a killed test run.
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{log}")
            time.sleep(0.05)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as in a crash: without persistence every key is lost."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    stop = kill  # nothing to keep: a throw-away server needs no graceful shutdown

    def restart(self) -> None:
        self.kill()
        self.start()
