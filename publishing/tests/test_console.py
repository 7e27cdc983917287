"""The console: a vehicle's version history with what changed, rollback and withdraw."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from images_app.models import Image
from publishing.models import Publication
from publishing.tests.helpers import photo
from sessions_app.tests.console import console, review_action_url, review_url
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(org, site):
    return {
        role: UserFactory(org=org, role=role, sites=[site], is_staff=True)
        for role in ("operator", "reviewer", "admin")
    }


@pytest.fixture
def session(org, site, s3):
    session = CaptureSessionFactory(
        org=org, site=site, mode="stills", shot_list={"stills": ["front_3q", "side"]}
    )
    photo(session, shot_name="front_3q", seed=1)
    photo(session, shot_name="side", seed=2)
    return session


def publication_url(publication: Publication) -> str:
    return reverse("admin:publishing_publication_change", args=[publication.pk])


def act_url(publication: Publication) -> str:
    return reverse("admin:publishing_publication_act", args=[publication.pk])


def test_a_reviewer_publishes_rolls_back_and_withdraws_in_the_console(
    staff, session, django_capture_on_commit_callbacks
):
    client = console(staff["reviewer"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(review_action_url(session), {"action": "publish_processed"})
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    assert (publication.version, publication.live_version) == (1, 1)
    # The session page links to the vehicle's publication; so does the vehicle page.
    assert publication_url(publication) in client.get(review_url(session)).content.decode()
    vehicle_page = reverse("admin:sessions_app_vehicle_change", args=[session.vehicle_id])
    assert publication_url(publication) in client.get(vehicle_page).content.decode()

    front = Image.objects.get(session=session, shot_name="front_3q")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            review_action_url(session), {"action": "publish_selected", "image": [str(front.pk)]}
        )
        front.status = Image.Status.PROCESSED  # unpublish through the service
        from images_app.services import image_unpublish

        image_unpublish(image=Image.objects.get(pk=front.pk), actor=staff["reviewer"])
    page = client.get(publication_url(publication)).content.decode()
    assert "v2" in page and "+0 / -1 image" in page and "Roll back to v1" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(act_url(publication), {"action": "rollback", "version": "1"})
    assert response.status_code == 302
    publication.refresh_from_db()
    assert (publication.version, publication.live_version) == (3, 3)
    assert "back to v1" in client.get(publication_url(publication)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(act_url(publication), {"action": "withdraw"})
    publication.refresh_from_db()
    assert (publication.status, publication.live_version) == ("withdrawn", 4)


def test_an_operator_can_neither_see_nor_change_a_publication(
    staff, session, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        console(staff["reviewer"]).post(review_action_url(session), {"action": "publish_processed"})
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    client = console(staff["operator"])

    # The operator sees the vehicle (a session at their site) but may not manage its
    # publication: refused, page and action alike, as in the API.
    assert client.get(publication_url(publication)).status_code == 403
    assert client.post(act_url(publication), {"action": "withdraw"}).status_code == 403
    publication.refresh_from_db()
    assert publication.status == "live"


def test_another_orgs_publication_is_a_404_in_the_console(
    staff, session, other_org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        console(staff["reviewer"]).post(review_action_url(session), {"action": "publish_processed"})
    publication = Publication.objects.get(vehicle_id=session.vehicle_id)
    stranger = console(UserFactory(org=other_org, role="admin", is_staff=True))

    assert stranger.get(publication_url(publication)).status_code == 404
    assert stranger.post(act_url(publication), {"action": "withdraw"}).status_code == 404
    publication.refresh_from_db()
    assert publication.status == "live"
