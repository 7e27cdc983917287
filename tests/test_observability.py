"""Request and task log lines, their JSON form, and who may read /metrics."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import pytest
from PIL import Image as PILImage

from images_app import storage
from images_app.services import image_upload_complete
from images_app.tests.image_factories import ImageFactory
from imaging.observability import JsonFormatter, TextFormatter
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Without REDIS_URL, tasks run in-process after commit (the embedded default). Forced
    here: a fixture elsewhere that reconfigures the Celery app may leave it pointing at a
    broker once its test is over."""
    from imaging.celery import app as celery_app

    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved


def records_of(caplog, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


def as_json(record: logging.LogRecord) -> dict:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def noisy_jpeg() -> bytes:
    image = PILImage.effect_noise((640, 480), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


# --- request lines -------------------------------------------------------------------------


def test_an_api_request_logs_one_json_line_with_request_id_org_actor_route_status_duration(
    api, device, caplog
):
    caplog.set_level(logging.INFO, logger="imaging.request")
    session = CaptureSessionFactory(org=device.org, device=device)

    response = api(device).get(f"/v1/sessions/{session.id}")

    assert response.status_code == 200
    (record,) = records_of(caplog, "imaging.request")
    line = as_json(record)
    assert line["level"] == "INFO"
    assert line["logger"] == "imaging.request"
    assert line["message"] == f"GET /v1/sessions/{session.id} 200"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["org_id"] == str(device.org_id)
    assert line["actor"] == f"device:{device.id}"
    assert line["route"] == "/v1/sessions/<uuid:pk>"
    assert line["path"] == f"/v1/sessions/{session.id}"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["ts"].endswith("Z")


def test_a_users_request_names_the_user_and_an_unknown_path_is_one_route(api, admin, caplog):
    caplog.set_level(logging.INFO, logger="imaging.request")

    api(admin).get("/v1/sessions")
    api(admin).get("/v1/no/such/thing/12345")

    first, second = (as_json(r) for r in records_of(caplog, "imaging.request"))
    assert (first["actor"], first["org_id"], first["status"]) == (
        f"user:{admin.id}",
        str(admin.org_id),
        200,
    )
    assert (second["route"], second["status"]) == ("unmatched", 404)


def test_a_request_without_a_valid_token_is_logged_as_anonymous(api, caplog):
    caplog.set_level(logging.INFO, logger="imaging.request")
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = client.get("/v1/sessions")

    assert response.status_code == 401
    (record,) = records_of(caplog, "imaging.request")
    line = as_json(record)
    assert (line["actor"], line["org_id"], line["status"]) == ("anonymous", None, 401)


def test_the_admin_console_logs_the_signed_in_staff_user(client, admin, caplog):
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    caplog.set_level(logging.INFO, logger="imaging.request")

    client.get("/admin/")

    line = as_json(records_of(caplog, "imaging.request")[-1])
    assert line["actor"] == f"user:{admin.id}"
    assert line["route"] == "/admin/"


def test_the_development_format_is_one_readable_line(api, caplog):
    caplog.set_level(logging.INFO, logger="imaging.request")
    api().get("/healthz")

    (record,) = records_of(caplog, "imaging.request")
    text = TextFormatter().format(record)

    assert "imaging.request: GET /healthz 200" in text
    assert f"request_id={record.request_id}" in text
    assert "\n" not in text and not text.startswith("{")


def test_an_exception_is_kept_in_the_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    line = as_json(record)
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exc_info"]


# --- task lines ------------------------------------------------------------------------------


def test_processing_an_image_logs_image_id_attempt_duration_and_outcome(
    s3, org, site, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="imaging.task")
    session = CaptureSessionFactory(org=org, site=site)
    data = noisy_jpeg()
    image = ImageFactory(session=session, content_sha256=hashlib.sha256(data).hexdigest())
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)

    with django_capture_on_commit_callbacks(execute=True):
        image_upload_complete(image_id=image.id)

    (record,) = records_of(caplog, "imaging.task")
    line = as_json(record)
    assert line["task"] == "images_app.tasks.process_image"
    assert line["image_id"] == str(image.id)
    assert line["attempt"] == 1
    assert line["outcome"] == "processed"
    assert line["duration_ms"] > 0


def test_a_failed_image_logs_and_counts_its_error_code(
    s3, org, site, api, admin, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="imaging.task")
    session = CaptureSessionFactory(org=org, site=site)
    image = ImageFactory(session=session, content_sha256="0" * 64)
    storage.put_bytes(key=image.storage_key, data=b"<?php echo 1; ?>", content_type="image/jpeg")

    with django_capture_on_commit_callbacks(execute=True):
        image_upload_complete(image_id=image.id)

    line = as_json(records_of(caplog, "imaging.task")[0])
    assert (line["outcome"], line["error_code"]) == ("failed", "checksum_mismatch")
    assert line["level"] == "INFO"
    metrics = api().get("/metrics").content.decode()
    assert 'imaging_images_failed_total{code="checksum_mismatch"}' in metrics


# --- /metrics --------------------------------------------------------------------------------


def sample(metrics: str, name: str) -> float:
    """The value of one sample line (``name`` with its labels, exactly)."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_and_status_with_a_latency_histogram(api, device):
    client = api(device)
    before = client.get("/metrics").content.decode()
    name = 'imaging_http_requests_total{method="GET",route="/v1/sessions",status="403"}'

    client.get("/v1/sessions")
    client.get("/v1/sessions")
    after = client.get("/metrics").content.decode()

    assert sample(after, name) == sample(before, name) + 2
    assert (
        'imaging_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/v1/sessions"}'
        in after
    )
    assert "imaging_images_unfinished" in after
    assert "_created" not in after


def test_metrics_are_refused_outside_the_allowed_networks(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert allowed.status_code == 200
    assert allowed["Content-Type"].startswith("text/plain")


def test_metrics_accept_the_token_from_anywhere_and_nothing_else(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = "scrape-secret"

    no_token = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secreT")
    right = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret", REMOTE_ADDR="198.51.100.1"
    )

    assert (no_token.status_code, wrong.status_code, right.status_code) == (403, 403, 200)


def test_metrics_behind_a_proxy_use_the_forwarded_client_address(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    # The proxy itself is on loopback; the client it forwards is not.
    forwarded = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert forwarded.status_code == 403


def test_queue_depth_is_read_from_redis_when_configured(api, settings):
    import redis

    settings.REDIS_URL = "redis://127.0.0.1:6379/7"
    settings.CELERY_TASK_DEFAULT_QUEUE = "observability-test-queue"
    queue = redis.Redis.from_url(settings.REDIS_URL)
    queue.delete("observability-test-queue")
    queue.rpush("observability-test-queue", "a", "b", "c")
    try:
        metrics = api().get("/metrics").content.decode()
    finally:
        queue.delete("observability-test-queue")

    assert sample(metrics, 'imaging_queue_depth{queue="observability-test-queue"}') == 3.0
