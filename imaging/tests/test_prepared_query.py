"""``imaging.db.PreparedQuery``: the ORM's answer, compiled once, never with a wrong value."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.models import F

from imaging.api.fields import datetime_text
from imaging.db import DateTimeText, PreparedQuery, UUIDText, id_list_text, in_id_list
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

FIELDS = ("id", "mode", "shot_list", "started_at", "vehicle__vin", "operator__name")


def sessions_of(shape, *, org_id, status=None):
    sessions = CaptureSession.objects.filter(org_id=org_id)
    if shape == "by-status":
        sessions = sessions.filter(status=status)
    return sessions.order_by("-started_at", "id").values(*FIELDS)


@pytest.fixture
def sessions(org, site, operator):
    start = dt.datetime(2025, 1, 15, 10, 0, tzinfo=dt.UTC)
    return [
        CaptureSessionFactory(
            org=org,
            site=site,
            operator=operator if n % 2 else None,
            shot_list={"frame_count": 24 + n},
            started_at=start + dt.timedelta(minutes=n),
            status="complete" if n < 2 else "active",
        )
        for n in range(5)
    ]


def test_rows_are_what_values_gives_for_each_call(
    sessions, org, other_org, django_assert_num_queries
):
    prepared = PreparedQuery(sessions_of)
    with django_assert_num_queries(1):
        rows = prepared.rows("all", org_id=org.id)

    assert rows == list(sessions_of("all", org_id=org.id))
    assert rows[0]["shot_list"] == {"frame_count": 28}  # JSON decoded, as values() does
    assert prepared.rows("all", org_id=other_org.id) == []  # new values, same SQL
    assert prepared.rows("by-status", org_id=org.id, status="complete") == list(
        sessions_of("by-status", org_id=org.id, status="complete")
    )


def test_limit_and_offset_slice_as_a_queryset_would(sessions, org):
    prepared = PreparedQuery(sessions_of)
    everything = list(sessions_of("all", org_id=org.id))

    assert prepared.rows("all", org_id=org.id, limit=2, offset=1) == everything[1:3]
    assert prepared.rows("all", org_id=org.id, offset=3) == everything[3:]
    assert prepared.first("all", org_id=org.id) == everything[0]


def test_a_parameter_the_shape_does_not_use_is_ignored(sessions, org):
    prepared = PreparedQuery(sessions_of)

    assert len(prepared.rows("all", org_id=org.id, status="complete")) == 5


def test_a_value_changed_on_its_way_into_the_sql_fails_to_compile(org):
    # "contains" wraps the value in %...%: the placeholder would not be found as itself.
    prepared = PreparedQuery(
        lambda shape, *, org_id, vin: CaptureSession.objects.filter(
            org_id=org_id, vehicle__vin__contains=vin
        ).values("id")
    )

    with pytest.raises(ValueError, match="vin is not passed through"):
        prepared.rows(None, org_id=org.id, vin="WBA")


def test_a_value_both_passed_through_and_changed_fails_to_compile(org):
    prepared = PreparedQuery(
        lambda shape, *, org_id, vin: (
            CaptureSession.objects.filter(org_id=org_id, vehicle__vin=vin)
            .exclude(vehicle__stock__contains=vin)
            .values("id")
        )
    )

    with pytest.raises(ValueError, match="vin is not passed through"):
        prepared.rows(None, org_id=org.id, vin="WBA")


@pytest.mark.parametrize("value", [None, True])
def test_a_value_that_changes_the_sql_belongs_in_the_shape(org, value):
    prepared = PreparedQuery(
        lambda shape, *, org_id, flag: CaptureSession.objects.filter(org_id=org_id).values("id")
    )

    with pytest.raises(TypeError, match="put it in the shape"):
        prepared.rows(None, org_id=org.id, flag=value)


def test_a_sliced_queryset_is_refused(org):
    prepared = PreparedQuery(
        lambda shape, *, org_id: (
            CaptureSession.objects.filter(org_id=org_id)
            .order_by(F("started_at").desc())
            .values("id")[:5]
        )
    )

    with pytest.raises(ValueError, match="slice with rows"):
        prepared.rows(None, org_id=org.id)


def test_a_list_of_ids_is_one_parameter_whatever_its_length(
    sessions, org, django_assert_num_queries
):
    prepared = PreparedQuery(
        lambda shape, *, org_id, ids: CaptureSession.objects.filter(
            org_id=org_id, pk__in=in_id_list(ids)
        ).values("id")
    )

    for chosen in ([], sessions[:1], sessions[1:4], [*sessions, CaptureSessionFactory()]):
        ids = id_list_text(s.id for s in chosen)
        with django_assert_num_queries(1):
            rows = prepared.rows(None, org_id=org.id, ids=ids)
        assert {row["id"] for row in rows} == {s.id for s in chosen if s.org_id == org.id}


# --- a builder that computes in Python would freeze its first value: refused at first use


def test_a_value_transformed_in_python_is_refused_at_first_use(org):
    prepared = PreparedQuery(
        lambda shape, *, org_id, vin: CaptureSession.objects.filter(
            org_id=org_id, vehicle__vin=vin.upper()
        ).values("id")
    )

    with pytest.raises(ValueError, match="derived in the builder"):
        prepared.rows(None, org_id=org.id, vin="wba")


def test_arithmetic_on_a_parameter_is_refused_at_first_use(org):
    prepared = PreparedQuery(
        lambda shape, *, org_id, n: CaptureSession.objects.filter(
            org_id=org_id, images__width=n + 1
        ).values("id")
    )

    with pytest.raises(ValueError, match="derived in the builder"):
        prepared.rows(None, org_id=org.id, n=3)


def test_the_clock_read_in_the_builder_is_refused_at_first_use(org):
    from django.utils import timezone

    prepared = PreparedQuery(
        lambda shape, *, org_id: CaptureSession.objects.filter(
            org_id=org_id, started_at__lt=timezone.now()
        ).values("id")
    )

    with pytest.raises(ValueError, match="derived in the builder"):
        prepared.rows(None, org_id=org.id)


def test_an_access_rule_reading_what_the_shape_does_not_fix_is_refused(org, operator):
    from accounts.access import actor_of_shape, visibility_shape
    from accounts.actors import Actor

    def build(shape, *, org_id, principal_id):
        actor = actor_of_shape(shape, org_id=org_id, principal_id=principal_id)
        # A rule that would read, say, the user's email: not part of the shape.
        return CaptureSession.objects.filter(operator__email=actor.user.email).values("id")

    prepared = PreparedQuery(build)
    caller = Actor(kind="user", org_id=org.id, user=operator)

    with pytest.raises(AttributeError, match="does not fix"):
        prepared.rows(visibility_shape(caller), org_id=org.id, principal_id=operator.id)


# --- ids and times written by the database as the API writes them -------------------------

TIMES = [
    dt.datetime(2026, 12, 6, 1, 2, 3, micro, tzinfo=zone)
    for micro in (0, 5, 123456)
    for zone in (dt.UTC, dt.timezone(dt.timedelta(hours=-5)))
]


def _as_text(rows):
    return [(row["id_text"], row["created_at_text"]) for row in rows]


def _expected(sessions):
    return [(str(session.id), datetime_text(session.started_at)) for session in sessions]


def _text_query():
    return CaptureSession.objects.order_by("started_at").values(
        id_text=UUIDText("id"), created_at_text=DateTimeText("started_at")
    )


def test_ids_and_times_read_as_text_are_what_the_api_writes(org, site):
    sessions = [CaptureSessionFactory(org=org, site=site, started_at=when) for when in TIMES]
    sessions.sort(key=lambda session: session.started_at)
    assert _as_text(_text_query()) == _expected(sessions)


def test_ids_and_times_read_as_text_are_the_same_on_sqlite(org, site):
    # SQLite is the development database (make run): its SQL for them is its own.
    sqlite = SQLiteWrapper(
        {
            **connection.settings_dict,
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {},
        },
        alias="sqlite-text-check",
    )
    try:
        sessions = [CaptureSessionFactory.build(org=org, site=site, started_at=w) for w in TIMES]
        with sqlite.cursor() as cursor:
            # The two columns the query reads, as Django's SQLite backend stores them.
            cursor.execute(
                "CREATE TABLE sessions_app_capturesession (id char(32), started_at datetime)"
            )
            for session in sessions:
                cursor.execute(
                    "INSERT INTO sessions_app_capturesession (id, started_at) VALUES (%s, %s)",
                    [
                        CaptureSession._meta.pk.get_db_prep_value(session.id, sqlite),
                        sqlite.ops.adapt_datetimefield_value(session.started_at),
                    ],
                )
            sql, params = _text_query().query.get_compiler(connection=sqlite).as_sql()
            cursor.execute(sql, params)
            rows = [
                dict(zip(("id_text", "created_at_text"), row, strict=True))
                for row in cursor.fetchall()
            ]
    finally:
        sqlite.close()
    sessions.sort(key=lambda session: session.started_at)
    assert _as_text(rows) == _expected(sessions)


def test_columns_as_text_refuses_what_is_not_a_column_of_the_model():
    from django.core.exceptions import FieldDoesNotExist

    from imaging.db import columns_as_text

    assert set(columns_as_text(CaptureSession, ["id", "started_at", "vehicle_id"])) == {
        "id",
        "started_at",
        "vehicle_id",
    }
    with pytest.raises(FieldDoesNotExist):
        columns_as_text(CaptureSession, ["vehicle__vin"])  # a join: not one row's column


def _reshoot_items_json():
    from images_app.models import ReshootItem
    from imaging.db import JSONArrayAgg, JSONRecord, columns_as_text

    record = JSONRecord(
        **columns_as_text(ReshootItem, ["id", "automatic", "reasons", "note", "created_at"])
    )
    return (
        ReshootItem.objects.order_by()
        .values("session_id")
        .annotate(items=JSONArrayAgg(record))
        .values("items")
    )


def test_a_json_array_of_records_reads_the_same_on_postgresql_and_sqlite(org, site, operator):
    import json

    from images_app.models import ReshootItem

    session = CaptureSessionFactory(org=org, site=site, operator=operator)
    items = [
        ReshootItem.objects.create(
            org=org, session=session, frame_index=n, reasons=["blurred"], note="é", automatic=n > 0
        )
        for n in range(2)
    ]
    expected = sorted(
        (
            {
                "id": str(item.id),
                "automatic": item.automatic,
                "reasons": ["blurred"],
                "note": "é",
                "created_at": datetime_text(item.created_at),
            }
            for item in items
        ),
        key=lambda item: item["id"],
    )

    def as_read(text):  # compared as JSON text: 0 == False in Python, not in JSON
        return json.dumps(sorted(json.loads(text), key=lambda item: item["id"]), sort_keys=True)

    expected = json.dumps(expected, sort_keys=True)
    assert as_read(_reshoot_items_json().get()["items"]) == expected

    sqlite = SQLiteWrapper(
        {
            **connection.settings_dict,
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "OPTIONS": {},
        },
        alias="sqlite-json-check",
    )
    connections["sqlite-json-check"] = sqlite  # SQLite's JSON support check looks it up
    try:
        with sqlite.cursor() as cursor:
            # The columns the query reads, as Django's SQLite backend stores them.
            cursor.execute(
                "CREATE TABLE images_app_reshootitem (id char(32), session_id char(32), "
                "automatic bool, reasons text, note text, created_at datetime)"
            )
            for item in items:
                cursor.execute(
                    "INSERT INTO images_app_reshootitem VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        item.id.hex,
                        session.id.hex,
                        item.automatic,
                        json.dumps(item.reasons),
                        item.note,
                        sqlite.ops.adapt_datetimefield_value(item.created_at),
                    ],
                )
            sql, params = _reshoot_items_json().query.get_compiler(connection=sqlite).as_sql()
            cursor.execute(sql, params)
            (on_sqlite,) = cursor.fetchone()
    finally:
        sqlite.close()
        del connections["sqlite-json-check"]
    assert as_read(on_sqlite) == expected
