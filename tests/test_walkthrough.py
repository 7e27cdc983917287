"""The device walkthrough the docs show (scripts/walkthrough.sh), run as written with bash and
curl against the live test server, SeaweedFS and the real pipeline (tasks in-process after
commit, as in the embedded `make run`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from accounts.services import enrollment_code_create
from images_app.models import Image
from sessions_app.models import CaptureSession

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]

BASE_DIR = Path(django_settings.BASE_DIR)
SCRIPT = BASE_DIR / "scripts" / "walkthrough.sh"


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Without REDIS_URL, tasks run in-process after commit (the embedded default). Forced
    here: a fixture elsewhere that reconfigures the Celery app may leave it pointing at a
    broker once its test is over."""
    from imaging.celery import app as celery_app

    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


def database_url() -> str:
    """The test database as a DATABASE_URL, so `manage.py issue_token` finds the users."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def demo_var_dir(org, site, tmp_path) -> Path:
    """What `make run` leaves in VAR_DIR for the script: the org, site and enrollment code."""
    _, code = enrollment_code_create(org=org, uses=5, expires_in=timedelta(days=1), label="doc")
    var = tmp_path / "var"
    var.mkdir()
    (var / "demo-credentials.json").write_text(
        json.dumps({"org_id": str(org.id), "site_id": str(site.id), "enrollment_code": code})
    )
    return var


def test_the_walkthrough_script_uploads_the_sample_photo_and_reads_it_back_processed(
    live_server, reviewer, demo_var_dir
):
    if connection.vendor != "postgresql":
        pytest.skip("the script's token command needs the test database on a server")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "API": live_server.url,
        "VAR_DIR": str(demo_var_dir),
        "READER_EMAIL": reviewer.email,
        # What the server the script talks to uses: its database and token signing key.
        "DATABASE_URL": database_url(),
        "JWT_SIGNING_KEY": django_settings.JWT_SIGNING_KEY,
    }

    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    image = Image.objects.get()
    assert last.startswith(f"7. image {image.id}: processed, 640x480 px")
    assert image.status == Image.Status.PROCESSED
    assert (image.file_name, image.shot_name) == ("car.jpg", "front_3q")
    assert image.session.status == CaptureSession.Status.COMPLETE
    assert image.session.vehicle.vin == "1HGCM82633A004352"
    # The docs show this output, ids aside.
    shown = shape(read_docs_output(BASE_DIR / "docs" / "devices.md"))
    assert shape(result.stdout) == shown
    assert shape(read_docs_output(BASE_DIR / "README.md")) == shown


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shape(output: str) -> list[str]:
    """The output's lines with ids and the token's first characters taken out."""
    return [
        re.sub(r"token \S+…", "token …", UUID.sub("<id>", line))
        for line in output.strip().splitlines()
    ]


def read_docs_output(page: Path) -> str:
    block = re.search(r"```\n(1\. enrolled.*?)```", page.read_text(), re.S)
    assert block, f"{page.name} shows no output of the walkthrough"
    return block.group(1)
