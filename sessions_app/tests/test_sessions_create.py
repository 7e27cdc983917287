"""POST /v1/sessions: shapes, site access, vehicle upsert, shot lists, bad input."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from sessions_app.models import CaptureSession, Vehicle
from sessions_app.tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db

URL = "/v1/sessions"
CREATED_KEYS = {
    "id",
    "org_id",
    "site_id",
    "vehicle_id",
    "mode",
    "shot_list",
    "shot_list_template_id",  # additive: the template the shot list came from, or null
    "status",
    "started_at",
    "completed_at",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
VALID_VIN = "1HGCM82633A004352"  # check digit (position 9) holds
WRONG_CHECK_DIGIT_VIN = "1HGCM82633A123456"  # the contract's example: check digit 7 expected


def body(site, **overrides):
    data = {
        "site_id": str(site.id),
        "vehicle": {"vin": VALID_VIN, "stock": "STK-001"},
        "mode": "studio360",
        "shot_list": {"studio360": {"frame_count": 24}},
    }
    data.update(overrides)
    return data


def post(client, data):
    return client.post(URL, data, format="json")


def error_of(response):
    return response.json()["error"]


# --- Who may create where


def test_operator_starts_a_session_at_their_site_with_the_contract_shape(api, operator, site):
    response = post(api(operator), body(site))

    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == CREATED_KEYS
    session = CaptureSession.objects.get()
    assert data["id"] == str(session.id)
    assert data["org_id"] == str(site.org_id)
    assert data["site_id"] == str(site.id)
    assert data["vehicle_id"] == str(session.vehicle_id)
    assert data["mode"] == "studio360"
    assert data["shot_list"] == {"studio360": {"frame_count": 24}}
    assert data["status"] == "active"
    assert ISO_UTC.match(data["started_at"])
    assert data["completed_at"] is None
    assert session.operator == operator
    assert session.device is None


def test_ids_in_the_response_are_lowercase_uuids(api, operator, site):
    data = post(api(operator), body(site)).json()
    for key in ("id", "org_id", "site_id", "vehicle_id"):
        assert data[key] == str(uuid.UUID(data[key]))


def test_session_created_event_is_recorded_with_the_user_as_actor(api, operator, site):
    response = post(api(operator), body(site))
    event = Event.objects.get(type=Event.Type.SESSION_CREATED)
    assert event.entity_type == Event.EntityType.SESSION
    assert str(event.entity_id) == response.json()["id"]
    assert event.actor_type == Event.ActorType.USER
    assert event.actor_id == operator.id
    assert event.org_id == site.org_id
    assert event.request_id == response["X-Request-ID"]
    assert event.meta == {
        "site_id": str(site.id),
        "vehicle_id": response.json()["vehicle_id"],
        "mode": "studio360",
    }


def test_device_starts_a_session_and_is_recorded_as_its_author(api, device, site):
    response = post(api(device), body(site))

    assert response.status_code == 201, response.content
    session = CaptureSession.objects.get()
    assert session.device == device
    assert session.operator is None
    event = Event.objects.get(type=Event.Type.SESSION_CREATED)
    assert (event.actor_type, event.actor_id) == (Event.ActorType.DEVICE, device.id)


def test_device_limited_to_sites_may_start_sessions_only_there(api, org, site, other_site):
    device = DeviceFactory(org=org, sites=[other_site])

    assert post(api(device), body(other_site)).status_code == 201
    refused = post(api(device), body(site, vehicle={"stock": "STK-002"}))
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "FORBIDDEN"


def test_admin_may_start_a_session_at_any_site_of_the_org(api, admin, other_site):
    assert post(api(admin), body(other_site)).status_code == 201


def test_reviewer_may_start_a_session_at_their_site(api, reviewer, site):
    assert post(api(reviewer), body(site)).status_code == 201


def test_operator_cannot_start_a_session_at_another_site_of_the_org(api, operator, other_site):
    response = post(api(operator), body(other_site))

    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    assert not CaptureSession.objects.exists()
    assert not Vehicle.objects.exists()
    assert not Event.objects.exists()


def test_removing_a_site_from_an_operator_applies_to_a_token_already_issued(api, operator, site):
    client = api(operator)
    operator.sites.clear()
    assert post(client, body(site)).status_code == 403


def test_site_of_another_org_is_not_found_like_a_missing_site(
    api, operator, other_site_of_other_org
):
    foreign = post(api(operator), body(other_site_of_other_org))
    missing = post(api(operator), body(other_site_of_other_org, site_id=str(uuid.uuid4())))

    assert foreign.status_code == missing.status_code == 404
    assert error_of(foreign) == error_of(missing)
    assert error_of(foreign)["code"] == "NOT_FOUND"
    assert not CaptureSession.objects.exists()


def test_a_request_without_a_token_is_unauthorized(api, site):
    response = post(api(), body(site))
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"


def test_a_garbage_token_is_unauthorized(api, site):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert post(client, body(site)).status_code == 401


def test_a_revoked_device_token_is_unauthorized(api, device, site):
    client = api(device)
    device.revoked_at = timezone.now()
    device.save()
    assert post(client, body(site)).status_code == 401


def test_form_encoded_body_is_unsupported(api, operator, site):
    response = api(operator).post(URL, {"site_id": str(site.id), "mode": "stills"})
    assert response.status_code == 415
    assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


# --- Mass assignment


def test_server_owned_fields_in_the_body_are_ignored(api, operator, site, org, other_org):
    planted_vehicle = VehicleFactory(org=org, vin=None, stock="PLANTED")
    planted_id = uuid.uuid4()
    response = post(
        api(operator),
        body(
            site,
            id=str(planted_id),
            org_id=str(other_org.id),
            status="complete",
            started_at="2001-01-01T00:00:00Z",
            completed_at="2001-01-01T01:00:00Z",
            vehicle_id=str(planted_vehicle.id),
            operator={"id": str(uuid.uuid4()), "name": "Mallory"},
            device_id=str(uuid.uuid4()),
        ),
    )

    assert response.status_code == 201, response.content
    data = response.json()
    session = CaptureSession.objects.get()
    assert session.id != planted_id and data["id"] != str(planted_id)
    assert session.org_id == org.id
    assert session.status == data["status"] == "active"
    assert session.started_at > timezone.now() - timedelta(minutes=1)
    assert session.completed_at is None
    assert session.vehicle_id != planted_vehicle.id
    assert session.operator == operator
    assert session.device is None


# --- Required fields and types


def test_missing_fields_are_named_in_the_error(api, operator):
    response = post(api(operator), {})
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert set(error_of(response)["details"]) == {"site_id", "vehicle", "mode"}


@pytest.mark.parametrize("site_id", ["nope", "123", "", None, 42])
def test_malformed_site_id_is_a_validation_error(api, operator, site, site_id):
    response = post(api(operator), body(site, site_id=site_id))
    assert response.status_code == 400
    assert "site_id" in error_of(response)["details"]


@pytest.mark.parametrize("mode", ["spin", "STUDIO360", "", None, 360])
def test_unknown_mode_is_a_validation_error(api, operator, site, mode):
    response = post(api(operator), body(site, mode=mode))
    assert response.status_code == 400
    assert "mode" in error_of(response)["details"]


@pytest.mark.parametrize("vehicle", [{}, {"vin": None, "stock": None}, {"vin": "", "stock": "  "}])
def test_a_vehicle_needs_a_vin_or_a_stock_number(api, operator, site, vehicle):
    response = post(api(operator), body(site, vehicle=vehicle))
    assert response.status_code == 400
    assert "vehicle" in error_of(response)["details"]
    assert not Vehicle.objects.exists()


@pytest.mark.parametrize("vehicle", [None, "1HGCM82633A004352", ["1HGCM82633A004352"]])
def test_vehicle_must_be_an_object(api, operator, site, vehicle):
    response = post(api(operator), body(site, vehicle=vehicle))
    assert response.status_code == 400
    assert "vehicle" in error_of(response)["details"]


# --- VIN and stock rules


def test_vin_is_stored_upper_case_without_surrounding_spaces(api, operator, site):
    response = post(api(operator), body(site, vehicle={"vin": "  1hgcm82633a004352 "}))
    assert response.status_code == 201, response.content
    vehicle = Vehicle.objects.get(pk=response.json()["vehicle_id"])
    assert vehicle.vin == VALID_VIN
    assert vehicle.vin_check_digit_ok is True


def test_vin_with_a_wrong_check_digit_is_accepted_and_flagged(api, operator, site):
    response = post(api(operator), body(site, vehicle={"vin": WRONG_CHECK_DIGIT_VIN}))
    assert response.status_code == 201
    assert Vehicle.objects.get().vin_check_digit_ok is False


@pytest.mark.parametrize(
    "vin",
    [
        "1HGCM82633A00435",  # 16 characters
        "1HGCM82633A0043521",  # 18
        "1HGCM82633I004352",  # I is not used in VINs
        "1HGCM82633O004352",  # nor O
        "1HGCM82633Q004352",  # nor Q
        "1HGCM82633A00435-",
        "1HGCM8263\uff13A004352",  # a full-width digit
        "1HGCM 2633A004352",
    ],
)
def test_malformed_vin_is_refused(api, operator, site, vin):
    response = post(api(operator), body(site, vehicle={"vin": vin, "stock": "STK-9"}))
    assert response.status_code == 400
    assert "vin" in error_of(response)["details"]["vehicle"]
    assert not Vehicle.objects.exists()


def test_stock_number_is_stored_without_surrounding_spaces(api, operator, site):
    response = post(api(operator), body(site, vehicle={"stock": "  STK-77\t"}))
    assert response.status_code == 201
    assert Vehicle.objects.get().stock == "STK-77"


def test_a_numeric_stock_number_is_taken_as_text(api, operator, site):
    response = post(api(operator), body(site, vehicle={"stock": 4711}))
    assert response.status_code == 201
    assert Vehicle.objects.get().stock == "4711"


@pytest.mark.parametrize(
    "stock",
    ["S" * 65, "STK\x07001", "STK\t001", "STK\n001", "STK\u202e100", "STK\u2028001", "STK\x00"],
)
def test_overlong_or_control_character_stock_number_is_refused(api, operator, site, stock):
    response = post(api(operator), body(site, vehicle={"stock": stock}))
    assert response.status_code == 400
    assert not Vehicle.objects.exists()


def test_a_64_character_stock_number_is_accepted(api, operator, site):
    assert post(api(operator), body(site, vehicle={"stock": "S" * 64})).status_code == 201


# --- Vehicle upsert


def test_a_known_vin_reuses_its_vehicle(api, operator, org, site):
    existing = VehicleFactory(org=org, vin=VALID_VIN, stock="STK-001")
    response = post(api(operator), body(site, vehicle={"vin": VALID_VIN.lower()}))
    assert response.json()["vehicle_id"] == str(existing.id)
    assert Vehicle.objects.count() == 1


def test_a_known_vin_without_stock_number_is_given_the_one_sent(api, operator, org, site):
    existing = VehicleFactory(org=org, vin=VALID_VIN, stock=None)
    response = post(api(operator), body(site, vehicle={"vin": VALID_VIN, "stock": "STK-NEW"}))
    assert response.json()["vehicle_id"] == str(existing.id)
    existing.refresh_from_db()
    assert existing.stock == "STK-NEW"


def test_a_known_vin_keeps_its_stock_number(api, operator, org, site):
    existing = VehicleFactory(org=org, vin=VALID_VIN, stock="STK-OLD")
    response = post(api(operator), body(site, vehicle={"vin": VALID_VIN, "stock": "STK-NEW"}))
    assert response.json()["vehicle_id"] == str(existing.id)
    existing.refresh_from_db()
    assert existing.stock == "STK-OLD"
    assert Vehicle.objects.count() == 1


def test_a_stock_number_held_by_another_vehicle_is_not_moved(api, operator, org, site):
    by_vin = VehicleFactory(org=org, vin=VALID_VIN, stock=None)
    holder = VehicleFactory(org=org, vin=None, stock="STK-HELD")
    response = post(api(operator), body(site, vehicle={"vin": VALID_VIN, "stock": "STK-HELD"}))

    assert response.status_code == 201
    assert response.json()["vehicle_id"] == str(by_vin.id)
    by_vin.refresh_from_db()
    holder.refresh_from_db()
    assert by_vin.stock is None
    assert holder.stock == "STK-HELD"


def test_a_known_stock_number_reuses_its_vehicle(api, operator, org, site):
    existing = VehicleFactory(org=org, vin=VALID_VIN, stock="STK-001")
    response = post(api(operator), body(site, vehicle={"stock": "STK-001"}))
    assert response.json()["vehicle_id"] == str(existing.id)
    assert Vehicle.objects.count() == 1


def test_a_known_stock_number_without_vin_is_given_the_one_sent(api, operator, org, site):
    existing = VehicleFactory(org=org, vin=None, stock="STK-001")
    response = post(
        api(operator), body(site, vehicle={"vin": WRONG_CHECK_DIGIT_VIN, "stock": "STK-001"})
    )
    assert response.json()["vehicle_id"] == str(existing.id)
    existing.refresh_from_db()
    assert existing.vin == WRONG_CHECK_DIGIT_VIN
    assert existing.vin_check_digit_ok is False


def test_a_stock_number_of_a_vehicle_with_another_vin_is_a_conflict(api, operator, org, site):
    holder = VehicleFactory(org=org, vin=VALID_VIN, stock="STK-001")
    response = post(
        api(operator), body(site, vehicle={"vin": WRONG_CHECK_DIGIT_VIN, "stock": "STK-001"})
    )

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "VEHICLE_CONFLICT"
    assert error["details"] == {
        "vin": WRONG_CHECK_DIGIT_VIN,
        "stock": "STK-001",
        "vehicle_id": str(holder.id),
    }
    assert Vehicle.objects.count() == 1
    assert not CaptureSession.objects.exists()


def test_vehicles_of_another_org_are_never_reused(api, operator, site, other_org):
    foreign = VehicleFactory(org=other_org, vin=VALID_VIN, stock="STK-001")
    response = post(api(operator), body(site))

    assert response.status_code == 201
    assert response.json()["vehicle_id"] != str(foreign.id)
    assert Vehicle.objects.filter(org=other_org).get() == foreign


def test_a_new_vehicle_stores_both_keys(api, operator, site):
    response = post(api(operator), body(site))
    vehicle = Vehicle.objects.get(pk=response.json()["vehicle_id"])
    assert (vehicle.vin, vehicle.stock, vehicle.org_id) == (VALID_VIN, "STK-001", site.org_id)


# --- Shot lists


def test_spin_with_stills_is_kept_as_sent(api, operator, site):
    shot_list = {
        "studio360": {"frame_count": 24},
        "stills": ["front_3q", "rear_3q", "interior", "dash"],
    }
    response = post(api(operator), body(site, shot_list=shot_list))
    assert response.status_code == 201, response.content
    assert response.json()["shot_list"] == shot_list
    assert CaptureSession.objects.get().shot_list == shot_list


def test_walk_around_spin_takes_its_own_frame_count(api, operator, site):
    shot_list = {"walk360": {"frame_count": 36}}
    response = post(api(operator), body(site, mode="walk360", shot_list=shot_list))
    assert response.status_code == 201
    assert CaptureSession.objects.get().frame_count == 36


@pytest.mark.parametrize("frame_count", [1, 360])
def test_frame_count_bounds_are_accepted(api, operator, site, frame_count):
    shot_list = {"studio360": {"frame_count": frame_count}}
    assert post(api(operator), body(site, shot_list=shot_list)).status_code == 201


@pytest.mark.parametrize("frame_count", [0, 361, -24, True, False, 24.5, 24.0, "24", None, [24]])
def test_frame_count_must_be_a_whole_number_from_1_to_360(api, operator, site, frame_count):
    response = post(
        api(operator), body(site, shot_list={"studio360": {"frame_count": frame_count}})
    )
    assert response.status_code == 400
    assert error_of(response)["details"]["shot_list"]["studio360"]["frame_count"]


@pytest.mark.parametrize("mode", ["studio360", "walk360"])
@pytest.mark.parametrize("shot_list", [{}, {"stills": ["front"]}])
def test_a_spin_requires_its_frame_count(api, operator, site, mode, shot_list):
    response = post(api(operator), body(site, mode=mode, shot_list=shot_list))
    assert response.status_code == 400
    assert mode in error_of(response)["details"]["shot_list"]


def test_a_spin_without_any_shot_list_is_refused(api, operator, site):
    data = body(site)
    del data["shot_list"]
    assert post(api(operator), data).status_code == 400


@pytest.mark.parametrize(
    "spec", [24, [24], {"frame_count": 24, "direction": "cw"}, {"frames": 24}, None]
)
def test_a_spin_spec_is_exactly_a_frame_count(api, operator, site, spec):
    response = post(api(operator), body(site, shot_list={"studio360": spec}))
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("mode", "shot_list"),
    [
        ("studio360", {"studio360": {"frame_count": 24}, "walk360": {"frame_count": 24}}),
        ("stills", {"studio360": {"frame_count": 24}}),
        ("stills", {"stills": [], "extra": 1}),
    ],
)
def test_keys_of_another_mode_are_refused(api, operator, site, mode, shot_list):
    response = post(api(operator), body(site, mode=mode, shot_list=shot_list))
    assert response.status_code == 400
    assert "shot_list" in error_of(response)["details"]


@pytest.mark.parametrize("shot_list", [[], "stills", 5, None])
def test_shot_list_must_be_an_object(api, operator, site, shot_list):
    response = post(api(operator), body(site, mode="stills", shot_list=shot_list))
    assert response.status_code == 400
    assert "shot_list" in error_of(response)["details"]


def test_stills_session_may_omit_the_shot_list(api, operator, site):
    data = body(site, mode="stills")
    del data["shot_list"]
    response = post(api(operator), data)
    assert response.status_code == 201
    assert response.json()["shot_list"] == {}


def test_stills_session_keeps_its_shot_names_in_order(api, operator, site):
    names = ["front_3q", "rear-3q", "dash", "wheel_1"]
    response = post(api(operator), body(site, mode="stills", shot_list={"stills": names}))
    assert response.status_code == 201
    assert response.json()["shot_list"] == {"stills": names}


def test_a_hundred_shot_names_are_accepted(api, operator, site):
    names = [f"shot_{n}" for n in range(100)]
    response = post(api(operator), body(site, mode="stills", shot_list={"stills": names}))
    assert response.status_code == 201


@pytest.mark.parametrize(
    "names",
    [
        [f"shot_{n}" for n in range(101)],
        ["front", "front"],
        [""],
        ["Front"],
        ["front 3q"],
        ["_front"],
        ["a" * 65],
        [None],
        [7],
        "front",
        {"front": 1},
    ],
)
def test_bad_shot_names_are_refused(api, operator, site, names):
    response = post(api(operator), body(site, mode="stills", shot_list={"stills": names}))
    assert response.status_code == 400
    assert "stills" in error_of(response)["details"]["shot_list"]
    assert not CaptureSession.objects.exists()


def test_a_64_character_shot_name_is_accepted(api, operator, site):
    shot_list = {"stills": ["a" * 64]}
    assert post(api(operator), body(site, mode="stills", shot_list=shot_list)).status_code == 201
