"""SECURITY.md, "Rate limits (API4)", line by line, with the counters in a real Redis.

The Redis is this test process's own (tests/local_redis.py), so one test can stop it.
tests/concurrency/test_rate_limits_parallel.py has the per-bucket parallel proofs.
"""

from __future__ import annotations

import uuid

import pytest

from accounts.tokens import user_token_issue
from sessions_app.tests.factories import CaptureSessionFactory
from tests.helpers import assert_error, burst, http, limits, within_one_rate_window

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_counters")]


def enroll_attempt(client, **headers):
    body = {"org_id": str(uuid.uuid4()), "platform": "ios", "model": "X", "app_version": "1"}
    return client.post("/v1/auth/device", body, format="json", **headers)


@pytest.mark.django_db(transaction=True)
def test_exactly_the_limit_passes_under_parallel_load(live_server, admin, settings):
    limits(settings, default=5)
    token = str(user_token_issue(user=admin))
    within_one_rate_window()

    statuses = burst(16, lambda i: http("GET", f"{live_server.url}/v1/sessions", token=token)[0])

    assert sorted(statuses) == [200] * 5 + [429] * 11


def test_x_forwarded_for_is_ignored_without_trusted_proxies(api, settings):
    limits(settings, auth_device=2)
    client = api()

    codes = [
        enroll_attempt(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(4)
    ]

    assert codes == [401, 401, 429, 429]


def test_behind_one_trusted_proxy_its_appended_address_is_the_client(api, settings):
    limits(settings, auth_device=1)
    settings.TRUSTED_PROXY_COUNT = 1
    client = api()

    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 401
    # A client-made leading hop does not help: the proxy's appended address counts.
    response = enroll_attempt(client, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.1")
    assert_error(response, 429, "RATE_LIMITED")


def test_a_flood_of_invalid_tokens_is_limited_before_authentication(api, settings):
    limits(settings, anonymous=3)
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.here")

    codes = [client.get("/v1/sessions").status_code for _ in range(3)]
    flooded = client.get("/v1/sessions")

    assert codes == [401, 401, 401]
    body = assert_error(flooded, 429, "RATE_LIMITED")
    assert 1 <= int(flooded["Retry-After"]) <= 61
    assert body["error"]["details"]["retry_after"] == int(flooded["Retry-After"])


def test_with_redis_down_limits_fail_open_and_nothing_is_a_500(api, admin, settings, local_redis):
    limits(settings, default=1, anonymous=1, auth_device=1)
    local_redis.kill()
    try:
        user = api(admin)
        reads = [user.get("/v1/sessions").status_code for _ in range(3)]
        enrolls = [enroll_attempt(api()).status_code for _ in range(3)]
        forged = api()
        forged.credentials(HTTP_AUTHORIZATION="Bearer forged.token.here")
        floods = [forged.get("/v1/sessions").status_code for _ in range(3)]
    finally:
        local_redis.start()

    assert (reads, enrolls, floods) == ([200] * 3, [401] * 3, [401] * 3)


def test_each_event_of_a_batch_counts_toward_the_limit(api, org, site, device, settings):
    limits(settings, events=10)
    session = CaptureSessionFactory(org=org, site=site, device=device)
    event = {"entity_type": "session", "entity_id": str(session.id), "type": "upload_started"}
    client = api(device)

    first = client.post("/v1/events", {"events": [event] * 6}, format="json")
    over = client.post("/v1/events", {"events": [event] * 5}, format="json")

    assert first.status_code == 201
    assert_error(over, 429, "RATE_LIMITED")


def test_a_batch_over_the_cap_is_refused(api, org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    event = {"entity_type": "session", "entity_id": str(session.id), "type": "upload_started"}

    response = api(device).post("/v1/events", {"events": [event] * 501}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "events" in body["error"]["details"]


@pytest.mark.parametrize("cache", ["redis", "memory"])
def test_every_spelling_of_the_bearer_scheme_shares_one_budget(api, admin, settings, cache):
    if cache == "memory":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    limits(settings, default=3)
    token = str(user_token_issue(user=admin))
    client = api()

    codes = []
    for spelling in (f"bearer {token}", f"BEARER {token}", f"Bearer  {token}", f"Bearer {token}"):
        client.credentials(HTTP_AUTHORIZATION=spelling)
        codes.append(client.get("/v1/sessions").status_code)

    assert codes == [200, 200, 200, 429]


def test_a_callers_tokens_share_one_budget(api, admin, settings):
    limits(settings, default=2)
    first, second = (str(user_token_issue(user=admin)) for _ in range(2))
    client = api()

    codes = []
    for token in (first, second, first):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        codes.append(client.get("/v1/sessions").status_code)

    assert codes == [200, 200, 429]


@pytest.fixture
def own_session_event(org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    return {"entity_type": "session", "entity_id": str(session.id), "type": "upload_started"}


def test_batches_refused_for_the_limit_leave_the_rest_of_the_minute_usable(
    api, device, settings, own_session_event
):
    limits(settings, events=10)
    client = api(device)

    first = client.post("/v1/events", {"events": [own_session_event] * 6}, format="json")
    refused = [
        client.post("/v1/events", {"events": [own_session_event] * 5}, format="json")
        for _ in range(3)
    ]
    rest = client.post("/v1/events", {"events": [own_session_event] * 4}, format="json")
    over = client.post("/v1/events", own_session_event, format="json")

    assert first.status_code == 201
    for response in refused:
        assert_error(response, 429, "RATE_LIMITED")
    assert rest.status_code == 201, rest.content
    assert_error(over, 429, "RATE_LIMITED")


def test_invalid_batches_do_not_use_up_the_events_budget(
    api, device, other_org, settings, own_session_event
):
    limits(settings, events=10)
    client = api(device)
    unknown = {**own_session_event, "entity_id": str(uuid.uuid4())}

    invalid = client.post("/v1/events", {"events": [own_session_event, {}] * 4}, format="json")
    not_found = client.post("/v1/events", {"events": [own_session_event, unknown]}, format="json")
    malformed = client.post("/v1/events", "{", content_type="application/json")
    exactly = client.post("/v1/events", {"events": [own_session_event] * 10}, format="json")

    assert_error(invalid, 400, "VALIDATION_ERROR")
    assert_error(not_found, 404, "NOT_FOUND")
    assert_error(malformed, 400, "MALFORMED_REQUEST")
    assert exactly.status_code == 201, exactly.content
    assert exactly.json()["accepted"] == 10


def test_a_flood_of_invalid_batches_is_limited_per_actor(api, device, settings, own_session_event):
    limits(settings, events=10, events_refused=2)
    client = api(device)
    invalid = {"events": [{}]}

    codes = [client.post("/v1/events", invalid, format="json").status_code for _ in range(2)]
    flooded = client.post("/v1/events", invalid, format="json")
    valid_too = client.post("/v1/events", own_session_event, format="json")

    assert codes == [400, 400]
    assert_error(flooded, 429, "RATE_LIMITED")
    # Over the refusal budget nothing more is looked at until the next minute.
    assert_error(valid_too, 429, "RATE_LIMITED")
