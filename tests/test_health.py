"""/healthz answers while the process lives; /readyz only when its dependencies answer."""

from __future__ import annotations

import pytest

from devtools.seaweed import free_ports

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_without_touching_anything(client, django_assert_num_queries, settings):
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ok_when_database_and_bucket_answer(s3, client, settings):
    settings.REDIS_URL = ""

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "storage": "ok"}
    assert set(body["durations_ms"]) == {"database", "storage"}


def test_readyz_is_503_when_the_store_is_down(s3, client, settings):
    (closed_port,) = free_ports(1)
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"] == "unavailable: StorageUnavailable"
    assert body["checks"]["database"] == "ok"
    assert str(closed_port) not in response.content.decode()


def test_readyz_is_503_when_the_bucket_is_missing(s3, client, settings):
    settings.S3_BUCKET = "no-such-bucket-here"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("unavailable: ")


def test_readyz_checks_redis_only_when_configured(s3, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/7"
    assert client.get("/readyz").json()["checks"]["redis"] == "ok"

    (closed_port,) = free_ports(1)
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/7"
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "unavailable: ConnectionError"
