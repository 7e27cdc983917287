"""What apps above sessions add to a session's detail.

Sessions know nothing of images, so an app above them that has something to say about a
session registers it here (in its ``AppConfig.ready``): ``images_app`` adds ``reshoots``,
the session's open reshoot items. Each extra is a field for the schema and a function
giving its value for a session id (the caller already sees the session).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers


@dataclass(frozen=True)
class DetailExtra:
    field: serializers.Field
    read: Callable[[uuid.UUID], Any]


DETAIL_EXTRAS: dict[str, DetailExtra] = {}


def session_detail_extra(
    name: str, *, field: serializers.Field, read: Callable[[uuid.UUID], Any]
) -> None:
    DETAIL_EXTRAS[name] = DetailExtra(field=field, read=read)


def detail_extras_data(session_id: uuid.UUID) -> dict[str, Any]:
    return {name: extra.read(session_id) for name, extra in DETAIL_EXTRAS.items()}
