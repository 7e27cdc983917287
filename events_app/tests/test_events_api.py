"""POST /v1/events: both shapes, all or nothing, scoped entities, per-event rate limits."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from images_app.api.event_serializers import MAX_BATCH
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

URL = "/v1/events"


@pytest.fixture
def session(org, site, device):
    return CaptureSessionFactory(org=org, site=site, device=device)


@pytest.fixture
def image(session):
    return ImageFactory(session=session)


def event(entity, type="upload_started", **extra):
    kind = {"CaptureSession": "session", "Image": "image", "Device": "device"}
    return {
        "entity_type": kind[entity.__class__.__name__],
        "entity_id": str(entity.id),
        "type": type,
        **extra,
    }


def post(client, body):
    return client.post(URL, body, format="json")


def test_a_single_event_is_stored_with_its_actor_and_request_id(api, device, image):
    body = event(image, message="PUT started", meta={"bytes": 123})
    response = post(api(device), body)
    assert response.status_code == 201, response.content
    assert response.json() == {"accepted": 1}
    stored = Event.objects.get(entity_id=image.id)
    assert (stored.actor_type, stored.actor_id) == ("device", device.id)
    assert (stored.type, stored.message, stored.meta) == (
        "upload_started",
        "PUT started",
        {"bytes": 123},
    )
    assert stored.org_id == image.org_id
    assert stored.request_id == response["X-Request-ID"]


def test_a_batch_stores_every_event(api, device, session, image):
    body = {
        "events": [
            event(session, "upload_started"),
            event(image, "upload_failed", message="timeout"),
            event(device, "upload_started"),
        ]
    }
    response = post(api(device), body)
    assert response.status_code == 201
    assert response.json() == {"accepted": 3}
    assert Event.objects.count() == 3


def test_an_empty_batch_is_refused(api, device):
    response = post(api(device), {"events": []})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "events" in response.json()["error"]["details"]


def test_a_batch_over_the_cap_is_refused(api, device, image):
    response = post(api(device), {"events": [event(image)] * (MAX_BATCH + 1)})
    assert response.status_code == 400
    assert "500" in response.json()["error"]["details"]["events"][0]
    assert not Event.objects.exists()


def test_a_batch_at_the_cap_is_accepted(api, device, image):
    response = post(api(device), {"events": [event(image)] * MAX_BATCH})
    assert response.status_code == 201
    assert Event.objects.count() == MAX_BATCH


def test_one_invalid_event_rejects_the_whole_batch_and_names_its_index(api, device, image):
    events = [event(image) for _ in range(5)]
    events[3] = {**event(image), "type": "exploded"}
    response = post(api(device), {"events": events})
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert list(details["events"]) == ["3"]
    assert "type" in details["events"]["3"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"type": "processed"},  # the server's own type
        {"entity_type": "vehicle"},
        {"entity_id": "not-a-uuid"},
        {"message": "x" * 2001},
        {"meta": ["not", "an", "object"]},
        {"meta": {"blob": "x" * 5000}},
        {"meta": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
    ],
    ids=["server-type", "entity-type", "uuid", "message", "meta-list", "meta-size", "meta-depth"],
)
def test_invalid_fields_are_refused(api, device, image, change):
    response = post(api(device), {**event(image), **change})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not Event.objects.exists()


def test_missing_fields_are_named(api, device):
    response = post(api(device), {"type": "upload_started"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"entity_type", "entity_id"}


@pytest.mark.parametrize(
    "body",
    [[{"entity_type": "image"}], "text", {"events": {"0": {}}}, {"events": [], "type": "x"}],
    ids=["list", "string", "events-not-a-list", "both-shapes"],
)
def test_bodies_of_neither_shape_are_refused(api, device, body):
    response = post(api(device), body)
    assert response.status_code == 400


def test_another_orgs_image_is_not_found(api, device, other_org):
    foreign = ImageFactory(session=CaptureSessionFactory(org=other_org))
    response = post(api(device), event(foreign))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert not Event.objects.exists()


def test_a_missing_entity_in_a_batch_is_named_by_index_and_nothing_is_stored(api, device, image):
    ghost = {"entity_type": "session", "entity_id": str(uuid.uuid4()), "type": "upload_started"}
    response = post(api(device), {"events": [event(image), event(image), ghost]})
    assert response.status_code == 404
    assert response.json()["error"]["details"] == {"events": {"2": {"entity_id": ["Not found."]}}}
    assert not Event.objects.exists()


def test_a_device_cannot_post_about_another_devices_session(api, org, site, device):
    others = CaptureSessionFactory(org=org, site=site, device=DeviceFactory(org=org))
    assert post(api(device), event(others)).status_code == 404


def test_a_device_may_post_about_itself_but_not_another_device(api, org, device):
    assert post(api(device), event(device)).status_code == 201
    assert post(api(device), event(DeviceFactory(org=org))).status_code == 404


def test_a_user_may_post_about_images_at_their_sites_only(api, org, other_site, reviewer, image):
    elsewhere = ImageFactory(session=CaptureSessionFactory(org=org, site=other_site))
    assert post(api(reviewer), event(image)).status_code == 201
    assert post(api(reviewer), event(elsewhere)).status_code == 404
    stored = Event.objects.get()
    assert (stored.actor_type, stored.actor_id) == ("user", reviewer.id)


def test_an_admin_may_post_about_any_site_and_device_of_the_org(
    api, org, other_site, admin, device
):
    elsewhere = ImageFactory(session=CaptureSessionFactory(org=org, site=other_site))
    body = {"events": [event(elsewhere), event(device)]}
    assert post(api(admin), body).status_code == 201


def test_upload_complete_enqueues_processing_once(
    api, device, image, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as first:
        assert post(api(device), event(image, "upload_complete")).status_code == 201
    image.refresh_from_db()
    assert image.uploaded_at is not None
    assert image.status == Image.Status.PENDING
    assert len(first) == 1

    with django_capture_on_commit_callbacks() as again:
        body = {"events": [event(image, "upload_complete"), event(image, "upload_complete")]}
        assert post(api(device), body).status_code == 201
    assert again == []
    assert Event.objects.filter(type="upload_complete").count() == 3


def test_upload_complete_for_a_processed_image_enqueues_nothing(
    api, device, image, django_capture_on_commit_callbacks
):
    processed(image)
    with django_capture_on_commit_callbacks() as callbacks:
        assert post(api(device), event(image, "upload_complete")).status_code == 201
    assert callbacks == []


def test_a_clients_published_event_publishes_nothing(api, reviewer, image):
    processed(image)
    assert post(api(reviewer), event(image, "published")).status_code == 201
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert image.published_at is None


def test_each_event_of_a_batch_counts_toward_the_rate_limit(api, device, image, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "events": 5}
    client = api(device)
    assert post(client, {"events": [event(image)] * 3}).status_code == 201
    response = post(client, {"events": [event(image)] * 3})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 61
    assert Event.objects.count() == 3


def test_events_are_limited_per_actor(api, org, device, image, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "events": 2}
    assert post(api(device), {"events": [event(image)] * 2}).status_code == 201
    assert post(api(device), event(image)).status_code == 429
    other = DeviceFactory(org=org)
    assert post(api(other), event(other)).status_code == 201


def test_the_query_count_does_not_grow_with_the_batch(api, org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    images = ImageFactory.create_batch(50, session=session)
    client = api(device)
    post(client, event(device))  # first request of the minute records last_seen_at

    def queries_for(batch) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert post(client, {"events": batch}).status_code == 201
        return len(ctx.captured_queries)

    small = queries_for([event(images[0]), event(session)])
    large = queries_for([event(i) for i in images] + [event(session)] * 50)
    assert small == large


def test_repeated_upload_complete_reports_cost_no_query_per_image(api, org, site, device):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    images = [processed(image) for image in ImageFactory.create_batch(40, session=session)]
    client = api(device)
    post(client, event(device))  # first request of the minute records last_seen_at

    def queries_for(batch) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert post(client, {"events": batch}).status_code == 201
        return len(ctx.captured_queries)

    one = queries_for([event(images[0], "upload_complete")])
    forty = queries_for([event(image, "upload_complete") for image in images])
    assert one == forty


def test_a_batch_starts_processing_of_each_waiting_image_once(
    api, org, site, device, django_capture_on_commit_callbacks
):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    waiting = ImageFactory.create_batch(3, session=session)
    done = processed(ImageFactory(session=session))
    batch = [event(image, "upload_complete") for image in [*waiting, done, waiting[0]]]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post(api(device), {"events": batch}).status_code == 201

    assert len(callbacks) == 3
    assert (
        Image.objects.filter(pk__in=[i.pk for i in waiting], uploaded_at__isnull=False).count() == 3
    )
