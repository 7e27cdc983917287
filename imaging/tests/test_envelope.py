"""Every error, wherever it comes from, leaves in the contract's envelope with a request id."""

import json
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.models import Device, Organization

pytestmark = pytest.mark.django_db

DEVICE_BODY = {"org_id": str(uuid.uuid4()), "platform": "ios", "model": "X", "app_version": "1"}


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["request_id"] == response["X-Request-ID"]
    uuid.UUID(body["request_id"])
    return body


def test_unknown_route_is_a_404_envelope(api):
    assert_envelope(api().get("/v1/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_a_405_envelope(api):
    assert_envelope(api().delete("/v1/auth/device"), 405, "METHOD_NOT_ALLOWED")


def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(api):
    rid = str(uuid.uuid4())
    response = api().get("/v1/nothing", HTTP_X_REQUEST_ID=rid)
    assert response["X-Request-ID"] == rid
    assert response.json()["request_id"] == rid
    response = api().get("/v1/nothing", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>"
    uuid.UUID(response["X-Request-ID"])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "org_id=x&platform=ios"),
        (
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--",
        ),
        ("text/plain", "{}"),
    ],
)
def test_bodies_other_than_json_are_415(api, content_type, body):
    response = api().post("/v1/auth/device", body, content_type=content_type)
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"org_id": ',
        b'{"model": "a", "model": "b"}',
        b'{"model": "a\\u0000b"}',
        b'{"a\\u0000": 1}',
        b'{"model": NaN}',
        b'{"model": 1e400}',
        b'{"model": "a\\ud800b"}',
        b'{"\\udfff": 1}',
        b'{"model": ["\\ude97\\ud83d"]}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 100 + b"1" + b"}" * 100,
        b"\xff\xfe",
    ],
    ids=[
        "truncated",
        "duplicate-keys",
        "nul-in-string",
        "nul-in-key",
        "nan",
        "number-beyond-a-double",
        "lone-high-surrogate",
        "lone-low-surrogate-in-key",
        "surrogates-in-the-wrong-order",
        "deep-array",
        "deep-object",
        "not-utf8",
    ],
)
def test_malformed_json_is_a_400_envelope(api, raw):
    response = api().post("/v1/auth/device", raw, content_type="application/json")
    assert_envelope(response, 400, "MALFORMED_REQUEST")


def test_an_escaped_surrogate_pair_is_one_character_and_accepted(api, org):
    org.enrollment_policy = Organization.EnrollmentPolicy.OPEN
    org.save()
    # json.dumps spells U+1F697 (an oncoming automobile) as the pair "\ud83d\ude97".
    raw = json.dumps({**DEVICE_BODY, "org_id": str(org.id), "model": "Car \U0001f697"})
    assert "\\ud83d\\ude97" in raw

    response = api().post("/v1/auth/device", raw, content_type="application/json")

    assert response.status_code == 200, response.content
    assert Device.objects.get().model == "Car \U0001f697"


def test_a_post_to_an_unknown_api_path_is_a_404_envelope_not_a_csrf_failure():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/v1/sessions/not-a-uuid", {}, format="json")
    assert_envelope(response, 404, "NOT_FOUND")


def test_oversized_body_is_a_413_envelope(api, settings):
    body = json.dumps({**DEVICE_BODY, "model": "x" * (settings.API_MAX_BODY_BYTES + 10)})
    response = api().post("/v1/auth/device", body, content_type="application/json")
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_validation_errors_name_the_fields(api):
    response = api().post("/v1/auth/device", {"platform": "windows"}, format="json")
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert {"org_id", "platform", "model", "app_version"} <= set(body["error"]["details"])


@pytest.mark.urls("imaging.tests.urls_crash")
def test_unhandled_errors_are_a_500_envelope_without_internals(api):
    client = api()
    client.raise_request_exception = False
    response = client.get("/v1/crash")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in body["error"]["message"]


def test_openapi_schema_and_docs_are_served(api):
    response = api().get("/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/v1/auth/device" in schema["paths"]
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    assert api().get("/v1/docs").status_code == 200


def test_a_chunked_body_a_server_passes_on_undecoded_is_a_411_envelope(api):
    # Django's test server, like runserver, hands over the raw stream (no
    # wsgi.input_terminated); gunicorn de-chunks (tests/test_http_edges.py).
    response = api().post(
        "/v1/auth/device", DEVICE_BODY, format="json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert_envelope(response, 411, "LENGTH_REQUIRED")
