"""What one presign costs in queries: the same whoever asks and whatever the site rules."""

from __future__ import annotations

import hashlib

import pytest

from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


def _presign(client, session: CaptureSession, n: int, **fields):
    body = {
        "session_id": str(session.id),
        "file_name": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(str(n).encode()).hexdigest(),
        **fields,
    }
    return client.post("/v1/presign", body, format="json")


@pytest.mark.parametrize("limited_to_sites", [False, True], ids=["any-site", "limited"])
def test_a_device_presign_is_three_queries_in_one_transaction(
    api, org, site, device, limited_to_sites, django_assert_num_queries
):
    if limited_to_sites:
        device.sites.set([site])
    session = CaptureSessionFactory(org=org, site=site, device=device)
    client = api(device)
    assert _presign(client, session, 0, frame_index=0).status_code == 200  # records last_seen_at

    # the device (authentication); a savepoint; the session, locked, with whether the device
    # may use its site; the new image unless the photo has a pending one (a retry); the
    # session's detail version (its ETag: a new frame); release
    with django_assert_num_queries(6):
        assert _presign(client, session, 1, frame_index=1).status_code == 200


def test_an_operator_presign_costs_the_same_queries(
    api, org, site, operator, django_assert_num_queries
):
    session = CaptureSessionFactory(
        org=org, site=site, operator=operator, mode=CaptureSession.Mode.STILLS, shot_list={}
    )
    client = api(operator)

    # the user; a savepoint; the session with whether the user may see its site; the new
    # image unless it is a retry; the session's detail version; release
    with django_assert_num_queries(6):
        assert _presign(client, session, 1).status_code == 200
