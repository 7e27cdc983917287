"""The audit trail in the console: read-only, filtered, searchable, scoped."""

from __future__ import annotations

import re
import uuid

import pytest

from accounts.models import User
from events_app.models import Event
from events_app.services import event_record
from images_app.services import image_publish
from sessions_app.tests.console import console, review_url, spin_session

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/events_app/event/"


def listed(response) -> set[str]:
    return set(
        re.findall(
            r'href="/admin/events_app/event/([0-9a-f-]{36})/change/', response.content.decode()
        )
    )


def record(org, entity_type: str, entity_id, type: str, **fields) -> Event:
    return event_record(
        org_id=org.id,
        actor_type=fields.pop("actor_type", "system"),
        actor_id=fields.pop("actor_id", None),
        entity_type=entity_type,
        entity_id=entity_id,
        type=type,
        **fields,
    )


@pytest.fixture
def trail(org, site, other_site, device):
    """Events of a session and its image at the reviewer's site, of a session at another
    site, and of a device."""
    here = spin_session(org=org, site=site, frame_count=1)
    there = spin_session(org=org, site=other_site, frame_count=1)
    image = here.images.get()
    return {
        "session": record(org, "session", here.pk, "session_created"),
        "image": record(org, "image", image.pk, "processed"),
        "other_site": record(org, "session", there.pk, "session_created"),
        "device": record(org, "device", device.pk, "device_enrolled"),
        "here": here,
        "image_id": image.pk,
    }


def test_a_reviewer_sees_the_events_of_their_sites_only(trail, reviewer, outsider):
    record(outsider.org, "session", uuid.uuid4(), "session_created")

    page = console(reviewer).get(CHANGELIST)

    assert listed(page) == {str(trail["session"].pk), str(trail["image"].pk)}


def test_an_org_admin_sees_every_event_of_the_org_including_devices(trail, admin, outsider):
    theirs = record(outsider.org, "session", uuid.uuid4(), "session_created")

    page = console(admin).get(CHANGELIST)

    assert str(trail["device"].pk) in listed(page)
    assert str(trail["other_site"].pk) in listed(page)
    assert str(theirs.pk) not in listed(page)
    assert console(admin).get(f"{CHANGELIST}{theirs.pk}/change/").status_code == 404


def test_an_event_outside_a_reviewers_sites_is_a_404(trail, reviewer):
    client = console(reviewer)

    assert client.get(f"{CHANGELIST}{trail['other_site'].pk}/change/").status_code == 404
    assert client.get(f"{CHANGELIST}{trail['device'].pk}/change/").status_code == 404
    assert client.get(f"{CHANGELIST}{trail['session'].pk}/change/").status_code == 200


def test_events_filter_by_type_entity_type_and_date(trail, admin):
    client = console(admin)

    assert listed(client.get(CHANGELIST, {"type__exact": "processed"})) == {str(trail["image"].pk)}
    assert listed(client.get(CHANGELIST, {"entity_type__exact": "device"})) == {
        str(trail["device"].pk)
    }
    Event.objects.filter(pk=trail["device"].pk).update(created_at="2020-01-01T00:00:00Z")
    today_link = re.search(
        r'<a href="(\?created_at__gte=[^"]+)"[^>]*>Today</a>',
        client.get(CHANGELIST).content.decode(),
    ).group(1)
    today = client.get(CHANGELIST + today_link.replace("&amp;", "&"))
    assert listed(today) == {str(trail[name].pk) for name in ("session", "image", "other_site")}


def test_events_are_found_by_entity_id_or_actor_id(trail, admin, reviewer):
    published = image_publish(image=trail["here"].images.get(), actor=reviewer)
    client = console(admin)

    by_entity = client.get(CHANGELIST, {"q": str(trail["image_id"])})
    by_actor = client.get(CHANGELIST, {"q": f"  {str(reviewer.pk).upper()} "})

    publish_event = Event.objects.get(type="published", entity_id=published.pk)
    # The vehicle's new publication version is the reviewer's doing too.
    version_event = Event.objects.get(type="publication_published", entity_id=published.vehicle_id)
    assert listed(by_entity) == {str(trail["image"].pk), str(publish_event.pk)}
    assert listed(by_actor) == {str(publish_event.pk), str(version_event.pk)}
    assert "user: rita@north.example" in by_actor.content.decode()


def test_a_search_that_is_not_an_id_finds_nothing_and_does_not_fail(trail, admin):
    page = console(admin).get(CHANGELIST, {"q": "'; drop table"})

    assert page.status_code == 200
    assert listed(page) == set()


def test_the_session_audit_trail_holds_the_session_and_its_images(trail, reviewer):
    client = console(reviewer)
    link = re.search(
        r'href="(/admin/events_app/event/\?session=[0-9a-f-]+)"',
        client.get(review_url(trail["here"])).content.decode(),
    ).group(1)

    page = client.get(link)

    assert listed(page) == {str(trail["session"].pk), str(trail["image"].pk)}


def test_the_image_audit_trail_holds_the_images_events(trail, reviewer):
    page = console(reviewer).get(CHANGELIST, {"entity_id": str(trail["image_id"])})

    assert listed(page) == {str(trail["image"].pk)}


@pytest.mark.parametrize("who", ["admin", "superuser"])
def test_events_cannot_be_added_changed_or_deleted_by_anyone(trail, admin, who):
    user = admin
    if who == "superuser":
        user = User.objects.create_superuser("root@platform.example", "pw-for-root-1")
    client = console(user)
    event = trail["session"]
    url = f"{CHANGELIST}{event.pk}/"

    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{url}change/", {"type": "published"}).status_code == 403
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [str(event.pk)]}
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.type == "session_created"
