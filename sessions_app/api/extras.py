"""What apps above sessions add to a session's detail.

Sessions know nothing of images, so an app above them that has something to say about a
session registers it here (in its ``AppConfig.ready``): ``images_app`` adds ``reshoots``
(the session's open reshoot items) and ``frames``. Each extra is a field for the schema, an
expression the detail's own statement selects (over the session's row: ``OuterRef("pk")``
is the session), and a function writing the value it reads: the detail is one query after
the caller's principal, however many extras there are.

An app whose extra can change bumps the session's ``detail_version``
(``sessions_app.services.session_detail_changed``) in the transaction that changes it: the
detail's ETag is made of the session's row as the detail reads it (its vehicle, operator
and device joined in), that version and the number of its images, so a conditional GET
reads the session's row only, without the extras. A new image (a presign) changes the
count: presigning, the busiest write, neither locks nor updates the session's row.

The same ETag names the rendered detail in each process's cache (``detail_body_*``):
devices poll the detail, and an unchanged one is answered from the session's row alone,
whether or not the caller sent ``If-None-Match``. Entries live at most a minute
(``PROCESS_CACHE_SECONDS``) and a process keeps at most ``PROCESS_CACHE_ENTRIES``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from django.core.cache import caches
from django.db.models import Expression
from rest_framework import serializers

from sessions_app.models import CaptureSession

# Read with the detail's row: with the row's other columns they make the ETag.
ETAG_COLUMNS = ("detail_version", "image_count")


@dataclass(frozen=True)
class DetailExtra:
    field: serializers.Field
    value: Callable[[], Expression]
    write: Callable[[Any], Any]


DETAIL_EXTRAS: dict[str, DetailExtra] = {}


def session_detail_extra(
    name: str,
    *,
    field: serializers.Field,
    value: Callable[[], Expression],
    write: Callable[[Any], Any],
) -> None:
    DETAIL_EXTRAS[name] = DetailExtra(field=field, value=value, write=write)


def detail_extras_shape() -> tuple[tuple[str, Callable[[], Expression]], ...]:
    """The extras' names and expressions, for ``selectors.session_detail_row``."""
    return tuple((name, extra.value) for name, extra in DETAIL_EXTRAS.items())


def detail_extras_data(row: dict[str, Any]) -> dict[str, Any]:
    """Each extra written from what the detail's row read for it (taken out of the row)."""
    return {name: extra.write(row.pop(name)) for name, extra in DETAIL_EXTRAS.items()}


def detail_extras_of(session_id: uuid.UUID) -> dict[str, Any]:
    """The extras of one session read on their own (an export; the caller sees it)."""
    if not DETAIL_EXTRAS:
        return {}
    values = {name: extra.value() for name, extra in DETAIL_EXTRAS.items()}
    return detail_extras_data(CaptureSession.objects.filter(pk=session_id).values(**values).get())


def detail_etag(row: dict[str, Any]) -> str:
    """The detail's strong ETag: a digest of the session's row as read (its
    ``detail_version`` included) and the names of the registered extras, so a response of
    another shape never matches."""
    material = orjson.dumps((sorted(DETAIL_EXTRAS), sorted(row.items())), default=str)
    return '"' + hashlib.blake2b(material, digest_size=12).hexdigest() + '"'


def _body_key(etag: str) -> str:
    return f"session-detail:{etag}"


def detail_body_cached(etag: str) -> bytes | None:
    """The detail rendered under ``etag`` by this process, if it still has it."""
    return caches["process"].get(_body_key(etag))


def detail_body_keep(etag: str, body: bytes) -> None:
    """Keep the detail rendered under ``etag`` (bytes: shared, so it cannot be changed)."""
    caches["process"].set(_body_key(etag), body)


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` against ``etag`` (weak comparison, as RFC 9110 asks for it)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))
