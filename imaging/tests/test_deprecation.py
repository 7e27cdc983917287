"""A deprecated operation says so in every response and in the schema
(docs/api-versioning.md)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.urls("imaging.tests.urls_deprecated")


def test_every_response_of_a_deprecated_operation_carries_deprecation_and_sunset(api, db):
    response = api().get("/v1/old-thing")

    assert response.status_code == 200
    assert response["Deprecation"] == "@1767225600"
    assert response["Sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"


def test_the_schema_marks_a_deprecated_operation_with_its_sunset_and_headers():
    schema = SchemaGenerator(urlconf="imaging.tests.urls_deprecated").get_schema(public=True)
    operation = schema["paths"]["/v1/old-thing"]["get"]

    assert operation["deprecated"] is True
    assert "stops working on 2026-07-01" in operation["description"]
    assert "`GET /v1/new-thing`" in operation["description"]
    for status in ("200", "429"):
        assert set(operation["responses"][status]["headers"]) == {"Deprecation", "Sunset"}


def test_no_operation_of_the_api_is_deprecated_today():
    schema = SchemaGenerator(urlconf="imaging.urls").get_schema(public=True)
    deprecated = [
        op["operationId"]
        for item in schema["paths"].values()
        for op in item.values()
        if op.get("deprecated")
    ]
    assert deprecated == []
