"""A real ``celery worker`` serving only the ``webhooks`` queue (the end-to-end worker of
images_app/tests/e2e_worker.py: short visibility timeout, per-test key prefix)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from images_app.tests.test_worker_e2e import BASE_DIR, Worker, wait_until

# What a worker process needs on top of the test's database, broker and store: loopback
# receivers allowed, a compressed schedule, claims a test can outwait.
WEBHOOK_ENV = {
    "WEBHOOKS_ALLOW_INSECURE": "true",
    "WEBHOOK_RETRY_SCALE": "0.01",
    "WEBHOOK_REQUEST_TIMEOUT": "10",
    "WEBHOOK_CLAIM_SECONDS": "12",
}


class WebhookWorker(Worker):
    def start(
        self, *, hold_file: Path | None = None, concurrency: int = 1, **env_overrides: str
    ) -> WebhookWorker:
        self.log_path = self.log_dir / f"webhooks-worker-{uuid.uuid4().hex[:8]}.log"
        env = {**self.env, **WEBHOOK_ENV, **env_overrides}
        command = [
            sys.executable,
            "-m",
            "images_app.tests.e2e_worker",
            "worker",
            "--queues=webhooks",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=webhooks-{uuid.uuid4().hex[:8]}@localhost",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, what="the webhooks worker to be ready")
        return self
