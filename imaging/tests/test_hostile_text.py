"""Any validator's cost is linear in its input: a megabyte of hostile text in any request
field is refused in the error envelope, at about the cost of reading it.

The fields are found, not listed: through HTTP from the published OpenAPI document (every
string of every request body, and every query parameter), and directly from the serializers
it is generated from. A new field is covered as it is added; a new endpoint needs its valid
example below (the test says so).

Cost is process CPU time under a generous bound (a linear validator takes milliseconds for a
megabyte, a quadratic one hours), enforced by a CPU-time signal so a regression fails at the
bound instead of hanging.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from typing import Any

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from imaging.api.fields import TEXT, VISIBLE_TEXT, whole
from imaging.tests.hostile_text import (
    HTTP_SHAPES,
    MIB,
    SHAPES,
    CpuTimeExceeded,
    cpu_time_limit,
    hostile_text,
    request_fields,
    validation_errors,
)
from imaging.tests.test_envelope import assert_envelope
from sessions_app.api.serializers import (
    _STOCK_CORE,
    _VIN_CORE,
    STOCK_INPUT,
    VIN_INPUT,
    padded_match,
)
from sessions_app.tests.factories import CaptureSessionFactory

# CPU seconds one validation of a megabyte may take: tens of times what it does take.
VALIDATION_BOUND = 0.5
# CPU seconds one request carrying a megabyte may take (parsing, validation, the envelope).
REQUEST_BOUND = 2.0

SHAPE_IDS = [name for name, _, _ in SHAPES]
FIELDS = request_fields()


# --- the patterns say what they said, at linear cost


def _strings(alphabet: str, longest: int):
    for length in range(longest + 1):
        for chars in itertools.product(alphabet, repeat=length):
            yield "".join(chars)


# What VISIBLE_TEXT was: the same strings, quadratic to refuse.
QUADRATIC_VISIBLE_TEXT = (
    r"[^\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]*"
    r"[^\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\x20\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]"
    r"[^\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]*"
)


def test_visible_text_accepts_exactly_the_strings_it_accepted_before():
    alphabet = "a \t\x1f\x7f\x85\xa0\u3000\u202e\u2066é"
    old, new = re.compile(whole(QUADRATIC_VISIBLE_TEXT)), re.compile(whole(VISIBLE_TEXT))
    for text in _strings(alphabet, 4):
        assert bool(old.search(text)) is bool(new.search(text)), repr(text)


@pytest.mark.parametrize(
    ("core", "padded"), [(_VIN_CORE, VIN_INPUT), (_STOCK_CORE, STOCK_INPUT)], ids=["vin", "stock"]
)
def test_vin_and_stock_checks_accept_exactly_their_published_patterns(core, padded):
    published = re.compile(whole(padded))
    samples = ["1HGCM82633A004352", "1hgcm82633a00435", "STK 7", "S" * 64, "S" * 65, "a\tb"]
    for middle in samples:
        for text in _strings(" \t\n\x0b\xa0", 2):
            for value in (text + middle + text, middle + text, text):
                assert padded_match(core, value) is bool(published.search(value)), repr(value)


def test_the_bound_stops_a_runaway_pattern_and_counts_only_the_validating_thread():
    with pytest.raises(CpuTimeExceeded), cpu_time_limit(0.2):
        re.match(r"(a+)+$", "a" * 64 + "b")  # exponential backtracking: hours unbounded

    busy = threading.Event()

    def burn() -> None:  # another thread of the process, e.g. a live server's
        while not busy.is_set():
            sum(range(1000))

    other = threading.Thread(target=burn)
    other.start()
    try:
        with cpu_time_limit(0.2) as spent:
            time.sleep(0.5)
    finally:
        busy.set()
        other.join()
    assert spent.seconds < 0.2


@pytest.mark.parametrize("pattern", [VISIBLE_TEXT, TEXT], ids=["visible-text", "text"])
@pytest.mark.parametrize(("shape", "run", "end"), SHAPES, ids=SHAPE_IDS)
def test_the_text_patterns_refuse_a_megabyte_within_the_bound(pattern, shape, run, end):
    compiled = re.compile(whole(pattern))
    text = hostile_text(run, end, MIB)
    with cpu_time_limit(VALIDATION_BOUND):
        compiled.search(text)


# --- every field of every request serializer


def test_the_serializers_have_request_fields_to_check():
    names = {(field.operation, field.name) for field in FIELDS}
    assert ("POST /v1/auth/device", "model") in names
    assert ("POST /v1/presign", "file_name") in names
    assert ("POST /v1/sessions", "vehicle.vin") in names
    assert ("POST /v1/events", "events.0.message") in names
    assert ("GET /v1/sessions", "status") in names


@pytest.mark.parametrize("field", FIELDS, ids=[f"{f.operation} {f.name}" for f in FIELDS])
def test_every_request_field_validates_a_megabyte_of_hostile_text_within_the_bound(field):
    for _shape, run, end in SHAPES:
        text = hostile_text(run, end, MIB)
        with cpu_time_limit(VALIDATION_BOUND):
            validation_errors(field, text)


def test_an_overlong_model_is_refused_on_its_length_alone():
    field = next(f for f in FIELDS if f.name == "model")
    errors = validation_errors(field, "a" * 201 + "\x1f")
    assert errors["model"] == ["Ensure this field has no more than 200 characters."]


# --- through HTTP, every string the OpenAPI document describes

VIN = "1HGCM82633A004352"
SHA = hashlib.sha256(b"photo").hexdigest()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _string_paths(document, node, path=(), free_form=False):
    """Paths to every string of a request schema (through $ref, oneOf/anyOf/allOf, objects,
    arrays; free-form objects to one level)."""
    node = _resolve(document, node)
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in node.get(key, []):
            yield from _string_paths(document, branch, path, free_form)
    if node.get("type") == "string":
        yield path
    if free_form:
        return
    for name, child in node.get("properties", {}).items():
        yield from _string_paths(document, child, (*path, name), free_form)
    if isinstance(node.get("items"), dict):
        yield from _string_paths(document, node["items"], (*path, 0), free_form)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _string_paths(document, node["additionalProperties"], (*path, "key"), True)


def _placed(example: Any, path: tuple, value: str) -> Any | None:
    """``example`` with ``value`` at ``path``; None if the path's parent is not in it."""
    parent = example = json.loads(json.dumps(example))
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(path[-1], int) != isinstance(parent, list):
        return None
    if isinstance(parent, list) and len(parent) <= path[-1]:
        return None
    parent[path[-1]] = value
    return example


# Valid bodies of each operation, and who sends them; a string is placed in the first
# example that holds its parent.
def _examples(ids: dict[str, str]) -> dict[str, tuple[str | None, list[Any]]]:
    event = {"entity_type": "session", "entity_id": ids["session"], "type": "upload_started"}
    return {
        "POST /v1/auth/device": (
            None,
            [
                {
                    "org_id": ids["org"],
                    "platform": "ios",
                    "model": "iPhone 15 Pro",
                    "app_version": "1.0",
                    "enrollment_code": "code",
                }
            ],
        ),
        "POST /v1/auth/login": (None, [{"id_token": "x"}]),
        "POST /v1/events": ("device", [{**event, "meta": {}}, {"events": [{**event, "meta": {}}]}]),
        "POST /v1/presign": (
            "device",
            [
                {
                    "session_id": ids["session"],
                    "file_name": "IMG_0001.jpg",
                    "content_type": "image/jpeg",
                    "content_sha256": SHA,
                }
            ],
        ),
        "POST /v1/sessions": (
            "device",
            [
                {
                    "site_id": ids["site"],
                    "mode": "walk360",
                    "vehicle": {"vin": VIN, "stock": "STK-1"},
                    "shot_list": {"walk360": {"frame_count": 24}, "stills": ["dash"]},
                }
            ],
        ),
        "PATCH /v1/sessions/{id}": ("device", [{"status": "complete"}]),
        "GET /v1/images": ("admin", []),
        "GET /v1/sessions": ("admin", []),
        "GET /v1/feeds/vehicles.csv": ("admin", []),
        "GET /v1/vehicles/{id}/publication/versions": ("admin", []),
        "POST /v1/vehicles/{id}/publication/rollback": ("admin", [{"version": 1}]),
        "POST /v1/images/{id}/reject": ("admin", [{"reasons": ["blurred"], "note": "Rig shook"}]),
        "GET /v1/reshoots": ("device", []),
        "POST /v1/reshoots/{id}/dismiss": ("admin", [{"note": "Fine as it is"}]),
        "POST /v1/reshoots": (
            "admin",
            [
                {
                    "session_id": ids["session"],
                    "shot_name": "dash",
                    "note": "Dash again",
                    "reasons": ["other"],
                }
            ],
        ),
        "GET /v1/webhooks": ("admin", []),
        "POST /v1/webhooks": (
            "admin",
            [
                {
                    "url": "https://93.184.215.14/hooks",
                    "description": "DMS",
                    "event_types": ["image.processed"],
                }
            ],
        ),
        "PATCH /v1/webhooks/{id}": (
            "admin",
            [
                {
                    "url": "https://93.184.215.14/hooks",
                    "description": "DMS",
                    "event_types": ["image.processed"],
                }
            ],
        ),
        "GET /v1/webhooks/{id}/deliveries": ("admin", []),
    }


def _hostile_to_fit(example: Any, path: tuple, run: str, end: str) -> str:
    """Hostile text as long as fits in the body limit at ``path`` of ``example``."""
    room = settings.API_MAX_BODY_BYTES - len(json.dumps(_placed(example, path, "")).encode())
    encoded = len(json.dumps(run, ensure_ascii=False).encode()) - 2
    return hostile_text(run, end, (room - 16) // encoded * len(run))


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", path, operation


@pytest.fixture
def ids(org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    return {"org": str(org.id), "site": str(site.id), "session": str(session.id)}


def _cases(document, ids):
    examples = _examples(ids)
    for name, path, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        queries = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if not body and not queries:
            continue
        assert name in examples, f"{name}: add a valid example to _examples"
        persona, bodies = examples[name]
        url = path.replace("{id}", ids["session"])
        if body:
            for string_path in dict.fromkeys(_string_paths(document, body["schema"])):
                example = next((e for e in bodies if _placed(e, string_path, "") is not None), None)
                assert example is not None, f"{name} {string_path}: no example holds it"
                yield name, url, persona, example, string_path
        for parameter in queries:
            yield name, url, persona, None, (parameter["name"],)


def test_every_string_of_every_request_refuses_a_megabyte_of_hostile_text(
    api, document, ids, admin, device, settings
):
    settings.RATE_LIMITS_ENABLED = False
    personas = {None: None, "device": device, "admin": admin}
    checked = []
    for name, url, persona, example, path in _cases(document, ids):
        client = api(personas[persona])
        method = name.split()[0].lower()
        for _shape, run, end in HTTP_SHAPES:
            with cpu_time_limit(REQUEST_BOUND):
                if example is None:
                    text = hostile_text(run, end, MIB)
                    query = urllib.parse.urlencode({path[0]: text})
                    response = client.get(f"{url}?{query}")
                else:
                    text = _hostile_to_fit(example, path, run, end)
                    body = json.dumps(_placed(example, path, text), ensure_ascii=False)
                    assert len(body.encode()) <= settings.API_MAX_BODY_BYTES
                    response = getattr(client, method)(
                        url, body.encode(), content_type="application/json"
                    )
            assert response.status_code == 400, (name, path, _shape, response.content[:300])
            assert_envelope(response, 400, "VALIDATION_ERROR")
        checked.append((name, path))
    assert ("POST /v1/auth/device", ("model",)) in checked
    assert ("POST /v1/sessions", ("shot_list", "stills", 0)) in checked
    assert ("GET /v1/sessions", ("status",)) in checked
