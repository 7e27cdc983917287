"""Through HTTP and the real worker: a reviewer publishes, a Celery worker (two processes)
renders, and the public manifest goes live in SeaweedFS; withdraw does the same."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from accounts.tokens import user_token_issue
from images_app.tests.test_worker_e2e import (  # noqa: F401  (fixtures)
    Api,
    broker,
    wait_until,
    worker_env,
    workers,
)
from publishing.services import publication_manifest_url
from publishing.tests.helpers import photo, validate_manifest
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]


def public_manifest(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError:
        return None


def test_a_published_spin_goes_live_through_the_worker_and_a_withdrawal_too(
    live_server,
    org,
    site,
    reviewer,
    workers,  # noqa: F811 (the imported fixture)
):
    workers(concurrency=2)
    session = CaptureSessionFactory(
        org=org, site=site, mode="studio360", shot_list={"studio360": {"frame_count": 6}}
    )
    frames = [photo(session, frame_index=i, angle_deg=i * 60, seed=i) for i in range(6)]
    api = Api(live_server.url, str(user_token_issue(user=reviewer)))
    url = publication_manifest_url(session.vehicle_id)

    for image in frames:
        api.ok("POST", f"/images/{image.id}/publish")

    # Six versions; the live manifest settles on the last one and never goes back.
    manifest = wait_until(
        lambda: (m := public_manifest(url)) and m["version"] == 6 and m,
        what="version 6 to be live",
    )
    validate_manifest(manifest)
    assert [f["angle_deg"] for f in manifest["spin"]["frames"]] == [0, 60, 120, 180, 240, 300]
    assert api.ok("GET", f"/vehicles/{session.vehicle_id}/publication") == manifest

    api.ok("POST", f"/vehicles/{session.vehicle_id}/publication/withdraw")

    withdrawn = wait_until(
        lambda: (m := public_manifest(url)) and m["status"] == "withdrawn" and m,
        what="the withdrawal to be live",
    )
    assert validate_manifest(withdrawn)["spin"] is None
