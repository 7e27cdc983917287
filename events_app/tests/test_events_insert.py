"""``events_insert`` stores every column exactly, whatever the text holds."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction

from events_app.models import Event
from events_app.services import events_insert

pytestmark = pytest.mark.django_db

AWKWARD_TEXT = 'tab\there\nnewline\\backslash "quotes" \\N ✈ 日本 \u2028 end'


def _row(org, **fields):
    return {
        "id": uuid.uuid4(),
        "org_id": org.id,
        "actor_type": Event.ActorType.DEVICE,
        "actor_id": uuid.uuid4(),
        "entity_type": Event.EntityType.IMAGE,
        "entity_id": uuid.uuid4(),
        "type": Event.Type.UPLOAD_STARTED,
        "message": "",
        "meta": {},
        "request_id": "",
        "created_at": dt.datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=dt.UTC),
        **fields,
    }


def test_every_column_reads_back_as_it_was_given(org):
    rows = [
        _row(org),
        _row(
            org,
            actor_type=Event.ActorType.SYSTEM,
            actor_id=None,
            message=AWKWARD_TEXT,
            meta={
                "text": AWKWARD_TEXT,
                "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
                "\\N": "\t",
            },
            request_id=str(uuid.uuid4()),
            created_at=dt.datetime(
                2025, 6, 1, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5))
            ),
        ),
    ]

    events_insert(rows)

    for row in rows:
        stored = Event.objects.get(pk=row["id"])
        assert {name: getattr(stored, name) for name in row} == row


def test_a_batch_is_all_or_nothing(org):
    rows = [_row(org) for _ in range(100)]
    rows[-1]["id"] = rows[0]["id"]  # the last row breaks the primary key

    with pytest.raises(IntegrityError), transaction.atomic():
        events_insert(rows)

    assert not Event.objects.filter(pk__in=[row["id"] for row in rows]).exists()
