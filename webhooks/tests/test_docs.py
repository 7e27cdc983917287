"""docs/webhooks.md states what the code does: every example payload validates against the
schema, every type has one, the schedule is the service's, and the Python receiver snippet
verifies a real delivery."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings as django_settings

from webhooks import events, services

BASE_DIR = Path(django_settings.BASE_DIR)
PAGE = (BASE_DIR / "docs" / "webhooks.md").read_text()
SCHEMA = json.loads((BASE_DIR / "webhooks" / "payloads.schema.json").read_text())


def examples() -> dict[str, dict]:
    found = {}
    for kind, block in re.findall(r"^### `([\w.]+)`\n.*?```json\n(.*?)```", PAGE, re.M | re.S):
        found[kind] = json.loads(block)
    return found


def test_every_type_has_an_example_that_validates_against_the_schema():
    found = examples()
    assert set(found) == {*events.EVENT_TYPES, events.PING}
    assert set(SCHEMA["$defs"]) == set(found)
    for kind, payload in found.items():
        assert payload["type"] == kind
        jsonschema.Draft202012Validator(SCHEMA).validate(payload)


def test_the_schema_refuses_a_payload_of_another_shape():
    payload = examples()["vehicle.published"]
    payload["data"]["version"] = "3"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(payload)


def test_the_retry_schedule_the_docs_give_is_the_services():
    def spoken(seconds: int) -> str:
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min"
        return f"{seconds // 3600} h"

    words = [spoken(s) for s in services.RETRY_DELAYS]
    assert f"{', '.join(words[:-1])} and {words[-1]}" in PAGE


@pytest.mark.django_db
def test_the_python_snippet_verifies_a_real_delivery(
    org, insecure, receiver, django_capture_on_commit_callbacks
):
    [snippet] = re.findall(r"^Python .*?```python\n(.*?)```", PAGE, re.M | re.S)
    namespace: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)
    receive = namespace["receive"]

    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=endpoint)
    [received] = receiver.wait_for(1)
    seen: set[str] = set()
    assert receive(endpoint.secret, received.body, received.headers, seen) == 204
    assert seen == {received.webhook_id}
    assert receive(endpoint.secret, received.body, received.headers, seen) == 204  # again
    assert receive(endpoint.secret, received.body + b" ", received.headers, seen) == 400
    other = services.endpoint_create(org_id=org.id, url=receiver.url())
    assert receive(other.secret, received.body, received.headers, set()) == 400
