"""Delivery against a real loopback receiver that verifies every signature
(``standardwebhooks``): which changes send what and when, retries, 410, the 5-day rule,
rotation, replay, chunks of deliveries per task, the SSRF rule at delivery, redirects, the
response cap."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from celery.signals import task_prerun
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from images_app import review, storage
from images_app import services as image_services
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from images_app.tests.test_processing import photo_jpeg
from publishing import services as publishing_services
from publishing.models import Publication
from sessions_app.services import session_finish
from sessions_app.tests.factories import CaptureSessionFactory
from webhooks import events, services, signing, ssrf, tasks, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db
SCHEMA = json.loads(
    (Path(django_settings.BASE_DIR) / "webhooks" / "payloads.schema.json").read_text()
)


def validate(payload: dict) -> dict:
    jsonschema.Draft202012Validator(SCHEMA).validate(payload)
    return payload


@pytest.fixture
def endpoint(org, receiver, insecure):
    return services.endpoint_create(org_id=org.id, url=receiver.url())


@pytest.fixture
def session(org, site):
    return CaptureSessionFactory(org=org, site=site)


def due_now(delivery_id) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())


def the_delivery() -> WebhookDelivery:
    [delivery] = WebhookDelivery.objects.select_related("message", "endpoint")
    return delivery


# --- each event type, when its change commits ----------------------------------------------


def test_a_finished_session_is_announced_once_its_transaction_commits(
    session, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        session_finish(session=session, status="complete", completed_at=None, actor=None)
        assert receiver.received == []  # nothing before the commit
    # The webhook's send, and spin health judging the session again (images_app).
    assert len(callbacks) == 2
    [received] = receiver.wait_for(1)
    payload = validate(received.verify(endpoint.secret))
    assert payload["type"] == "session.completed"
    assert payload["data"]["session_id"] == str(session.id)
    assert payload["data"]["vehicle_id"] == str(session.vehicle_id)
    assert payload["data"]["links"] == {"session": f"/v1/sessions/{session.id}"}
    assert received.headers["content-type"] == "application/json"
    delivery = the_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.message.msg_id == received.webhook_id
    assert received.webhook_id.startswith("msg_")


def test_a_rolled_back_change_sends_nothing(
    session, endpoint, receiver, django_capture_on_commit_callbacks
):
    class Undo(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Undo),
        transaction.atomic(),
    ):
        session_finish(session=session, status="complete", completed_at=None, actor=None)
        raise Undo
    assert callbacks == []
    assert not WebhookMessage.objects.exists()
    assert receiver.received == []


def test_an_abandoned_session_and_other_orgs_changes_send_nothing(
    session, endpoint, receiver, other_org, django_capture_on_commit_callbacks
):
    other = CaptureSessionFactory(org=other_org)
    with django_capture_on_commit_callbacks(execute=True):
        session_finish(session=session, status="abandoned", completed_at=None, actor=None)
        session_finish(session=other, status="complete", completed_at=None, actor=None)
    assert not WebhookMessage.objects.exists()


def test_only_the_subscribed_types_are_sent_to_an_endpoint(
    org, session, receiver, insecure, django_capture_on_commit_callbacks
):
    services.endpoint_create(org_id=org.id, url=receiver.url(), event_types=["image.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        session_finish(session=session, status="complete", completed_at=None, actor=None)
    assert not WebhookMessage.objects.exists()


@pytest.mark.usefixtures("s3")
def test_processing_announces_processed_and_failed_images(
    session, endpoint, receiver, django_capture_on_commit_callbacks
):
    good, bad = photo_jpeg(size=(800, 600)), b"not a photo at all"
    images = []
    for data in (good, bad):
        image = ImageFactory(session=session, content_sha256=hashlib.sha256(data).hexdigest())
        storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
        images.append(image)
    with django_capture_on_commit_callbacks(execute=True):
        for image in images:
            image_services.image_process(image_id=image.id)
    received = receiver.wait_for(2)
    payloads = {p["type"]: validate(p) for p in (r.verify(endpoint.secret) for r in received)}
    assert set(payloads) == {"image.processed", "image.failed"}
    processed_data = payloads["image.processed"]["data"]
    assert processed_data["image_id"] == str(images[0].id)
    assert (processed_data["width"], processed_data["height"]) == (800, 600)
    assert processed_data["links"]["image"] == f"/v1/images/{images[0].id}"
    failed_data = payloads["image.failed"]["data"]
    assert failed_data["image_id"] == str(images[1].id)
    assert failed_data["error"] == Image.objects.get(pk=images[1].id).error != ""


def test_reject_reshoot_and_its_fulfilment_are_announced(
    org, site, reviewer, endpoint, receiver, django_capture_on_commit_callbacks
):
    session = CaptureSessionFactory(org=org, site=site, mode="studio360")
    image = processed(ImageFactory(session=session, frame_index=3, angle_deg=45))
    with django_capture_on_commit_callbacks(execute=True):
        review.image_reject(image=image, actor=reviewer, reasons=["blurred"])
    kinds = [validate(r.verify(endpoint.secret))["type"] for r in receiver.wait_for(2)]
    assert kinds == ["image.rejected", "reshoot.requested"]
    rejected, requested = (r.verify(endpoint.secret)["data"] for r in receiver.received)
    assert rejected["reasons"] == ["blurred"] and rejected["image_id"] == str(image.id)
    assert requested["image_id"] == str(image.id) and requested["frame_index"] == 3

    replacement = processed(
        ImageFactory(session=session, frame_index=3, angle_deg=45, replaces=image)
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        review.reshoots_fulfil(image=replacement)
    fulfilled = validate(receiver.wait_for(3)[2].verify(endpoint.secret))
    assert fulfilled["type"] == "reshoot.fulfilled"
    assert fulfilled["data"]["reshoot_id"] == requested["reshoot_id"]
    assert fulfilled["data"]["image_id"] == str(replacement.id)


def test_publishing_and_withdrawing_a_vehicle_are_announced_with_version_and_manifest(
    org, site, reviewer, endpoint, receiver, django_capture_on_commit_callbacks
):
    session = CaptureSessionFactory(org=org, site=site)
    image = processed(ImageFactory(session=session, shot_name="front"))
    with django_capture_on_commit_callbacks(execute=True):
        image_services.image_publish(image=image, actor=reviewer)
    published = validate(receiver.wait_for(1)[0].verify(endpoint.secret))
    assert published["type"] == "vehicle.published"
    manifest_url = publishing_services.publication_manifest_url(session.vehicle_id)
    assert published["data"] == {
        "vehicle_id": str(session.vehicle_id),
        "version": 1,
        "action": "publish",
        "manifest_url": manifest_url,
        "links": {"publication": f"/v1/vehicles/{session.vehicle_id}/publication"},
    }
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    with django_capture_on_commit_callbacks(execute=True):
        publishing_services.publication_withdraw(publication=publication, actor=reviewer)
    withdrawn = validate(receiver.wait_for(2)[1].verify(endpoint.secret))
    assert withdrawn["type"] == "vehicle.withdrawn"
    assert withdrawn["data"]["version"] == 2
    # The audit log (the console's too) has both versions.
    from events_app.models import Event

    kinds = Event.objects.filter(entity_id=session.vehicle_id).values_list("type", flat=True)
    assert sorted(kinds) == ["publication_published", "publication_withdrawn"]


# --- retries, 410, failing for days --------------------------------------------------------


def failing_delivery(endpoint, receiver, django_capture_on_commit_callbacks, *answers):
    receiver.answer(*answers)
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=endpoint)
    return the_delivery()


def test_retries_follow_the_schedule_with_jitter_then_fail(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_SCALE = 0.01
    delivery = failing_delivery(endpoint, receiver, django_capture_on_commit_callbacks, 500)
    gaps = []
    for attempt in range(1, 9):
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        if attempt < 8:
            assert delivery.status == "pending"
            gaps.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
            due_now(delivery.pk)
            assert services.delivery_attempt(delivery_id=delivery.pk).startswith("retry") or (
                attempt == 7
            )
    assert delivery.status == "failed"
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    for gap, base in zip(gaps, services.RETRY_DELAYS, strict=True):
        # From the end of the attempt (its claim time plus the request) to the next one.
        assert base * 0.01 * 0.8 <= gap <= base * 0.01 * 1.2 + 0.1
    ids = {r.webhook_id for r in receiver.wait_for(8)}
    assert len(ids) == 1  # the same webhook-id on every attempt
    for r in receiver.received:
        r.verify(endpoint.secret)


def test_a_delivery_not_due_or_claimed_is_not_sent(endpoint, receiver, insecure):
    message = WebhookMessage.objects.create(
        msg_id="msg_x", org_id=endpoint.org_id, event_type="ping", payload={"type": "ping"}
    )
    later = timezone.now() + timedelta(minutes=5)
    delivery = WebhookDelivery.objects.create(
        org_id=endpoint.org_id, message=message, endpoint=endpoint, next_attempt_at=later
    )
    assert services.delivery_attempt(delivery_id=delivery.pk) == "not due"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(), claimed_until=later
    )
    assert services.delivery_attempt(delivery_id=delivery.pk) == "not due"
    assert receiver.received == []


def test_retry_after_is_honoured_within_bounds(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    delivery = failing_delivery(
        endpoint,
        receiver,
        django_capture_on_commit_callbacks,
        Answer(503, headers={"Retry-After": "120"}),
        Answer(429, headers={"Retry-After": "9999999"}),
    )
    gap = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 119 <= gap <= 121  # asked for 120 s, more than the schedule's 5 s
    due_now(delivery.pk)
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    gap = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert gap <= services.RETRY_AFTER_MAX + 1  # bounded


def test_410_gone_disables_the_endpoint_with_a_reason(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    delivery = failing_delivery(endpoint, receiver, django_capture_on_commit_callbacks, 410)
    assert delivery.status == "failed" and delivery.attempts == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410 Gone" in endpoint.disabled_reason


def test_an_endpoint_failing_for_five_days_is_disabled(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )
    delivery = failing_delivery(endpoint, receiver, django_capture_on_commit_callbacks, 502)
    assert delivery.status == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason.startswith("Every delivery failed for 5 days")


def test_a_success_clears_the_failing_clock(endpoint, receiver, django_capture_on_commit_callbacks):
    delivery = failing_delivery(endpoint, receiver, django_capture_on_commit_callbacks, 500, 200)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    due_now(delivery.pk)
    assert services.delivery_attempt(delivery_id=delivery.pk) == "delivered"
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


# --- chunks: several deliveries per task ---------------------------------------------------


def due_pings(endpoint, count: int) -> list[WebhookDelivery]:
    """``count`` due pings to the endpoint, in the database only (as if the broker lost them)."""
    deliveries = []
    for _ in range(count):
        message = WebhookMessage.objects.create(
            msg_id=signing.msg_id_new(),
            org_id=endpoint.org_id,
            event_type=events.PING,
            payload=events.ping_payload(endpoint_id=endpoint.pk, now=timezone.now()),
        )
        deliveries.append(
            WebhookDelivery.objects.create(
                org_id=endpoint.org_id,
                message=message,
                endpoint=endpoint,
                next_attempt_at=timezone.now(),
            )
        )
    return deliveries


def ids_of(deliveries) -> list[str]:
    return [str(d.pk) for d in deliveries]


@pytest.fixture
def deliver_tasks():
    """The id lists of the ``deliver`` tasks that ran."""
    seen: list[list[str]] = []

    def record(sender=None, args=(), **kwargs) -> None:
        if sender.name == "webhooks.tasks.deliver":
            seen.append(args[0])

    task_prerun.connect(record, weak=False)
    try:
        yield seen
    finally:
        task_prerun.disconnect(record)


def test_a_transactions_deliveries_go_in_one_task_per_endpoint_and_chunk(
    org, receiver, insecure, settings, deliver_tasks, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_BATCH_SIZE = 2
    first = services.endpoint_create(org_id=org.id, url=receiver.url("/first"))
    second = services.endpoint_create(org_id=org.id, url=receiver.url("/second"))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(3):
            services.endpoint_ping(endpoint=first)
        services.endpoint_ping(endpoint=second)
    by_endpoint = {
        str(pk): str(endpoint_id)
        for pk, endpoint_id in WebhookDelivery.objects.values_list("pk", "endpoint_id")
    }
    assert sorted(len(ids) for ids in deliver_tasks) == [1, 1, 2]
    assert all(len({by_endpoint[pk] for pk in ids}) == 1 for ids in deliver_tasks)
    assert sorted(r.path for r in receiver.wait_for(4)) == ["/first"] * 3 + ["/second"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_rolled_back_savepoint_sends_nothing_and_the_rest_of_the_transaction_is_sent(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    class Undo(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(Undo), transaction.atomic():
            services.endpoint_ping(endpoint=endpoint)
            raise Undo
        kept = services.endpoint_ping(endpoint=endpoint)
    [received] = receiver.wait_for(1)
    assert received.webhook_id == kept.message.msg_id
    assert the_delivery().status == "delivered"


def test_in_a_chunk_only_the_failing_delivery_is_retried(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(200, 500, 200)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(3):
            services.endpoint_ping(endpoint=endpoint)
    first_round = receiver.wait_for(3)
    failing_id = first_round[1].webhook_id  # sent in the order written
    failing = WebhookDelivery.objects.get(message__msg_id=failing_id)
    assert (failing.status, failing.attempts, failing.last_status_code) == ("pending", 1, 500)
    assert failing.next_attempt_at > failing.last_attempt_at
    others = WebhookDelivery.objects.exclude(pk=failing.pk)
    assert [(d.status, d.attempts) for d in others] == [("delivered", 1)] * 2

    due_now(failing.pk)
    outcomes = services.deliveries_attempt(delivery_ids=ids_of(WebhookDelivery.objects.all()))
    assert outcomes == {
        str(failing.pk): "delivered",
        **{str(d.pk): "not due" for d in others},
    }
    [retried] = receiver.received[3:]
    assert retried.webhook_id == failing_id
    retried.verify(endpoint.secret)
    failing.refresh_from_db()
    assert (failing.status, failing.attempts) == ("delivered", 2)


@pytest.mark.parametrize(
    ("answer", "queries"),
    [
        (200, 2),  # the claim (with messages and endpoint), the outcomes
        (500, 3),  # the claim, the outcomes, the endpoint's failing clock started
    ],
)
@pytest.mark.parametrize("size", [1, 20])
def test_a_chunk_costs_the_same_queries_whatever_its_size(
    endpoint, receiver, answer, queries, size, django_assert_num_queries
):
    receiver.answer(answer)
    deliveries = due_pings(endpoint, size)
    with django_assert_num_queries(queries):
        outcomes = services.deliveries_attempt(delivery_ids=ids_of(deliveries))
    assert len(receiver.wait_for(size)) == size
    expected = "delivered" if answer == 200 else "retry"
    assert {outcome.split(" ")[0] for outcome in outcomes.values()} == {expected}


def test_a_task_message_of_one_id_from_before_chunks_is_still_delivered(endpoint, receiver):
    [delivery] = due_pings(endpoint, 1)
    tasks.deliver.apply(args=[str(delivery.pk)])
    [received] = receiver.wait_for(1)
    assert received.webhook_id == delivery.message.msg_id
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_a_slow_endpoint_gives_back_what_it_could_not_send_in_time(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_BATCH_SECONDS = 0.2
    receiver.answer(Answer(200, sleep=0.5), 200)
    deliveries = due_pings(endpoint, 3)
    rest = deliveries[1:]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcomes = services.deliveries_attempt(delivery_ids=ids_of(deliveries))
    assert list(outcomes.values()) == ["delivered", "given back", "given back"]
    assert len(receiver.received) == 1
    for delivery in rest:
        delivery.refresh_from_db()
        # Not counted as an attempt, free for the next task, which is enqueued.
        assert (delivery.status, delivery.attempts, delivery.claimed_until) == ("pending", 0, None)
    assert len(callbacks) == 1
    callbacks[0]()
    assert [r.webhook_id for r in receiver.wait_for(3)[1:]] == [d.message.msg_id for d in rest]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_410_in_a_chunk_stops_it_and_its_rest_fails_with_the_endpoint(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(200, 410, 200)
    deliveries = due_pings(endpoint, 3)
    outcomes = services.deliveries_attempt(delivery_ids=ids_of(deliveries))
    assert list(outcomes.values()) == ["delivered", "gone: endpoint disabled", "endpoint disabled"]
    assert len(receiver.received) == 2
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410 Gone" in endpoint.disabled_reason
    last = WebhookDelivery.objects.get(pk=deliveries[2].pk)
    assert (last.status, last.attempts) == ("failed", 0)
    assert last.last_error.startswith("endpoint disabled: The endpoint answered 410 Gone")


# --- rotation and replay -------------------------------------------------------------------


def test_after_a_rotation_both_secrets_sign_for_a_day(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    old = endpoint.secret
    rotated = services.secret_rotate(endpoint=endpoint)
    assert rotated.secret != old and rotated.secret.startswith("whsec_")
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=rotated)
    [received] = receiver.wait_for(1)
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    received.verify(rotated.secret)
    received.verify(old)
    # Each signature is that of its own secret.
    for secret, signature in zip((rotated.secret, old), signatures, strict=True):
        only = dict(received.headers, **{"webhook-signature": signature})
        type(received)(received.path, only, received.body).verify(secret)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    rotated.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=rotated)
    later = receiver.wait_for(2)[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    later.verify(rotated.secret)
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        later.verify(old)


def test_a_replay_resends_the_same_webhook_id(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=endpoint)
    first = the_delivery()
    with django_capture_on_commit_callbacks(execute=True):
        replay = services.delivery_replay(delivery=first)
    assert replay.pk != first.pk
    one, two = receiver.wait_for(2)
    assert one.webhook_id == two.webhook_id == first.message.msg_id
    assert one.body == two.body
    one.verify(endpoint.secret), two.verify(endpoint.secret)


def test_secrets_are_whsec_and_32_random_bytes():
    secret = signing.secret_new()
    import base64

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.secret_new()


# --- where a delivery may go ---------------------------------------------------------------


def test_at_delivery_a_url_now_refused_is_not_contacted(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    # Saved while loopback was allowed (as if its name now resolved to 127.0.0.1): refused
    # at the delivery once it is not, and nothing is sent.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=f"https://127.0.0.1:{receiver.port}/hook"
    )
    endpoint.refresh_from_db()
    settings.WEBHOOKS_ALLOW_INSECURE = False
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=endpoint)
    delivery = the_delivery()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("refused: ") and "loopback" in delivery.last_error
    assert receiver.received == []


def test_at_delivery_a_name_is_resolved_and_the_checked_address_contacted(
    org, receiver, insecure, django_capture_on_commit_callbacks
):
    endpoint = services.endpoint_create(org_id=org.id, url=receiver.url(host="localhost"))
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_ping(endpoint=endpoint)
    [received] = receiver.wait_for(1)
    assert received.headers["host"] == f"localhost:{receiver.port}"
    received.verify(endpoint.secret)


def test_a_redirect_is_not_followed(endpoint, receiver, django_capture_on_commit_callbacks):
    target = "http://169.254.169.254/latest/meta-data/"
    delivery = failing_delivery(
        endpoint,
        receiver,
        django_capture_on_commit_callbacks,
        Answer(302, headers={"Location": target}),
    )
    assert len(receiver.received) == 1
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert delivery.last_error == f"redirect not followed (Location: {target})"


def test_the_response_read_is_capped(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RESPONSE_MAX_BYTES = 1000
    settings.WEBHOOK_RESPONSE_KEEP_BYTES = 100
    delivery = failing_delivery(
        endpoint, receiver, django_capture_on_commit_callbacks, Answer(500, body=b"x" * 200_000)
    )
    assert delivery.last_status_code == 500
    assert delivery.last_response == "x" * 100
    # The connection was not reused half-read: the next attempt is a clean request.
    receiver.answer(200)
    due_now(delivery.pk)
    assert services.delivery_attempt(delivery_id=delivery.pk) == "delivered"


def test_a_slow_receiver_times_out_and_is_retried(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_REQUEST_TIMEOUT = 0.5
    delivery = failing_delivery(
        endpoint, receiver, django_capture_on_commit_callbacks, Answer(200, sleep=1.5)
    )
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "Timeout" in delivery.last_error or "timed out" in delivery.last_error


# --- the sweeper ---------------------------------------------------------------------------


def test_a_receiver_down_for_a_while_gets_everything_from_the_sweeper(
    endpoint, receiver, deliver_tasks, django_capture_on_commit_callbacks
):
    receiver.down()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            services.endpoint_ping(endpoint=endpoint)
    deliveries = WebhookDelivery.objects.all()
    assert [d.status for d in deliveries] == ["pending"] * 3
    assert all(d.last_status_code is None and d.last_error for d in deliveries)
    receiver.up()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep() == 0  # not due yet
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliver_tasks.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep() == 3
    assert [len(ids) for ids in deliver_tasks] == [3]  # one endpoint's: one chunk
    assert sorted(d.status for d in WebhookDelivery.objects.all()) == ["delivered"] * 3
    assert len({r.webhook_id for r in receiver.wait_for(3)}) == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep() == 0


SSRF_AT_DELIVERY = [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.10",
    "169.254.169.254",
    "127.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fc00::]",
    "[fe80::1]",
    "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "0.0.0.0",
    "224.0.0.1",
    "localhost",
]


@pytest.mark.parametrize("host", SSRF_AT_DELIVERY)
def test_the_ssrf_table_is_refused_at_delivery_without_connecting(host, settings):
    settings.WEBHOOKS_ALLOW_INSECURE = False
    outcome = transport.post(endpoint_key="x", url=f"https://{host}/hook", body=b"{}", headers={})
    assert outcome.status_code is None
    assert outcome.error.startswith("refused: The host ")


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_may_receive_webhooks(address, settings):
    settings.WEBHOOKS_ALLOW_INSECURE = False
    assert ssrf.address_refusal(ipaddress.ip_address(address)) is None


def test_the_insecure_setting_allows_loopback_but_never_private_or_metadata(settings):
    settings.WEBHOOKS_ALLOW_INSECURE = True
    assert ssrf.address_refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert ssrf.address_refusal(ipaddress.ip_address("::1")) is None
    assert ssrf.address_refusal(ipaddress.ip_address("10.0.0.1")) == "a private address"
    assert ssrf.address_refusal(ipaddress.ip_address("169.254.169.254")) == (
        "a cloud metadata address"
    )
