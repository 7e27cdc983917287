"""The published OpenAPI document and the server agree on what a valid request is.

For each body below, the document's request schema and the server give the same verdict:
valid bodies are accepted (or refused only for who or what they name: 401, 403, 404, 409),
invalid ones are a 400. `make fuzz` checks the same with generated data against a live
server; these cases pin the rules that needed a precise schema.
"""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema_rs
import pytest
from drf_spectacular.generators import SchemaGenerator

from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

ACCEPTED = {200, 201, 401, 403, 404, 409}
VIN = "1HGCM82633A004352"
SHA = "ab" * 32


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: ``nullable`` becomes a union with null."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _as_json_schema(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def schema_admits(document, path: str, method: str, body: Any) -> bool:
    operation = document["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    root = {**_as_json_schema(schema), "components": _as_json_schema(document["components"])}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True).is_valid(body)


def assert_agree(document, path, method, body, response, *, valid: bool) -> None:
    assert schema_admits(document, path, method, body) is valid
    if valid:
        assert response.status_code in ACCEPTED, response.content
    else:
        assert response.status_code == 400, response.content


# --- POST /v1/sessions

SPIN = {"mode": "studio360", "shot_list": {"studio360": {"frame_count": 24}}}


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({**SPIN, "vehicle": {"vin": VIN}}, True),
        ({**SPIN, "vehicle": {"vin": VIN}, "status": "complete", "id": "x"}, True),
        (
            {
                "mode": "walk360",
                "shot_list": {"walk360": {"frame_count": 360}, "stills": ["dash"]},
                "vehicle": {"stock": "STK-1"},
            },
            True,
        ),
        ({"mode": "stills", "vehicle": {"stock": "STK-1"}}, True),
        ({"mode": "stills", "shot_list": {}, "vehicle": {"stock": "STK-1"}}, True),
        ({**SPIN, "vehicle": {"vin": " 1hgcm82633a004352\n", "stock": None}}, True),
        ({**SPIN, "vehicle": {"vin": "", "stock": "STK-1"}}, True),
        ({**SPIN, "vehicle": {"vin": None, "stock": 4711}}, True),
        ({**SPIN, "vehicle": {"stock": " \tSTK 77 "}}, True),
        ({"mode": "studio360", "vehicle": {"vin": VIN}}, False),
        ({"mode": "studio360", "shot_list": {}, "vehicle": {"vin": VIN}}, False),
        (
            {
                "mode": "studio360",
                "shot_list": {"studio360": {"frame_count": 24}, "x-extra": {}},
                "vehicle": {"vin": VIN},
            },
            False,
        ),
        ({**SPIN, "shot_list": {"studio360": {"frame_count": 0}}, "vehicle": {"vin": VIN}}, False),
        (
            {**SPIN, "shot_list": {"studio360": {"frame_count": 361}}, "vehicle": {"vin": VIN}},
            False,
        ),
        (
            {**SPIN, "shot_list": {"studio360": {"frame_count": 24.5}}, "vehicle": {"vin": VIN}},
            False,
        ),
        (
            {**SPIN, "shot_list": {"studio360": {"frame_count": "24"}}, "vehicle": {"vin": VIN}},
            False,
        ),
        (
            {
                **SPIN,
                "shot_list": {"studio360": {"frame_count": 24, "cw": True}},
                "vehicle": {"vin": VIN},
            },
            False,
        ),
        (
            {
                "mode": "stills",
                "shot_list": {"stills": ["front", "front"]},
                "vehicle": {"vin": VIN},
            },
            False,
        ),
        ({"mode": "stills", "shot_list": {"stills": ["Front"]}, "vehicle": {"vin": VIN}}, False),
        ({"mode": "stills", "shot_list": {"stills": ["dash\n"]}, "vehicle": {"vin": VIN}}, False),
        ({"mode": "stills", "shot_list": {"studio360": {}}, "vehicle": {"vin": VIN}}, False),
        ({**SPIN, "vehicle": {}}, False),
        ({**SPIN, "vehicle": {"vin": "", "stock": " \t"}}, False),
        ({**SPIN, "vehicle": {"vin": None, "stock": None}}, False),
        ({**SPIN, "vehicle": {"stock": -1}}, False),
        ({**SPIN, "vehicle": {"stock": 4.5}}, False),
        ({**SPIN, "vehicle": {"stock": True}}, False),
        ({**SPIN, "vehicle": {"stock": "STK-\u00e9"}}, False),
        ({**SPIN, "vehicle": {"stock": "S" * 65}}, False),
        ({**SPIN, "vehicle": {"vin": "1HGCM82633I004352"}}, False),
        ({**SPIN, "vehicle": {"vin": VIN + "\u00a0"}}, False),
        ({**SPIN, "mode": "STUDIO360", "vehicle": {"vin": VIN}}, False),
    ],
)
def test_session_create_bodies(api, document, operator, site, body, valid):
    body = {"site_id": str(site.id), **body}
    response = api(operator).post("/v1/sessions", body, format="json")
    assert_agree(document, "/v1/sessions", "post", body, response, valid=valid)


@pytest.mark.parametrize(
    ("spelling", "valid"),
    [("{hex}", False), ("{{{dashed}}}", False), ("urn:uuid:{dashed}", False), ("{upper}", True)],
    ids=["no-dashes", "braces", "urn", "upper-case"],
)
def test_session_create_site_id_spellings(api, document, operator, site, spelling, valid):
    site_id = spelling.format(hex=site.id.hex, dashed=site.id, upper=str(site.id).upper())
    body = {**SPIN, "site_id": site_id, "vehicle": {"vin": VIN}}
    response = api(operator).post("/v1/sessions", body, format="json")
    assert_agree(document, "/v1/sessions", "post", body, response, valid=valid)


# --- PATCH /v1/sessions/{id}


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"status": "complete"}, True),
        ({"status": "abandoned", "completed_at": None}, True),
        ({"status": "complete", "completed_at": "2025-01-15t10:30:00.123456789z"}, True),
        ({"status": "complete", "completed_at": "2025-01-15T10:30:00+05:30"}, True),
        ({"status": "complete", "completed_at": "2016-12-31T23:59:60Z"}, True),
        ({"status": "complete", "completed_at": "0000-01-01T00:00:00Z"}, True),
        ({"status": "complete", "completed_at": "9999-12-31T23:59:59-23:59"}, True),
        ({"status": "complete", "completed_at": "2025-01-15T10:30:00"}, False),
        ({"status": "complete", "completed_at": "2025-01-15"}, False),
        ({"status": "complete", "completed_at": "2025-01-15 10:30:00Z"}, False),
        ({"status": "complete", "completed_at": "2025-02-30T10:30:00Z"}, False),
        ({"status": "complete", "completed_at": "2025-01-15T10:30:00+24:00"}, False),
        ({"status": "active"}, False),
    ],
)
def test_session_finish_bodies(api, document, operator, org, site, body, valid):
    session = CaptureSessionFactory(org=org, site=site, operator=operator)
    response = api(operator).patch(f"/v1/sessions/{session.id}", body, format="json")
    assert_agree(document, "/v1/sessions/{id}", "patch", body, response, valid=valid)


# --- POST /v1/presign


@pytest.mark.parametrize(
    ("placement", "valid"),
    [
        ({}, True),
        ({"angle_deg": 90, "frame_index": None}, True),
        ({"angle_deg": None, "frame_index": 3}, True),
        ({"shot_name": "dash"}, True),  # a spin takes no shots: 409, not a malformed body
        ({"frame_index": 99}, True),  # beyond this spin: 409
        ({"angle_deg": 90, "frame_index": 3}, False),
        ({"file_name": "   "}, False),
        ({"file_name": "a\tb.jpg"}, False),
        ({"file_name": "gpj.\u202eexe"}, False),
        ({"shot_name": "\u3000"}, False),
        ({"content_sha256": SHA.upper()}, True),
        ({"content_sha256": SHA + "\n"}, False),
        ({"content_length": 1024}, True),
        ({"content_length": None}, True),
        ({"content_length": 50 * 1024 * 1024}, True),
        ({"content_length": 50 * 1024 * 1024 + 1}, False),
        ({"content_length": 0}, False),
        ({"content_length": "1024"}, False),
        ({"content_length": 1024.5}, False),
    ],
)
def test_presign_bodies(api, document, device, org, site, placement, valid):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    body = {
        "session_id": str(session.id),
        "file_name": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "content_sha256": SHA,
        **placement,
    }
    response = api(device).post("/v1/presign", body, format="json")
    assert_agree(document, "/v1/presign", "post", body, response, valid=valid)


# --- POST /v1/events


def _meta_nested(levels: int) -> dict[str, Any]:
    meta: Any = 1
    for _ in range(levels):
        meta = {"k": meta}
    return meta


@pytest.mark.parametrize(
    ("shape", "valid"),
    [
        ("single", True),
        ("single-with-unknown-key", True),
        ("batch", True),
        ("batch-item-with-unknown-key", True),
        ("meta-4-levels", True),
        ("single-and-batch", False),
        ("batch-with-another-key", False),
        ("empty-batch", False),
        ("meta-5-levels", False),
        ("server-only-type", False),
        ("unknown-entity-type", False),
    ],
)
def test_event_bodies(api, document, device, org, site, shape, valid):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    one = {"entity_type": "session", "entity_id": str(session.id), "type": "upload_started"}
    body = {
        "single": one,
        "single-with-unknown-key": {**one, "app_build": "42"},
        "batch": {"events": [one, one]},
        "batch-item-with-unknown-key": {"events": [{**one, "app_build": "42"}]},
        "meta-4-levels": {**one, "meta": _meta_nested(4)},
        "single-and-batch": {**one, "events": [one]},
        "batch-with-another-key": {"events": [one], "device_id": str(device.id)},
        "empty-batch": {"events": []},
        "meta-5-levels": {**one, "meta": _meta_nested(5)},
        "server-only-type": {**one, "type": "processed"},
        "unknown-entity-type": {**one, "entity_type": "vehicle"},
    }[shape]
    response = api(device).post("/v1/events", body, format="json")
    assert_agree(document, "/v1/events", "post", body, response, valid=valid)


# --- POST /v1/auth/device


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),  # an org that needs an enrollment code: 401
        ({"enrollment_code": ""}, True),
        ({"model": "Car \U0001f697"}, True),
        ({"model": "   "}, False),
        ({"model": 15}, False),
        ({"app_version": "1.0\n"}, False),
        ({"platform": "IOS"}, False),
        ({"org_id": uuid.uuid4().hex}, False),
    ],
)
def test_device_enrollment_bodies(api, document, org, change, valid):
    body = {"org_id": str(org.id), "platform": "ios", "model": "iPhone", "app_version": "1.0"}
    body.update(change)
    response = api().post("/v1/auth/device", body, format="json")
    assert_agree(document, "/v1/auth/device", "post", body, response, valid=valid)


# --- Facts of every operation


def test_every_operation_documents_the_414_of_the_http_server(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            response = operation["responses"]["414"]
            assert set(response["content"]) == {"text/html"}, (method, path)


def test_every_request_body_is_required(document):
    bodies = [
        operation["requestBody"]
        for item in document["paths"].values()
        for operation in item.values()
        if "requestBody" in operation
    ]
    # … the publication rollback, a rejection, a reshoot request and its dismissal, a webhook
    # endpoint made and changed
    assert len(bodies) == 12
    assert all(body["required"] for body in bodies)


def test_optional_query_parameters_may_be_sent_empty(document):
    parameters = [
        parameter
        for item in document["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]
    assert {p["name"] for p in parameters if p.get("allowEmptyValue")} == {
        "limit",
        "offset",
        "session_id",
        "site_id",
        "status",
        "vehicle_id",
    }
    assert not any(p.get("allowEmptyValue") for p in parameters if p.get("required"))
