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


def test_open_enrollment_org_accepts_new_devices(api, org):
    org.enrollment_policy = Organization.EnrollmentPolicy.OPEN
    org.save()
    response = api().post("/v1/auth/device", {**BODY, "org_id": str(org.id)}, format="json")
    assert response.status_code == 200
