"""POST /v1/images/:id/publish: who may publish what, once."""

import uuid

import pytest

from events_app.models import Event
from images_app.models import Image
from images_app.services import image_publish
from images_app.tests.image_factories import ImageFactory, processed
from imaging.api.errors import ApplicationError
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(org, site):
    return processed(ImageFactory(session=CaptureSessionFactory(org=org, site=site)))


def publish(client, image_id):
    return client.post(f"/v1/images/{image_id}/publish")


def published_events(image):
    return Event.objects.filter(entity_id=image.id, type=Event.Type.PUBLISHED)


def test_a_reviewer_publishes_a_processed_image(api, reviewer, image):
    response = publish(api(reviewer), image.id)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "status", "published_at"}
    assert (body["id"], body["status"]) == (str(image.id), "published")
    assert body["published_at"].endswith("Z")
    image.refresh_from_db()
    assert image.status == Image.Status.PUBLISHED
    assert image.published_by == reviewer
    [event] = published_events(image)
    assert (event.actor_type, event.actor_id, event.org_id) == ("user", reviewer.id, image.org_id)


def test_the_detail_shows_the_publication(api, reviewer, image):
    published_at = publish(api(reviewer), image.id).json()["published_at"]
    detail = api(reviewer).get(f"/v1/images/{image.id}").json()
    assert (detail["status"], detail["published_at"]) == ("published", published_at)


def test_publishing_twice_is_a_no_op(api, reviewer, admin, image):
    first = publish(api(reviewer), image.id).json()
    second = publish(api(admin), image.id)
    assert second.status_code == 200
    assert second.json() == first
    assert published_events(image).count() == 1
    image.refresh_from_db()
    assert image.published_by == reviewer


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_only_processed_images_can_be_published(api, reviewer, org, site, status):
    image = ImageFactory(session=CaptureSessionFactory(org=org, site=site), status=status)
    response = publish(api(reviewer), image.id)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "INVALID_TRANSITION"
    assert error["details"] == {"status": status}
    assert not published_events(image).exists()


def test_an_operator_cannot_publish(api, operator, image):
    response = publish(api(operator), image.id)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_device_cannot_publish(api, device, image):
    assert publish(api(device), image.id).status_code == 403


def test_another_orgs_admin_gets_not_found(api, outsider, image):
    assert publish(api(outsider), image.id).status_code == 404
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED


def test_a_reviewer_of_another_site_gets_not_found(api, org, other_site, reviewer):
    elsewhere = processed(ImageFactory(session=CaptureSessionFactory(org=org, site=other_site)))
    assert publish(api(reviewer), elsewhere.id).status_code == 404


def test_an_admin_publishes_at_any_site_of_the_org(api, org, other_site, admin):
    elsewhere = processed(ImageFactory(session=CaptureSessionFactory(org=org, site=other_site)))
    assert publish(api(admin), elsewhere.id).status_code == 200


def test_an_unknown_image_is_not_found(api, reviewer):
    assert publish(api(reviewer), uuid.uuid4()).status_code == 404


def test_the_service_refuses_a_failed_image_for_admin_actions_too(admin, org, site):
    image = ImageFactory(session=CaptureSessionFactory(org=org, site=site), status="failed")
    with pytest.raises(ApplicationError) as excinfo:
        image_publish(image=image, actor=admin)
    assert excinfo.value.status_code == 409


def test_the_service_records_the_user_as_actor_when_called_by_an_admin_action(admin, image):
    image_publish(image=image, actor=admin)
    [event] = published_events(image)
    assert (event.actor_type, event.actor_id) == ("user", admin.id)
