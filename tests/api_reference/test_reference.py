"""What every operation of the published schema tells a client developer. A new endpoint
fails here until its ``extend_schema`` has ``**described(...)``, ``error_responses`` with a
reason for each status, and recorded examples (tests/api_reference/test_examples.py)."""

from __future__ import annotations

import json
import re

import pytest

from tests.api_reference.schema_tools import operations, published_schema

SCHEMA = published_schema()
OPERATIONS = operations(SCHEMA)


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_every_operation_says_who_may_call_it_what_it_changes_its_idempotency_and_limit(op):
    operation = OPERATIONS[op]
    assert operation.get("summary"), op
    description = operation.get("description", "")
    for section in ("**Who may call:**", "**Changes:**", "**Idempotency:**", "**Rate limit:**"):
        assert section in description, (op, section)
    assert operation["x-rate-limit-bucket"]


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_every_error_status_names_its_code_and_reason_in_the_description(op):
    operation = OPERATIONS[op]
    for status, response in operation["responses"].items():
        if status.startswith(("4", "5")) and status != "414":
            assert re.match(r"`[A-Z_]+`: \S", response["description"]), (op, status)
            assert f"- **{status}** {response['description']}" in operation["description"]


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_every_json_body_of_every_operation_has_a_recorded_example(op):
    operation = OPERATIONS[op]
    bodies = [("request", operation.get("requestBody", {}))]
    bodies += [(status, r) for status, r in operation["responses"].items()]
    for where, holder in bodies:
        content = holder.get("content", {}).get("application/json")
        if content is not None:
            assert content.get("examples"), (op, where)


def test_component_names_are_not_generator_artefacts():
    names = set(SCHEMA["components"]["schemas"])
    split_artefacts = re.compile(r"(RequestRequest|InRequest|InputRequest|Output)$")
    assert {name for name in names if split_artefacts.search(name)} == set()
    assert names.isdisjoint({"TypeEnum", "UseEnum", "StatusEnum", "ModeEnum", "KtyEnum", "AlgEnum"})


def test_operation_ids_are_unique_and_safe_for_generated_function_names():
    ids = [o["operationId"] for item in SCHEMA["paths"].values() for o in item.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids


def test_the_docs_page_shows_every_operation_with_all_its_examples():
    from scripts.mkdocs_api_reference import render

    page = render(SCHEMA)
    for op, operation in OPERATIONS.items():
        assert f"{{#{op}}}" in page
        contents = [operation.get("requestBody", {}).get("content", {})]
        contents += [r.get("content", {}) for r in operation["responses"].values()]
        for content in contents:
            for example in content.get("application/json", {}).get("examples", {}).values():
                assert json.dumps(example["value"], indent=2, ensure_ascii=False) in page
