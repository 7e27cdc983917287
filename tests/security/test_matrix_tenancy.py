"""SECURITY.md, "Tenancy and function-level access (OWASP API1, API5)", line by line.

Every test goes through HTTP and asserts the status and the envelope's error code.
"""

from __future__ import annotations

import hashlib
import uuid
from types import SimpleNamespace

import pytest

from accounts.tests.factories import DeviceFactory, UserFactory
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import assert_error, without_request_id

pytestmark = pytest.mark.django_db

VIN = "1HGCM82633A004352"


def presign_body(session_id: str) -> dict:
    return {
        "session_id": session_id,
        "file_name": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(b"photo").hexdigest(),
    }


def event_about(entity_type: str, entity_id: str) -> dict:
    return {"entity_type": entity_type, "entity_id": entity_id, "type": "upload_started"}


@pytest.fixture
def theirs(other_org, other_site_of_other_org, outsider):
    """Objects of another organisation, each of a kind the API takes an id of."""
    session = CaptureSessionFactory(org=other_org, site=other_site_of_other_org, operator=outsider)
    return SimpleNamespace(
        session=session,
        image=processed(ImageFactory(session=session)),
        vehicle=session.vehicle,
        device=DeviceFactory(org=other_org),
        site=other_site_of_other_org,
    )


# (what the id names, request) — every way the API takes an id of one of these.
BY_ID = {
    "GET /sessions/:id": ("session", lambda c, i: c.get(f"/v1/sessions/{i}")),
    "PATCH /sessions/:id": (
        "session",
        lambda c, i: c.patch(f"/v1/sessions/{i}", {"status": "complete"}, format="json"),
    ),
    "GET /images?session_id": ("session", lambda c, i: c.get("/v1/images", {"session_id": i})),
    "POST /presign": ("session", lambda c, i: c.post("/v1/presign", presign_body(i), "json")),
    "POST /events session": (
        "session",
        lambda c, i: c.post("/v1/events", event_about("session", i), format="json"),
    ),
    "GET /images/:id": ("image", lambda c, i: c.get(f"/v1/images/{i}")),
    "POST /images/:id/publish": ("image", lambda c, i: c.post(f"/v1/images/{i}/publish")),
    "POST /events image": (
        "image",
        lambda c, i: c.post("/v1/events", event_about("image", i), format="json"),
    ),
    "POST /events device": (
        "device",
        lambda c, i: c.post("/v1/events", event_about("device", i), format="json"),
    ),
    "POST /sessions site_id": (
        "site",
        lambda c, i: c.post(
            "/v1/sessions",
            {"site_id": i, "vehicle": {"vin": VIN}, "mode": "stills"},
            format="json",
        ),
    ),
}


@pytest.mark.parametrize(("kind", "send"), BY_ID.values(), ids=BY_ID.keys())
def test_another_orgs_object_by_id_is_a_404_with_the_body_of_a_missing_id(
    api, admin, theirs, kind, send
):
    client = api(admin)  # an admin sees every site of their own org, and nothing else

    foreign = send(client, str(getattr(theirs, kind).id))
    missing = send(client, str(uuid.uuid4()))

    assert_error(foreign, 404, "NOT_FOUND")
    assert_error(missing, 404, "NOT_FOUND")
    assert without_request_id(foreign) == without_request_id(missing)


def test_another_orgs_vehicle_as_a_filter_finds_what_a_missing_id_finds(api, admin, theirs):
    client = api(admin)

    foreign = client.get("/v1/sessions", {"vehicle_id": str(theirs.vehicle.id)})
    missing = client.get("/v1/sessions", {"vehicle_id": str(uuid.uuid4())})

    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json() == {"data": [], "total": 0, "limit": 50, "offset": 0}


@pytest.fixture
def elsewhere(org, other_site, admin):
    """A session at a site of our org that the operator and the reviewer do not work at."""
    session = CaptureSessionFactory(org=org, site=other_site, operator=admin)
    return SimpleNamespace(session=session, image=processed(ImageFactory(session=session)))


READS_AT_ANOTHER_SITE = {
    "GET /sessions/:id": lambda c, e: c.get(f"/v1/sessions/{e.session.id}"),
    "GET /images?session_id": lambda c, e: c.get("/v1/images", {"session_id": e.session.id}),
    "GET /images/:id": lambda c, e: c.get(f"/v1/images/{e.image.id}"),
}


@pytest.mark.parametrize("persona", ["operator", "reviewer"])
@pytest.mark.parametrize("read", READS_AT_ANOTHER_SITE.values(), ids=READS_AT_ANOTHER_SITE.keys())
def test_reads_at_another_site_of_the_org_are_404(api, request, elsewhere, persona, read):
    client = api(request.getfixturevalue(persona))

    assert_error(read(client, elsewhere), 404, "NOT_FOUND")


@pytest.mark.parametrize("persona", ["operator", "reviewer"])
def test_creating_a_session_at_another_site_of_the_org_is_403(api, request, other_site, persona):
    body = {"site_id": str(other_site.id), "vehicle": {"vin": VIN}, "mode": "stills"}

    response = api(request.getfixturevalue(persona)).post("/v1/sessions", body, format="json")

    assert_error(response, 403, "FORBIDDEN")


@pytest.fixture
def ours(org, site, operator):
    session = CaptureSessionFactory(org=org, site=site, operator=operator)
    return SimpleNamespace(session=session, image=processed(ImageFactory(session=session)))


USER_ONLY = {
    "GET /sessions": lambda c, o: c.get("/v1/sessions"),
    "GET /images?session_id": lambda c, o: c.get("/v1/images", {"session_id": o.session.id}),
    "GET /images/:id": lambda c, o: c.get(f"/v1/images/{o.image.id}"),
    "POST /images/:id/publish": lambda c, o: c.post(f"/v1/images/{o.image.id}/publish"),
}


@pytest.mark.parametrize("send", USER_ONLY.values(), ids=USER_ONLY.keys())
def test_a_device_token_on_a_user_only_endpoint_is_403(api, device, ours, send):
    assert_error(send(api(device), ours), 403, "FORBIDDEN")


def test_an_operator_publishing_is_403(api, operator, ours):
    response = api(operator).post(f"/v1/images/{ours.image.id}/publish")

    assert_error(response, 403, "FORBIDDEN")


def test_a_reviewer_of_another_site_publishing_is_404(api, org, other_site, ours):
    stranger = UserFactory(org=org, role="reviewer", sites=[other_site])

    response = api(stranger).post(f"/v1/images/{ours.image.id}/publish")

    assert_error(response, 404, "NOT_FOUND")


def test_presign_into_another_devices_session_is_403(api, org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=DeviceFactory(org=org))

    response = api(device).post("/v1/presign", presign_body(str(session.id)), format="json")

    assert_error(response, 403, "FORBIDDEN")


def test_presign_into_another_operators_session_is_403(api, org, site, operator, admin):
    session = CaptureSessionFactory(org=org, site=site, operator=admin)

    response = api(operator).post("/v1/presign", presign_body(str(session.id)), format="json")

    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("status", ["complete", "abandoned", "failed"])
def test_presign_into_a_finished_session_is_409(api, org, site, device, status):
    session = CaptureSessionFactory(org=org, site=site, device=device, status=status)

    response = api(device).post("/v1/presign", presign_body(str(session.id)), format="json")

    body = assert_error(response, 409, "SESSION_NOT_ACTIVE")
    assert body["error"]["details"] == {"status": status}
    assert not CaptureSession.objects.get(pk=session.pk).images.exists()
