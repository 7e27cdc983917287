"""The list and detail are written without DRF serializers: the same data, to the byte."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from accounts.actors import Actor
from sessions_app import selectors
from sessions_app.api.serializers import (
    SESSION_DETAIL,
    SESSION_LIST_ITEM,
    SessionDetailOutput,
    SessionListItemOutput,
    session_detail_data,
    session_list_item_data,
)
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory, images_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions(org, site, operator, device):
    by_device = CaptureSessionFactory(org=org, site=site, device=device)
    images_add(by_device, 3)
    finished = CaptureSessionFactory(
        org=org,
        site=site,
        operator=operator,
        mode=CaptureSession.Mode.STILLS,
        shot_list={"stills": ["front_3q", "rear_3q"]},
        status=CaptureSession.Status.COMPLETE,
        started_at=dt.datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=dt.UTC),
        completed_at=dt.datetime(2025, 1, 15, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    by_stock = CaptureSessionFactory(
        org=org, site=site, operator=operator, vehicle=VehicleFactory(org=org, vin=None)
    )
    return [by_device, finished, by_stock]


def _bytes(data) -> bytes:
    return json.dumps(data, sort_keys=False).encode()


def test_list_items_are_what_the_list_serializer_writes(admin, sessions):
    actor = Actor(kind="user", org_id=admin.org_id, user=admin)
    rows, total = selectors.session_list_page(
        actor=actor, columns=SESSION_LIST_ITEM.columns, limit=50, offset=0
    )

    assert len(rows) == 3 and total == 3
    for row in rows:
        session = CaptureSession.objects.get(pk=row["id"])
        session.image_count = session.images.count()
        written = session_list_item_data(row)
        assert _bytes(written) == _bytes(SessionListItemOutput(session).data)
        assert row["total_rows"] == 3


@pytest.mark.parametrize("who", ["admin", "device"])
def test_the_detail_is_what_the_detail_serializer_writes(request, who, sessions):
    principal = request.getfixturevalue(who)
    actor = Actor(
        kind="user" if who == "admin" else "device",
        org_id=principal.org_id,
        **{"user" if who == "admin" else "device": principal},
    )
    visible = [s for s in sessions if who == "admin" or s.device_id == principal.id]

    for session in visible:
        row = selectors.session_detail_row(
            actor=actor, session_id=session.id, columns=SESSION_DETAIL.columns
        )
        written = session_detail_data(row)
        loaded = selectors.session_get(actor=actor, session_id=session.id)
        assert _bytes(written) == _bytes(SessionDetailOutput(loaded).data)
