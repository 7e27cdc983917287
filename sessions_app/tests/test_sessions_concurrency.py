"""Races on real PostgreSQL: two requests for one new vehicle, two finishes of one session.

Each test holds a transaction open on the test's connection, lets a request on another
thread run into it, waits until PostgreSQL reports that request as blocked by ours, and
only then commits, so the interleaving is the same on every run.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from events_app.models import Event
from sessions_app.models import CaptureSession, Vehicle
from sessions_app.services import session_finish
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIN = "1HGCM82633A004352"
JOIN_TIMEOUT_SECONDS = 60


class RequestThread(threading.Thread):
    """Runs one request on its own database connection; its backend pid is known first."""

    def __init__(self, send):
        super().__init__(daemon=True)
        self.send = send
        self.connected = threading.Event()
        self.pid: int | None = None
        self.response = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.connected.set()
            self.response = self.send()
        except BaseException as exc:
            self.error = exc
        finally:
            self.connected.set()
            connection.close()

    def finish(self):
        self.join(JOIN_TIMEOUT_SECONDS)
        assert not self.is_alive(), "the request never returned"
        if self.error is not None:
            raise self.error
        return self.response


def wait_until_blocked_by_us(thread: RequestThread) -> None:
    """Poll until the thread's backend waits on a lock our connection holds."""
    thread.connected.wait(JOIN_TIMEOUT_SECONDS)
    assert thread.pid is not None, thread.error
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        our_pid = cursor.fetchone()[0]
        for _ in range(2000):
            cursor.execute("SELECT %s = ANY(pg_blocking_pids(%s))", [our_pid, thread.pid])
            if cursor.fetchone()[0]:
                return
            assert thread.is_alive(), "the request finished without waiting for us"
            time.sleep(0.01)
    raise AssertionError("the request never waited for our transaction")


def test_a_request_racing_to_create_the_same_vehicle_uses_the_winners_row(api, operator, org, site):
    client = api(operator)
    body = {
        "site_id": str(site.id),
        "vehicle": {"vin": VIN, "stock": "STK-001"},
        "mode": "stills",
    }
    racer = RequestThread(lambda: client.post("/v1/sessions", body, format="json"))

    with transaction.atomic():
        winner = Vehicle.objects.create(org=org, vin=VIN, stock="STK-WIN")
        racer.start()
        # The racer saw no vehicle, inserted its own and now waits on the unique index.
        wait_until_blocked_by_us(racer)

    response = racer.finish()
    assert response.status_code == 201, response.content
    assert response.json()["vehicle_id"] == str(winner.id)
    assert Vehicle.objects.count() == 1
    assert CaptureSession.objects.get().vehicle_id == winner.id


def test_parallel_creates_for_one_new_vin_all_succeed_with_one_vehicle(api, operator, site):
    client = api(operator)
    start = threading.Barrier(4)
    body = {"site_id": str(site.id), "vehicle": {"vin": VIN}, "mode": "stills"}

    def send():
        start.wait(JOIN_TIMEOUT_SECONDS)
        return client.post("/v1/sessions", body, format="json")

    threads = [RequestThread(send) for _ in range(4)]
    for thread in threads:
        thread.start()
    responses = [thread.finish() for thread in threads]

    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["vehicle_id"] for r in responses}) == 1
    assert Vehicle.objects.count() == 1
    assert CaptureSession.objects.count() == 4


def test_of_two_concurrent_finishes_exactly_one_wins(api, operator, org, site):
    session = CaptureSessionFactory(org=org, site=site, operator=operator)
    client = api(operator)
    racer = RequestThread(
        lambda: client.patch(f"/v1/sessions/{session.id}", {"status": "abandoned"}, format="json")
    )

    with transaction.atomic():
        session_finish(session=session, status="complete", completed_at=None, actor=None)
        racer.start()
        # The racer read the session as active and now waits for the row lock.
        wait_until_blocked_by_us(racer)

    response = racer.finish()
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "INVALID_TRANSITION"
    session.refresh_from_db()
    assert session.status == "complete"
    assert Event.objects.filter(type=Event.Type.SESSION_FINISHED).count() == 1
