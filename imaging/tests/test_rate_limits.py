"""Rate limits: keyed as the contract's table says, exact under parallel load, fail-open."""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.django_db

REDIS = "redis://127.0.0.1:6379/2"


def limits(settings, **overrides):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **overrides}


def redis_cache(settings, location=REDIS):
    settings.CACHES = {
        "default": {
            "BACKEND": "imaging.cache.ReusingRedisCache",  # as in production (settings)
            "LOCATION": location,
            # Tests run in parallel against one Redis: keep each test's counters apart.
            "KEY_PREFIX": uuid.uuid4().hex,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def enroll_attempt(client, **extra):
    body = {"org_id": str(uuid.uuid4()), "platform": "ios", "model": "X", "app_version": "1"}
    return client.post("/v1/auth/device", body, format="json", **extra)


def test_auth_device_is_limited_per_ip_with_retry_after(api, settings):
    limits(settings, auth_device=3)
    client = api()
    assert [enroll_attempt(client).status_code for _ in range(3)] == [401, 401, 401]
    response = enroll_attempt(client)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 61


def test_rotating_x_forwarded_for_does_not_reset_the_limit(api, settings):
    limits(settings, auth_device=2)
    client = api()
    codes = [
        enroll_attempt(client, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(4)
    ]
    assert codes == [401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(api, settings):
    limits(settings, auth_device=1)
    settings.TRUSTED_PROXY_COUNT = 1
    client = api()
    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 401
    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    # A spoofed leading hop does not help: the proxy-appended address counts.
    spoofed = "198.51.100.9, 203.0.113.1"
    assert enroll_attempt(client, HTTP_X_FORWARDED_FOR=spoofed).status_code == 429


def test_a_flood_of_invalid_tokens_is_limited(api, settings):
    limits(settings, anonymous=3)
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.here")
    codes = [client.get("/v1/sessions").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]


def test_a_flood_without_any_token_is_limited(api, settings):
    limits(settings, anonymous=2)
    codes = [api().get("/v1/sessions").status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]


def test_each_token_has_its_own_budget(api, settings, reviewer, admin):
    limits(settings, default=2)
    rita, ada = api(reviewer), api(admin)
    assert [rita.get("/v1/sessions").status_code for _ in range(3)] == [200, 200, 429]
    assert ada.get("/v1/sessions").status_code == 200


@pytest.mark.xdist_group("live")
def test_exactly_the_limit_passes_under_parallel_load_on_redis(live_server, settings):
    redis_cache(settings)
    limits(settings, auth_device=7)
    url = f"{live_server.url}/v1/auth/device"
    body = json.dumps(
        {"org_id": str(uuid.uuid4()), "platform": "ios", "model": "X", "app_version": "1"}
    ).encode()
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def call():
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        start.wait(timeout=10)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        with lock:
            statuses.append(status)

    # Counters use calendar-minute windows: do not start the burst across a boundary.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(statuses) == 20
    assert statuses.count(429) == 13, statuses
    assert statuses.count(401) == 7


def test_with_redis_down_requests_are_served_not_500(api, settings):
    redis_cache(settings, location="redis://127.0.0.1:1/0")
    limits(settings, auth_device=1)
    codes = [enroll_attempt(api()).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
