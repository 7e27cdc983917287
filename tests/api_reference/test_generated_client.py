"""A capture app built on the Python client that openapi-python-client generates from the
published schema: enroll, start a session, presign, upload, report upload_complete, against
a live server. The client is generated afresh from today's schema (never committed)."""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from accounts.services import enrollment_code_create
from images_app.models import Image
from tests.api_reference.schema_tools import published_schema
from tests.api_reference.test_examples import jpeg

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = Path(settings.BASE_DIR) / "scripts" / "openapi-python-client.yaml"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    """The generated package ``imaging_api_client``, importable."""
    root = tmp_path_factory.mktemp("generated")
    schema_path = root / "openapi.json"
    schema_path.write_text(json.dumps(published_schema()))
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema_path),
            "--output-path",
            str(root / "imaging_api_client"),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("imaging_api_client")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == "imaging_api_client"]:
            del sys.modules[name]


def test_a_capture_app_on_the_generated_client_enrolls_captures_and_uploads_a_photo(
    client_package, live_server, s3, org, site
):
    from imaging_api_client import AuthenticatedClient, Client
    from imaging_api_client.api.auth import auth_device
    from imaging_api_client.api.events import events_ingest
    from imaging_api_client.api.presign import presign
    from imaging_api_client.api.sessions import sessions_create
    from imaging_api_client.models import (
        ContentTypeEnum,
        DeviceAuthRequest,
        DeviceAuthResponse,
        EntityTypeEnum,
        EventBatchInput,
        EventInput,
        EventsAccepted,
        EventTypeEnum,
        PlatformEnum,
        PresignRequest,
        PresignResponse,
        Session,
        SessionCreateStudio360Request,
    )

    _code, plain_code = enrollment_code_create(org=org)
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)
    enrolled = auth_device.sync(
        client=anonymous,
        body=DeviceAuthRequest(
            org_id=org.id,
            platform=PlatformEnum.ANDROID,
            model="Pixel 9",
            app_version="2.0.0",
            enrollment_code=plain_code,
        ),
    )
    assert isinstance(enrolled, DeviceAuthResponse)
    device = AuthenticatedClient(
        base_url=live_server.url, token=enrolled.access_token, raise_on_unexpected_status=True
    )

    session = sessions_create.sync(
        client=device,
        body=SessionCreateStudio360Request.from_dict(
            {
                "site_id": str(site.id),
                "vehicle": {"vin": "1HGCM82633A004352"},
                "mode": "studio360",
                "shot_list": {"studio360": {"frame_count": 36}},
            }
        ),
    )
    assert isinstance(session, Session)
    assert session.status.value == "active"

    photo = jpeg()
    presigned = presign.sync(
        client=device,
        body=PresignRequest(
            session_id=session.id,
            file_name="frame_000.jpg",
            content_type=ContentTypeEnum.IMAGEJPEG,
            content_sha256=hashlib.sha256(photo).hexdigest(),
            angle_deg=0,
            content_length=len(photo),
        ),
    )
    assert isinstance(presigned, PresignResponse)
    put = httpx.put(
        presigned.upload_url, content=photo, headers=presigned.headers.to_dict(), timeout=30
    )
    assert put.status_code == 200, put.text

    accepted = events_ingest.sync(
        client=device,
        body=EventBatchInput(
            events=[
                EventInput(
                    entity_type=EntityTypeEnum.IMAGE,
                    entity_id=presigned.image_id,
                    type_=EventTypeEnum.UPLOAD_COMPLETE,
                )
            ]
        ),
    )
    assert isinstance(accepted, EventsAccepted)
    assert accepted.accepted == 1
    image = Image.objects.get(pk=presigned.image_id)
    assert image.uploaded_at is not None
    assert image.session_id == session.id
