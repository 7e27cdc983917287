"""Image list items are written without a DRF serializer: the same data as ``ImageListItem``."""

from __future__ import annotations

import json

import pytest

from images_app.api.image_serializers import ImageListItem, image_list_item_data
from images_app.models import Image
from images_app.selectors import session_image_page
from images_app.tests.image_factories import ImageFactory, processed
from imaging.api.authentication import Actor
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


def _without_signatures(item: dict) -> dict:
    # Two signings of one URL may fall in different seconds; the rest must be identical.
    return {
        **item,
        "thumb_urls": {size: url.split("?", 1)[0] for size, url in item["thumb_urls"].items()},
    }


@pytest.mark.parametrize("mode", [CaptureSession.Mode.STUDIO360, CaptureSession.Mode.STILLS])
def test_list_items_are_what_the_serializer_writes(org, site, device, mode):
    session = CaptureSessionFactory(org=org, site=site, device=device, mode=mode)
    spin = mode == CaptureSession.Mode.STUDIO360
    processed(ImageFactory(session=session, angle_deg=15 if spin else None, shot_name=None))
    processed(ImageFactory(session=session, shot_name=None if spin else "front_3q"))
    ImageFactory(session=session, status=Image.Status.FAILED, error="checksum_mismatch")
    ImageFactory(session=session)  # pending: no thumbnails yet

    actor = Actor(kind="device", org_id=org.id, device=device)
    rows, total = session_image_page(
        actor=actor, session_id=session.id, status=None, limit=50, offset=0
    )

    assert len(rows) == total == 4
    for row in rows:
        image = Image.objects.get(pk=row["id"])
        written, serialized = image_list_item_data(row), ImageListItem(image).data
        assert json.dumps(_without_signatures(written)) == json.dumps(
            _without_signatures(serialized)
        )
        assert set(written["thumb_urls"]) == set(image.thumb_keys)
