"""Image list items are written without a DRF serializer: the same data as ``ImageListItem``."""

from __future__ import annotations

import json

import pytest

from accounts.actors import Actor
from images_app.api.image_serializers import (
    IMAGE_LIST_ITEM,
    ImageListItem,
    image_list_item_data,
)
from images_app.api.serializers import PresignResponse, presign_response_data
from images_app.models import Image
from images_app.selectors import session_image_page
from images_app.tests.image_factories import ImageFactory, processed
from images_app.uploads import image_upload_start
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
        actor=actor,
        session_id=session.id,
        status=None,
        limit=50,
        offset=0,
        columns=IMAGE_LIST_ITEM.columns,
    )

    assert len(rows) == total == 4
    for row in rows:
        image = Image.objects.get(pk=row["id"])
        written, serialized = image_list_item_data(row), ImageListItem(image).data
        assert json.dumps(_without_signatures(written)) == json.dumps(
            _without_signatures(serialized)
        )
        assert set(written["thumb_urls"]) == set(image.thumb_keys)


@pytest.mark.parametrize("mode", [CaptureSession.Mode.STUDIO360, CaptureSession.Mode.STILLS])
def test_the_presign_response_is_what_its_serializer_writes(org, site, device, mode):
    session = CaptureSessionFactory(org=org, site=site, device=device, mode=mode)
    image, presigned = image_upload_start(
        actor=Actor(kind="device", org_id=org.id, device=device),
        session_id=session.id,
        file_name="IMG_0001.jpg",
        content_type="image/jpeg",
        content_sha256="ab" * 32,
    )
    body = {"image": image, "presigned": presigned}

    written = presign_response_data(image, presigned)

    assert json.dumps(written) == json.dumps(PresignResponse(body).data)


def test_a_presigned_image_is_stored_as_the_orm_would_store_it(org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    actor = Actor(kind="device", org_id=org.id, device=device)
    image, _ = image_upload_start(
        actor=actor,
        session_id=session.id,
        file_name="IMG_0001.jpg",
        content_type="image/jpeg",
        content_sha256="cd" * 32,
        frame_index=3,
    )

    stored = Image.objects.get(pk=image.pk)
    assert stored.created_at is not None
    for field in Image._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(image, field.attname), field.name
    assert (stored.status, stored.frame_index, stored.qc, stored.thumb_keys) == (
        Image.Status.PENDING,
        3,
        {},
        {},
    )
