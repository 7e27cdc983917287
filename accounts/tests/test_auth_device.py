import pytest

from accounts.models import Organization
from accounts.services import enrollment_code_create

pytestmark = pytest.mark.django_db

BODY = {"platform": "ios", "model": "iPhone 15 Pro", "app_version": "1.0.0"}


def test_new_device_enrolls_with_a_valid_code(api, org):
    _, code = enrollment_code_create(org=org, uses=1)
    response = api().post(
        "/v1/auth/device", {**BODY, "org_id": str(org.id), "enrollment_code": code}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"device_id", "access_token", "expires_in"}
    assert body["expires_in"] == 2592000


def test_knowing_the_org_id_is_not_enough(api, org):
    response = api().post("/v1/auth/device", {**BODY, "org_id": str(org.id)}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert response["X-Request-ID"] == response.json()["request_id"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_open_enrollment_org_accepts_new_devices(api, org):
    org.enrollment_policy = Organization.EnrollmentPolicy.OPEN
    org.save()
    response = api().post("/v1/auth/device", {**BODY, "org_id": str(org.id)}, format="json")
    assert response.status_code == 200


def enroll(api, org, code, **extra):
    body = {**BODY, "org_id": str(org.id), "enrollment_code": code, **extra}
    return api().post("/v1/auth/device", body, format="json")


def test_a_code_is_used_up_after_its_uses(api, org):
    _, code = enrollment_code_create(org=org, uses=1)
    assert enroll(api, org, code).status_code == 200
    response = enroll(api, org, code)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_an_expired_code_is_refused(api, org):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import EnrollmentCode

    code_row, code = enrollment_code_create(org=org, uses=5)
    EnrollmentCode.objects.filter(pk=code_row.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert enroll(api, org, code).status_code == 401


def test_a_code_of_another_org_is_refused(api, org, other_org):
    _, code = enrollment_code_create(org=other_org, uses=5)
    assert enroll(api, org, code).status_code == 401


def test_an_unknown_org_is_refused_like_a_bad_code(api, org):
    import uuid

    _, code = enrollment_code_create(org=org, uses=5)
    response = api().post(
        "/v1/auth/device",
        {**BODY, "org_id": str(uuid.uuid4()), "enrollment_code": code},
        format="json",
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"platform": "windows"},
        {"org_id": "not-a-uuid"},
        {"model": ""},
        {"model": "x" * 201},
        {"app_version": None},
    ],
)
def test_bad_fields_are_a_400(api, org, change):
    _, code = enrollment_code_create(org=org, uses=5)
    response = enroll(api, org, code, **change)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_plain_code_is_not_stored(org):
    from accounts.models import EnrollmentCode

    row, code = enrollment_code_create(org=org)
    stored = EnrollmentCode.objects.get(pk=row.pk)
    assert code not in {stored.code_hash, stored.label}
    assert len(stored.code_hash) == 64


def test_enrollment_records_an_event(api, org):
    from events_app.models import Event

    _, code = enrollment_code_create(org=org, uses=1)
    device_id = enroll(api, org, code).json()["device_id"]
    event = Event.objects.get(entity_id=device_id)
    assert event.type == "device_enrolled"
    assert event.org_id == org.id
