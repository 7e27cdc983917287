"""The published schema as tests read it: operations by id, and OpenAPI 3.0 schemas as JSON
Schema (``nullable`` spelled as a ``null`` type) to validate bodies with."""

from __future__ import annotations

from typing import Any

import jsonschema
from drf_spectacular.generators import SchemaGenerator


def published_schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """operationId → the operation, with ``_path`` and ``_method`` added."""
    found = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            found[operation["operationId"]] = {**operation, "_path": path, "_method": method}
    return found


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _json_schema(sub) for name, sub in value.items()}
        elif key not in ("nullable", "example", "examples", "readOnly", "writeOnly"):
            out[key] = _json_schema(value)
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class BodyValidator:
    """Validates a JSON body against a schema node of the published schema."""

    def __init__(self, schema: dict[str, Any]):
        self.components = _json_schema(schema.get("components", {}))

    def errors(self, node: dict[str, Any], body: Any) -> list[str]:
        root = {**_json_schema(node), "components": self.components}
        validator = jsonschema.Draft202012Validator(root)
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def body_schema(operation: dict[str, Any], status: str | None) -> dict[str, Any] | None:
    """The JSON schema of the request body (``status`` None) or of a response."""
    holder = operation.get("requestBody") if status is None else operation["responses"][status]
    return (holder or {}).get("content", {}).get("application/json", {}).get("schema")
