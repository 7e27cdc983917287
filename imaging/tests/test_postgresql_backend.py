"""The health check of ``imaging.postgresql``: free on a healthy idle connection, and a
connection the server closed is still replaced before a request uses it."""

from __future__ import annotations

import copy
import time

import pytest
from django.db import connection

from imaging.postgresql.base import DatabaseWrapper

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":  # pragma: no cover - the suite runs on PostgreSQL
    pytest.skip("PostgreSQL backend", allow_module_level=True)


@pytest.fixture
def wrapper(monkeypatch):
    """A second connection as a web worker holds one between requests, counting the
    ``SELECT 1`` pings."""
    settings = copy.deepcopy(connection.settings_dict)
    settings["CONN_HEALTH_CHECKS"] = True
    settings["CONN_MAX_AGE"] = 60
    db = DatabaseWrapper(settings, alias="health-check")
    db.pings = 0
    is_usable = db.is_usable

    def counted():
        db.pings += 1
        return is_usable()

    monkeypatch.setattr(db, "is_usable", counted)
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
    db.close_if_unusable_or_obsolete()  # the end of a request
    yield db
    db.close()


def backend_pid(db) -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_idle_connection_is_used_without_a_ping(wrapper):
    pid = backend_pid(wrapper)
    wrapper.close_if_unusable_or_obsolete()

    wrapper.close_if_health_check_failed()  # the next request's first query

    assert wrapper.pings == 0
    assert backend_pid(wrapper) == pid


def test_a_connection_the_server_closed_is_replaced_before_use(wrapper):
    pid = backend_pid(wrapper)
    wrapper.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while wrapper._idle_socket_is_quiet():  # the server's goodbye arrives
        assert time.monotonic() < deadline
        time.sleep(0.01)

    wrapper.close_if_health_check_failed()

    assert wrapper.pings == 1
    assert backend_pid(wrapper) != pid  # a new connection, no error on the way


# Through Django's own way to the hook (a cursor at the start of a request), not by calling
# it: ``close_if_health_check_failed`` and ``health_check_done`` are Django internals, and
# if an upgrade renamed them these fail instead of the pings silently coming back.


def test_a_requests_first_query_on_a_healthy_connection_sends_no_ping(wrapper):
    pid = backend_pid(wrapper)
    wrapper.close_if_unusable_or_obsolete()  # the end of a request

    assert backend_pid(wrapper) == pid  # the next request's first query
    assert wrapper.pings == 0


def test_a_requests_first_query_after_the_server_closed_the_connection_gets_a_new_one(wrapper):
    pid = backend_pid(wrapper)
    wrapper.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while wrapper._idle_socket_is_quiet():
        assert time.monotonic() < deadline
        time.sleep(0.01)

    assert backend_pid(wrapper) != pid  # no error on the way
    assert wrapper.pings == 1
