"""GET and PATCH /v1/sessions/<id>: shape, who sees which session, the status machine."""

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory

pytestmark = pytest.mark.django_db

DETAIL_KEYS = {
    "id",
    "org_id",
    "site_id",
    "vehicle",
    "mode",
    "shot_list",
    "operator",
    "device",
    "status",
    "started_at",
    "completed_at",
    "reshoots",  # additive: the open reshoot items (images_app)
    "frames",  # additive: each image's processing state and QC verdict (images_app)
    "shot_list_template_id",  # additive: the template the shot list came from, or null
    "spin_health",  # additive: the spin checks (images_app/spin_health.py)
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def url(session_or_id) -> str:
    return f"/v1/sessions/{getattr(session_or_id, 'id', session_or_id)}"


def patch(client, session, data):
    return client.patch(url(session), data, format="json")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def session(org, site, operator):
    vehicle = VehicleFactory(org=org, vin="1HGCM82633A004352", stock="STK-001")
    return CaptureSessionFactory(
        org=org,
        site=site,
        vehicle=vehicle,
        operator=operator,
        started_at=timezone.now() - timedelta(hours=1),
        shot_list={"studio360": {"frame_count": 24}, "stills": ["front_3q"]},
    )


@pytest.fixture
def device_session(org, site, device):
    return CaptureSessionFactory(org=org, site=site, device=device)


# --- GET: shape


def test_detail_has_the_contract_shape(api, operator, session, org, site):
    response = api(operator).get(url(session))

    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == DETAIL_KEYS
    assert data["id"] == str(session.id)
    assert data["org_id"] == str(org.id)
    assert data["site_id"] == str(site.id)
    assert data["vehicle"] == {
        "id": str(session.vehicle_id),
        "vin": "1HGCM82633A004352",
        "stock": "STK-001",
    }
    assert data["mode"] == "studio360"
    assert data["shot_list"] == {"studio360": {"frame_count": 24}, "stills": ["front_3q"]}
    assert data["operator"] == {"id": str(operator.id), "name": "Otto Operator"}
    assert data["device"] is None
    assert data["status"] == "active"
    assert ISO_UTC.match(data["started_at"])
    assert data["completed_at"] is None


def test_detail_of_a_device_session_embeds_the_device(api, device, device_session):
    data = api(device).get(url(device_session)).json()
    assert data["device"] == {"id": str(device.id), "model": "iPhone 15 Pro"}
    assert data["operator"] is None


# --- GET: who sees which session


def test_another_orgs_session_is_not_found_like_a_missing_one(api, outsider, session):
    foreign = api(outsider).get(url(session))
    missing = api(outsider).get(url(uuid.uuid4()))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"]
    assert foreign.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "123", "4C217FBF-4845-4DE9-8B54-F4641E0F0128x", "%00", "..%2f"]
)
def test_a_malformed_id_in_the_path_is_not_found(api, admin, bad_id):
    response = api(admin).get(f"/v1/sessions/{bad_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("persona", ["operator", "reviewer"])
def test_users_of_another_site_do_not_find_the_session(api, request, org, other_site, persona):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)
    response = api(request.getfixturevalue(persona)).get(url(elsewhere))
    assert response.status_code == 404


def test_admin_finds_sessions_of_every_site(api, admin, org, other_site):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)
    assert api(admin).get(url(elsewhere)).status_code == 200


def test_reviewer_of_the_site_finds_a_device_session(api, reviewer, device_session):
    assert api(reviewer).get(url(device_session)).status_code == 200


def test_a_device_does_not_find_another_devices_session(api, org, device_session):
    other_device = DeviceFactory(org=org)
    assert api(other_device).get(url(device_session)).status_code == 404


def test_a_device_does_not_find_a_session_a_user_started(api, device, session):
    assert api(device).get(url(session)).status_code == 404


def test_a_device_no_longer_limited_to_the_site_loses_its_sessions_there(
    api, device, device_session, other_site
):
    device.sites.set([other_site])
    assert api(device).get(url(device_session)).status_code == 404


def test_reading_without_a_token_is_unauthorized(api, session):
    response = api().get(url(session))
    assert response.status_code == 401


# --- PATCH: finishing


def test_finishing_returns_the_updated_detail(api, operator, session):
    before = timezone.now()
    response = patch(api(operator), session, {"status": "complete"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == DETAIL_KEYS
    assert data["status"] == "complete"
    assert ISO_UTC.match(data["completed_at"])
    assert before <= parse_time(data["completed_at"]) <= timezone.now()
    session.refresh_from_db()
    assert session.status == "complete"
    assert session.completed_at == parse_time(data["completed_at"])


@pytest.mark.parametrize("status", ["complete", "abandoned", "failed"])
def test_every_finished_status_can_be_reached_from_active(api, operator, session, status):
    response = patch(api(operator), session, {"status": status})
    assert response.status_code == 200
    assert response.json()["status"] == status


def test_finishing_records_a_session_finished_event(api, operator, session):
    response = patch(api(operator), session, {"status": "abandoned"})
    event = Event.objects.get(type=Event.Type.SESSION_FINISHED)
    assert event.entity_type == Event.EntityType.SESSION
    assert event.entity_id == session.id
    assert (event.actor_type, event.actor_id) == (Event.ActorType.USER, operator.id)
    assert event.meta == {"status": "abandoned", "completed_at_source": "server"}
    assert event.request_id == response["X-Request-ID"]


def test_a_plausible_client_finish_time_is_kept(api, operator, session):
    finished = session.started_at + timedelta(minutes=30)
    sent = finished.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = patch(api(operator), session, {"status": "complete", "completed_at": sent})

    assert response.json()["completed_at"] == sent
    event = Event.objects.get(type=Event.Type.SESSION_FINISHED)
    assert event.meta["completed_at_source"] == "client"


def test_a_client_clock_slightly_ahead_is_believed(api, operator, session):
    ahead = timezone.now() + timedelta(minutes=2)
    sent = ahead.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = patch(api(operator), session, {"status": "complete", "completed_at": sent})
    assert response.json()["completed_at"] == sent


@pytest.mark.parametrize(
    "completed_at",
    [
        lambda s: s.started_at - timedelta(seconds=1),
        lambda s: timezone.now() + timedelta(hours=1),
        lambda s: timezone.now() + timedelta(days=3650),
    ],
    ids=["before-start", "an-hour-ahead", "years-ahead"],
)
def test_an_implausible_client_finish_time_is_replaced_by_now(api, operator, session, completed_at):
    sent = completed_at(session).isoformat()
    before = timezone.now()
    response = patch(api(operator), session, {"status": "failed", "completed_at": sent})

    assert response.status_code == 200
    assert before <= parse_time(response.json()["completed_at"]) <= timezone.now()
    event = Event.objects.get(type=Event.Type.SESSION_FINISHED)
    assert event.meta["completed_at_source"] == "server"


def test_a_null_finish_time_means_now(api, operator, session):
    response = patch(api(operator), session, {"status": "complete", "completed_at": None})
    assert response.status_code == 200
    assert response.json()["completed_at"] is not None


@pytest.mark.parametrize("completed_at", ["yesterday", "2025-13-40T00:00:00Z", 1736935200, True])
def test_a_malformed_finish_time_is_a_validation_error(api, operator, session, completed_at):
    response = patch(api(operator), session, {"status": "complete", "completed_at": completed_at})
    assert response.status_code == 400
    assert "completed_at" in response.json()["error"]["details"]
    session.refresh_from_db()
    assert session.status == "active"


@pytest.mark.parametrize("status", ["active", "done", "COMPLETE", "", None, 1])
def test_a_status_that_is_not_a_finish_is_a_validation_error(api, operator, session, status):
    response = patch(api(operator), session, {"status": status})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "status" in response.json()["error"]["details"]


def test_a_patch_without_status_is_a_validation_error(api, operator, session):
    response = patch(api(operator), session, {"completed_at": "2025-01-15T10:30:00Z"})
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]


@pytest.mark.parametrize("finished", ["complete", "abandoned", "failed"])
@pytest.mark.parametrize("wanted", ["complete", "abandoned", "failed"])
def test_a_finished_session_never_changes_again(api, operator, session, finished, wanted):
    finished_at = timezone.now() - timedelta(minutes=5)
    CaptureSession.objects.filter(pk=session.pk).update(status=finished, completed_at=finished_at)

    response = patch(api(operator), session, {"status": wanted})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "INVALID_TRANSITION"
    assert error["details"] == {"status": finished}
    session.refresh_from_db()
    assert (session.status, session.completed_at) == (finished, finished_at)
    assert not Event.objects.filter(type=Event.Type.SESSION_FINISHED).exists()


def test_other_fields_in_the_patch_body_are_ignored(api, operator, session, org, other_site):
    other_vehicle = VehicleFactory(org=org)
    original = (session.mode, session.shot_list, session.site_id, session.started_at)
    response = patch(
        api(operator),
        session,
        {
            "status": "complete",
            "mode": "stills",
            "shot_list": {"stills": ["x"]},
            "site_id": str(other_site.id),
            "vehicle_id": str(other_vehicle.id),
            "started_at": "2001-01-01T00:00:00Z",
            "org_id": str(uuid.uuid4()),
            "id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.mode, session.shot_list, session.site_id, session.started_at) == original
    assert session.vehicle_id != other_vehicle.id
    assert response.json()["id"] == str(session.id)


def test_a_device_finishes_its_own_session(api, device, device_session):
    response = patch(api(device), device_session, {"status": "complete"})
    assert response.status_code == 200
    event = Event.objects.get(type=Event.Type.SESSION_FINISHED)
    assert (event.actor_type, event.actor_id) == (Event.ActorType.DEVICE, device.id)


def test_a_device_cannot_finish_another_devices_session(api, org, device_session):
    response = patch(api(DeviceFactory(org=org)), device_session, {"status": "complete"})
    assert response.status_code == 404
    device_session.refresh_from_db()
    assert device_session.status == "active"


def test_a_user_of_the_site_may_finish_a_device_session(api, operator, device_session):
    assert patch(api(operator), device_session, {"status": "abandoned"}).status_code == 200


def test_finishing_another_orgs_session_is_not_found_like_a_missing_one(api, outsider, session):
    foreign = patch(api(outsider), session, {"status": "complete"})
    missing = patch(api(outsider), uuid.uuid4(), {"status": "complete"})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"]
    session.refresh_from_db()
    assert session.status == "active"


def test_an_operator_of_another_site_cannot_finish_the_session(api, org, other_site, operator):
    elsewhere = CaptureSessionFactory(org=org, site=other_site)
    assert patch(api(operator), elsewhere, {"status": "complete"}).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == "active"


def test_finishing_with_a_malformed_id_is_not_found(api, operator):
    response = api(operator).patch("/v1/sessions/nope", {"status": "complete"}, format="json")
    assert response.status_code == 404


def test_finishing_without_a_token_is_unauthorized(api, session):
    assert patch(api(), session, {"status": "complete"}).status_code == 401


def test_a_form_encoded_patch_is_unsupported(api, operator, session):
    response = api(operator).patch(
        url(session), "status=complete", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    session.refresh_from_db()
    assert session.status == "active"


@pytest.mark.parametrize("persona", ["admin", "operator", "device"])
def test_a_changed_detail_is_three_queries_and_an_unchanged_one_two_for_every_caller(
    api, request, org, site, operator, device, persona, django_assert_num_queries
):
    session = CaptureSessionFactory(org=org, site=site, operator=operator, device=device)
    client = api(request.getfixturevalue(persona))
    assert client.get(url(session)).status_code == 200  # a device records last_seen_at

    # changed since this process last answered: the caller (token authentication); the
    # session's row (its ETag); the session with what it embeds, scoped, its open reshoot
    # items and its frames in the same statement
    CaptureSession.objects.filter(pk=session.pk).update(detail_version=F("detail_version") + 1)
    with django_assert_num_queries(3):
        response = client.get(url(session))
    assert response.status_code == 200

    # unchanged: the caller and the session's row, answered as rendered the first time
    with django_assert_num_queries(2):
        assert client.get(url(session)).content == response.content

    # unchanged: the caller and the session's row (its ETag), nothing else
    with django_assert_num_queries(2):
        again = client.get(url(session), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert response.json()["operator"] == {"id": str(operator.id), "name": operator.name}
