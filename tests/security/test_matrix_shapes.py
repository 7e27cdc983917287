"""SECURITY.md, "Mass assignment and shapes (API3)", line by line, through HTTP."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from events_app.models import Event
from images_app.models import Image
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

VIN = "1HGCM82633A004352"


@pytest.fixture
def session(org, site, device):
    return CaptureSessionFactory(org=org, site=site, device=device)


def presign_body(session, **extra) -> dict:
    return {
        "session_id": str(session.id),
        "file_name": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(b"photo").hexdigest(),
        **extra,
    }


# --- server-owned fields in a create body: ignored, never applied


def test_server_owned_fields_in_a_session_create_are_ignored(api, device, site, org, other_org):
    planted = {
        "id": str(uuid.uuid4()),
        "org_id": str(other_org.id),
        "status": "complete",
        "started_at": "2001-01-01T00:00:00Z",
        "completed_at": "2001-01-01T01:00:00Z",
        "vehicle_id": str(VehicleFactory(org=org).id),
        "device_id": str(uuid.uuid4()),
    }
    body = {"site_id": str(site.id), "vehicle": {"vin": VIN}, "mode": "stills", **planted}

    response = api(device).post("/v1/sessions", body, format="json")

    assert response.status_code == 201, response.content
    created = CaptureSession.objects.get(pk=response.json()["id"])
    assert str(created.id) != planted["id"]
    assert (created.org_id, created.status, created.completed_at) == (org.id, "active", None)
    assert str(created.vehicle_id) != planted["vehicle_id"]
    assert created.started_at.year > 2001
    assert created.device_id == device.id


def test_server_owned_fields_in_a_presign_are_ignored(api, device, session, other_org):
    planted = {
        "image_id": str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "org_id": str(other_org.id),
        "status": "processed",
        "storage_key": "../../other-org/evil.jpg",
        "error": "",
    }

    response = api(device).post("/v1/presign", presign_body(session, **planted), format="json")

    assert response.status_code == 200, response.content
    image = Image.objects.get(pk=response.json()["image_id"])
    assert str(image.id) not in (planted["image_id"], planted["id"])
    assert (image.org_id, image.status) == (session.org_id, "pending")
    assert image.storage_key == response.json()["storage_key"]
    assert image.storage_key.startswith(f"org/{session.org_id}/site/{session.site_id}/")


def test_server_owned_fields_in_an_event_are_ignored(api, device, session, other_org):
    body = {
        "entity_type": "session",
        "entity_id": str(session.id),
        "type": "upload_started",
        "org_id": str(other_org.id),
        "actor_type": "system",
        "actor_id": str(uuid.uuid4()),
        "request_id": "planted",
    }

    assert api(device).post("/v1/events", body, format="json").status_code == 201

    stored = Event.objects.get(entity_id=session.id)
    assert (stored.org_id, stored.actor_type, stored.actor_id) == (
        session.org_id,
        "device",
        device.id,
    )
    assert stored.request_id != "planted"


# --- JSON only


def json_endpoints(session) -> dict[str, tuple[str, str]]:
    """(method, path) of every endpoint that reads a body."""
    return {
        "auth/device": ("post", "/v1/auth/device"),
        "auth/login": ("post", "/v1/auth/login"),
        "sessions create": ("post", "/v1/sessions"),
        "sessions finish": ("patch", f"/v1/sessions/{session.id}"),
        "presign": ("post", "/v1/presign"),
        "events": ("post", "/v1/events"),
    }


ENDPOINTS = ["auth/device", "auth/login", "sessions create", "sessions finish", "presign", "events"]
NOT_JSON = {
    "form": ("application/x-www-form-urlencoded", "status=complete&site_id=x"),
    "multipart": (
        "multipart/form-data; boundary=b",
        '--b\r\nContent-Disposition: form-data; name="status"\r\n\r\ncomplete\r\n--b--',
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("content_type", "raw"), NOT_JSON.values(), ids=NOT_JSON.keys())
def test_form_and_multipart_bodies_are_415(api, device, session, endpoint, content_type, raw):
    method, path = json_endpoints(session)[endpoint]

    response = getattr(api(device), method)(path, raw, content_type=content_type)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


HOSTILE_JSON = {
    "duplicate-keys": b'{"status": "abandoned", "status": "complete"}',
    "nul-in-string": b'{"status": "complete\\u0000"}',
    "nul-in-key": b'{"status\\u0000": "complete"}',
    "nested-thousands-deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "array-thousands-deep": b"[" * 5000 + b"]" * 5000,
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("raw", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_duplicate_keys_nul_and_deep_nesting_are_400(api, device, session, endpoint, raw):
    method, path = json_endpoints(session)[endpoint]

    response = getattr(api(device), method)(path, raw, content_type="application/json")

    assert_error(response, 400, "MALFORMED_REQUEST")
    assert CaptureSession.objects.get(pk=session.pk).status == "active"


def test_nul_inside_an_event_meta_object_is_400_and_nothing_is_stored(api, device, session):
    event = {
        "entity_type": "session",
        "entity_id": str(session.id),
        "type": "upload_started",
        "meta": {"note": "a\u0000b", "nested": {"k\u0000": 1}},
    }

    response = api(device).post("/v1/events", json.dumps(event), content_type="application/json")

    assert_error(response, 400, "MALFORMED_REQUEST")
    assert not Event.objects.exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_over_the_size_limit_is_413_in_the_envelope(
    api, device, session, settings, endpoint
):
    method, path = json_endpoints(session)[endpoint]
    raw = json.dumps({"pad": "x" * (settings.API_MAX_BODY_BYTES + 1)})

    response = getattr(api(device), method)(path, raw, content_type="application/json")

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["error"]["details"] == {"max_bytes": settings.API_MAX_BODY_BYTES}


# --- paging and ids in the query and the path

BAD_PAGING = {
    "limit-1e9": {"limit": str(10**9)},
    "limit-9.5e19": {"limit": "9.5e19"},
    "limit-negative": {"limit": "-1"},
    "offset-negative": {"offset": "-5"},
    "limit-not-a-number": {"limit": "ten"},
    "offset-not-a-number": {"offset": "0x10"},
}


@pytest.mark.parametrize("paging", BAD_PAGING.values(), ids=BAD_PAGING.keys())
def test_bad_paging_on_the_sessions_list_is_400_never_every_row(api, admin, paging):
    response = api(admin).get("/v1/sessions", paging)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == set(paging)


@pytest.mark.parametrize("paging", BAD_PAGING.values(), ids=BAD_PAGING.keys())
def test_bad_paging_on_the_images_list_is_400_never_every_row(api, admin, session, paging):
    response = api(admin).get("/v1/images", {"session_id": str(session.id), **paging})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == set(paging)


MALFORMED_UUIDS = ["not-a-uuid", "1", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "%00", "' OR 1=1 --"]


@pytest.mark.parametrize("bad", MALFORMED_UUIDS)
@pytest.mark.parametrize(
    "path",
    ["/v1/sessions/{}", "/v1/images/{}", "/v1/images/{}/publish"],
    ids=["session", "image", "publish"],
)
def test_a_malformed_uuid_in_the_path_is_404(api, admin, path, bad):
    client = api(admin)
    send = client.post if path.endswith("publish") else client.get

    assert_error(send(path.format(bad)), 404, "NOT_FOUND")


@pytest.mark.parametrize("bad", MALFORMED_UUIDS)
@pytest.mark.parametrize(
    ("path", "name"),
    [("/v1/sessions", "site_id"), ("/v1/sessions", "vehicle_id"), ("/v1/images", "session_id")],
    ids=["sessions-site_id", "sessions-vehicle_id", "images-session_id"],
)
def test_a_malformed_uuid_in_the_query_is_400(api, admin, path, name, bad):
    response = api(admin).get(path, {name: bad})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert name in body["error"]["details"]


@pytest.mark.parametrize("bad", MALFORMED_UUIDS)
def test_a_malformed_uuid_in_a_body_is_400(api, device, session, bad):
    presign = api(device).post("/v1/presign", presign_body(session, session_id=bad), "json")
    event = api(device).post(
        "/v1/events",
        {"entity_type": "image", "entity_id": bad, "type": "upload_complete"},
        format="json",
    )

    assert_error(presign, 400, "VALIDATION_ERROR")
    assert_error(event, 400, "VALIDATION_ERROR")
