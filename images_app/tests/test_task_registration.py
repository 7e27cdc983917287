"""A web process enqueues processing by the task's registered name: the name must be
registered there too, not only in workers (Celery discovers tasks lazily, in workers)."""

import os
import subprocess
import sys

from django.conf import settings


def test_a_web_process_has_the_processing_task_registered_without_importing_it():
    script = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "from images_app.queue import PROCESS_IMAGE_TASK\n"
        "print(PROCESS_IMAGE_TASK in current_app.tasks)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imaging.settings", "DEBUG": "true"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "True", out.stderr
