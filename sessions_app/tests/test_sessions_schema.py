"""The OpenAPI document describes the sessions endpoints as they behave."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (path, method): operation
        for path, item in schema["paths"].items()
        if path.startswith("/v1/sessions")
        for method, operation in item.items()
    }


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/v1/sessions", "get", {"200", "400", "401", "403", "414", "429"}),
        (
            "/v1/sessions",
            "post",
            {"201", "400", "401", "403", "404", "409", "413", "414", "415", "429"},
        ),
        ("/v1/sessions/{id}", "get", {"200", "304", "401", "404", "414", "429"}),
        (
            "/v1/sessions/{id}",
            "patch",
            {"200", "400", "401", "404", "409", "413", "414", "415", "429"},
        ),
    ],
)
def test_every_response_an_endpoint_gives_is_documented(operations, path, method, statuses):
    assert set(operations[path, method]["responses"]) == statuses


def test_list_query_parameters_are_documented(operations):
    parameters = {p["name"]: p for p in operations["/v1/sessions", "get"]["parameters"]}
    assert set(parameters) == {"site_id", "status", "vehicle_id", "limit", "offset"}
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["offset"]["schema"]["minimum"] == 0


def test_finishing_documents_status_as_required(operations):
    body = operations["/v1/sessions/{id}", "patch"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/SessionFinishInput")
