"""mkdocs hook: renders the published OpenAPI schema into the API reference page at build
time, so the page shows every operation as the server describes it, with its recorded
examples (imaging/api/examples.json). The page carries the marker below where they go."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

MARKER = "<!-- api-operations -->"


def _schema() -> dict[str, Any]:
    # A documentation build is a development task: the development settings (no secrets).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")
    os.environ.setdefault("DEBUG", "true")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _ref_name(schema: dict[str, Any] | None) -> str:
    ref = (schema or {}).get("$ref", "")
    return f" (`{ref.rsplit('/', 1)[-1]}`)" if ref else ""


def _examples(content: dict[str, Any], lines: list[str]) -> None:
    for example in content.get("examples", {}).values():
        lines += [
            f"*{example['summary']}*",
            "",
            "```json",
            json.dumps(example["value"], indent=2, ensure_ascii=False),
            "```",
            "",
        ]


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    lines = [
        f"### {op['summary']} {{#{op['operationId']}}}",
        "",
        f"`{method.upper()} {path}` · operation id `{op['operationId']}`",
        "",
        op["description"],
        "",
    ]
    parameters = op.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
        for p in parameters:
            text = (p.get("description") or "").replace("\n", " ").replace("|", "\\|")
            required = "yes" if p.get("required") else "no"
            lines.append(f"| `{p['name']}` | {p['in']} | {required} | {text} |")
        lines.append("")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        lines += [f"**Request body**{_ref_name(body.get('schema'))}", ""]
        _examples(body, lines)
    for status, response in op["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content is None:
            continue
        lines += [f"**Response {status}**{_ref_name(content.get('schema'))}", ""]
        _examples(content, lines)
    return lines


def render(schema: dict[str, Any]) -> str:
    lines: list[str] = []
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((path, method, op))
    for tag, ops in by_tag.items():
        lines += [f"## {tag.replace('_', ' ').capitalize()}", ""]
        for path, method, op in ops:
            lines += _operation(path, method, op)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(_schema()))
