"""The real Celery worker for the end-to-end tests, with two test-only knobs.

    python -m images_app.tests.e2e_worker worker -P prefork -c 1 ...

- The broker hands back a task whose worker died after ``E2E_VISIBILITY_TIMEOUT`` seconds
  (production: an hour), so a test can watch the redelivery after a restart.
- ``E2E_BROKER_KEYPREFIX`` keeps each test's queues apart within one Redis db.
- With ``E2E_HOLD_FILE`` set, the pipeline waits while that file exists, after touching
  ``<hold file>.reached``: a test can kill the worker at a known point mid-task instead of
  racing it. The pipeline itself runs unchanged once the file is gone.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

HOLD_LIMIT_SECONDS = 120


def _hold_pipeline(hold_file: Path) -> None:
    from images_app import pipeline

    real = pipeline.process_image_bytes

    @functools.wraps(real)
    def held(*args, **kwargs):
        Path(f"{hold_file}.reached").touch()
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while hold_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return real(*args, **kwargs)

    pipeline.process_image_bytes = held


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")
    from imaging.celery import app

    options = {
        **app.conf.broker_transport_options,
        "visibility_timeout": int(os.environ.get("E2E_VISIBILITY_TIMEOUT", "10")),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    if os.environ.get("E2E_BROKER_KEYPREFIX"):
        options["global_keyprefix"] = os.environ["E2E_BROKER_KEYPREFIX"]
    app.conf.broker_transport_options = options
    if os.environ.get("E2E_HOLD_FILE"):
        _hold_pipeline(Path(os.environ["E2E_HOLD_FILE"]))
    app.worker_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
