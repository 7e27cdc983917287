"""Rate limits stay exact under parallel load on Redis, bucket by bucket.

A live server (a thread per request, each with its own database connection) takes bursts
of requests released together; the counters are in this test process's own Redis. The
per-IP ``/auth/device`` bucket is proven in imaging/tests/test_rate_limits.py; here are the
per-device, per-actor and per-token buckets, rotating ``X-Forwarded-For`` under load, and
Redis going away and coming back.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from accounts.tokens import device_token_issue, user_token_issue
from events_app.models import Event
from images_app.models import Image
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import burst, http, limits, within_one_rate_window

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_counters"),
]

PARALLEL = 20


@pytest.fixture
def stills(org, site, device):
    return CaptureSessionFactory(
        org=org, site=site, device=device, mode=CaptureSession.Mode.STILLS, shot_list={}
    )


def presign_body(session, n: int) -> dict:
    return {
        "session_id": str(session.id),
        "file_name": f"IMG_{n:04d}.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(f"photo {n}".encode()).hexdigest(),
    }


def test_presign_lets_exactly_the_limit_through_per_device_across_its_tokens(
    live_server, settings, device, stills
):
    limits(settings, presign=6)
    # The device re-enrolled: two valid tokens, one budget.
    tokens = [str(device_token_issue(device=device)) for _ in range(2)]
    url = f"{live_server.url}/v1/presign"
    within_one_rate_window()

    statuses = burst(
        PARALLEL,
        lambda i: http("POST", url, token=tokens[i % 2], body=presign_body(stills, i))[0],
    )

    assert sorted(statuses) == [200] * 6 + [429] * (PARALLEL - 6)
    assert Image.objects.filter(session=stills).count() == 6


def test_events_let_exactly_the_limit_through_per_actor_counting_each_event(
    live_server, settings, device, stills
):
    limits(settings, events=10)
    token = str(device_token_issue(device=device))
    event = {"entity_type": "session", "entity_id": str(stills.id), "type": "upload_started"}
    batch = {"events": [event] * 3}
    within_one_rate_window()

    results = burst(
        8, lambda i: http("POST", f"{live_server.url}/v1/events", token=token, body=batch)
    )

    # 3 + 3 + 3 fit in 10; a fourth batch of 3 would make 12.
    assert sorted(status for status, _ in results) == [201] * 3 + [429] * 5
    assert [body for status, body in results if status == 201] == [{"accepted": 3}] * 3
    assert Event.objects.filter(entity_id=stills.id).count() == 9


def test_parallel_batches_refused_for_the_limit_leave_the_rest_of_the_minute(
    live_server, settings, device, stills
):
    limits(settings, events=10)
    token = str(device_token_issue(device=device))
    event = {"entity_type": "session", "entity_id": str(stills.id), "type": "upload_started"}
    url = f"{live_server.url}/v1/events"
    within_one_rate_window()

    results = burst(8, lambda i: http("POST", url, token=token, body={"events": [event] * 3})[0])
    # 9 accepted; the five refused batches took nothing, so the tenth event still fits.
    last = http("POST", url, token=token, body=event)[0]
    over = http("POST", url, token=token, body=event)[0]

    assert sorted(results) == [201] * 3 + [429] * 5
    assert (last, over) == (201, 429)
    assert Event.objects.filter(entity_id=stills.id).count() == 10


def test_every_spelling_of_the_scheme_draws_on_one_budget_in_parallel(live_server, settings, admin):
    limits(settings, default=7)
    token = str(user_token_issue(user=admin))
    schemes = ["Bearer", "bearer", "BEARER", "bEaReR"]
    within_one_rate_window()

    statuses = burst(
        PARALLEL,
        lambda i: http(
            "GET",
            f"{live_server.url}/v1/sessions",
            Authorization=f"{schemes[i % 4]} {token}",
        )[0],
    )

    assert sorted(statuses) == [200] * 7 + [429] * (PARALLEL - 7)


def test_other_requests_let_exactly_the_limit_through_per_token(live_server, settings, admin):
    limits(settings, default=7)
    token = str(user_token_issue(user=admin))
    within_one_rate_window()

    statuses = burst(
        PARALLEL, lambda i: http("GET", f"{live_server.url}/v1/sessions", token=token)[0]
    )

    assert sorted(statuses) == [200] * 7 + [429] * (PARALLEL - 7)


def test_rotating_x_forwarded_for_in_parallel_does_not_multiply_the_budget(live_server, settings):
    limits(settings, auth_device=4)
    body = {"org_id": str(uuid.uuid4()), "platform": "ios", "model": "X", "app_version": "1"}
    url = f"{live_server.url}/v1/auth/device"
    within_one_rate_window()

    statuses = burst(
        PARALLEL,
        lambda i: http("POST", url, body=body, **{"X-Forwarded-For": f"198.51.100.{i}"})[0],
    )

    assert sorted(statuses) == [401] * 4 + [429] * (PARALLEL - 4)


def test_with_redis_down_a_burst_is_served_and_limits_return_with_redis(
    live_server, settings, device, stills, local_redis
):
    limits(settings, presign=3)
    token = str(device_token_issue(device=device))
    url = f"{live_server.url}/v1/presign"

    local_redis.kill()
    try:
        down = burst(10, lambda i: http("POST", url, token=token, body=presign_body(stills, i)))
    finally:
        local_redis.start()
    within_one_rate_window()
    back = burst(
        10, lambda i: http("POST", url, token=token, body=presign_body(stills, 100 + i))[0]
    )

    # Fail open, as the README documents: every request served, none refused, no 500.
    assert [status for status, _ in down] == [200] * 10
    assert all("upload_url" in body for _, body in down)
    # A fresh Redis starts counting again from zero.
    assert sorted(back) == [200] * 3 + [429] * 7
