"""SeaweedFS stopped in the middle of processing, then started again on the same port and
directory: tasks retry with backoff and succeed once the store is back; meanwhile
``/readyz`` says the store is unavailable and presigning keeps working (signing is local).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from devtools.seaweed import SeaweedServer, free_ports, wait_for
from events_app.models import Event
from images_app import storage
from images_app.models import Image
from images_app.tests.test_worker_e2e import (
    put_object,
    report_complete,
    session_open,
    small_jpeg,
    upload,
    wait_until,
)
from tests.helpers import full_log

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BATCH = 3
STORE_START_SECONDS = 60


@dataclass
class StoppableStore:
    """A SeaweedFS of this test alone, always on the same S3 port and data directory."""

    server: SeaweedServer
    bucket: str = "imaging"
    region: str = "us-east-1"
    access_key: str = "faults-access-key"
    secret_key: str = "faults-secret-key"

    @property
    def env(self) -> dict[str, str]:
        endpoint = f"http://127.0.0.1:{self.server.requested_s3_port}"
        return {
            "S3_ENDPOINT_URL": endpoint,
            "S3_PUBLIC_ENDPOINT_URL": endpoint,
            "S3_BUCKET": self.bucket,
            "S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def start(self) -> None:
        self.server.start(timeout=STORE_START_SECONDS)
        # Right after a restart reads can fail until volume locations propagate.
        wait_for(storage.bucket_check, timeout=STORE_START_SECONDS, what="the bucket")

    def stop(self) -> None:
        self.server.stop(graceful=False)


@pytest.fixture
def store(tmp_path: Path, settings) -> Iterator[StoppableStore]:
    """Overrides the shared SeaweedFS (tests/faults/conftest.py) for this module."""
    stoppable = StoppableStore(
        SeaweedServer(
            tmp_path / "seaweedfs",
            s3_port=free_ports(1)[0],
            access_key=StoppableStore.access_key,
            secret_key=StoppableStore.secret_key,
        )
    )
    for name, value in stoppable.env.items():
        setattr(settings, name, value)
    try:
        stoppable.server.start(timeout=STORE_START_SECONDS)
        wait_for(storage.bucket_ensure, timeout=STORE_START_SECONDS, what="the bucket")
        yield stoppable
    finally:
        stoppable.stop()


def readyz(live_server) -> tuple[int, dict]:
    response = requests.get(f"{live_server.url}/readyz", timeout=30)
    return response.status_code, response.json()


def test_processing_survives_a_storage_outage_and_presign_keeps_working(
    web, workers, worker_env, store, live_server, tmp_path
):
    session_id = session_open(web, "stills", {})
    image_ids = [upload(web, session_id, small_jpeg(n), "image/jpeg") for n in range(BATCH)]
    hold = tmp_path / "hold"
    hold.touch()
    # As in production, the broker's visibility timeout outlasts the longest retry countdown
    # (the test default is short, to watch dead workers' tasks come back).
    worker_env["E2E_VISIBILITY_TIMEOUT"] = "600"
    worker = workers(hold_file=hold)
    report_complete(web, *image_ids)
    # The first photo is downloaded and in the pipeline when the store goes away.
    wait_until(Path(f"{hold}.reached").exists, what="a task to reach the pipeline")

    store.stop()

    status, body = readyz(live_server)
    assert (status, body["status"]) == (503, "unavailable")
    assert body["checks"]["storage"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
    late_photo = small_jpeg(99)
    presigned = web["device"].ok(
        "POST",
        "/presign",
        {
            "session_id": session_id,
            "file_name": "IMG_0099.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(late_photo).hexdigest(),
        },
    )
    assert presigned["upload_url"].startswith(store.env["S3_ENDPOINT_URL"])

    hold.unlink()
    # Writing the thumbnails fails, the others cannot even HEAD: retries, not failures.
    wait_until(lambda: full_log(worker).count("Retry in") >= BATCH, what="the tasks to be retried")
    assert not Image.objects.filter(pk__in=image_ids, status="failed").exists()

    store.start()

    wait_until(lambda: readyz(live_server)[0] == 200, what="/readyz to report ready again")
    put_object(presigned, late_photo)
    report_complete(web, presigned["image_id"])
    everything = [*image_ids, presigned["image_id"]]
    wait_until(
        lambda: (
            Image.objects.filter(pk__in=everything, status="processed").count() == len(everything)
        ),
        what="every photo to be processed after the outage",
    )
    # The outage used up none of the photos' attempts: each counts its one successful claim.
    assert set(Image.objects.filter(pk__in=everything).values_list("attempts", flat=True)) == {1}
    processed_events = Event.objects.filter(entity_id__in=everything, type="processed")
    assert sorted(str(e.entity_id) for e in processed_events) == sorted(everything)
    for image in Image.objects.filter(pk__in=everything):
        assert [storage.object_size(key=key) > 0 for key in image.thumb_keys.values()] == [True] * 3
