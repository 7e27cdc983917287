"""SECURITY.md, "Tenancy and function-level access (OWASP API1, API5)": the access matrix
(docs/security.md), cell by cell, through the API and the console.

Rows: who calls (a device, or a user by role). Columns: whose object it is —
``own`` (the caller captured it, at its site), ``colleague`` (someone else's, at the
caller's site), ``other_site`` (someone else's, at another site of the organisation),
``other_org``. Cells: the status the caller gets. The rule behind every cell is
``accounts.access``; this table is its specification.
"""

from __future__ import annotations

import hashlib

import pytest

from accounts.tests.factories import DeviceFactory, UserFactory
from images_app.models import CheckPolicy, Image
from images_app.review import reshoot_request
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession, ShotListTemplate
from sessions_app.shot_lists import shot_list_template_default
from sessions_app.tests.console import console, review_action_url, review_url
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

ACTORS = ("device", "operator", "reviewer", "admin")
PLACES = ("own", "colleague", "other_site", "other_org")
VIN = "1HGCM82633A004352"

# action → actor → the status for each of PLACES.
API = {
    "view session": {
        "device": (200, 404, 404, 404),
        "operator": (200, 200, 404, 404),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "finish session": {
        "device": (200, 404, 404, 404),
        "operator": (200, 200, 404, 404),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "presign": {
        "device": (200, 403, 403, 404),
        "operator": (200, 403, 404, 404),
        "reviewer": (200, 403, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "view image": {
        "device": (403, 403, 403, 403),
        "operator": (200, 200, 404, 404),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "publish image": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "reject image": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "unpublish image": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "view publication": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "rollback publication": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "withdraw publication": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "request reshoot": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (201, 201, 404, 404),
        "admin": (201, 201, 201, 404),
    },
    "dismiss reshoot": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    # A webhook endpoint belongs to the organisation, not a site: own, colleague's and other
    # site are all an endpoint of the caller's organisation.
    "manage webhook": {
        "device": (403, 403, 403, 403),
        "operator": (403, 403, 403, 403),
        "reviewer": (403, 403, 403, 403),
        "admin": (200, 200, 200, 404),
    },
}

# Creating a session names a site, not a session: own and colleague are the caller's site.
CREATE_SESSION = {
    "device": (201, 201, 201, 404),
    "operator": (201, 201, 403, 404),
    "reviewer": (201, 201, 403, 404),
    "admin": (201, 201, 201, 404),
}

# The console (staff users; devices never sign in there). 302: done, back to the page.
CONSOLE = {
    "open review page": {
        "operator": (200, 200, 404, 404),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "publish processed": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "abandon": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "reprocess": {
        "operator": (403, 403, 404, 404),
        "reviewer": (403, 403, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "reject": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "request missing frames": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "accept reshoot as is": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    # The vehicle's publication page (version history), and its actions.
    "open publication history": {
        "operator": (403, 403, 404, 404),
        "reviewer": (200, 200, 404, 404),
        "admin": (200, 200, 200, 404),
    },
    "roll back publication": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    "withdraw publication": {
        "operator": (403, 403, 404, 404),
        "reviewer": (302, 302, 404, 404),
        "admin": (302, 302, 302, 404),
    },
    # The spin and duplicate checks of the session's organisation (CheckPolicy).
    "edit org's checks": {
        "operator": (403, 403, 403, 403),
        "reviewer": (403, 403, 403, 403),
        "admin": (302, 302, 302, 404),
    },
}
PUBLICATION_CONSOLE = ("open publication history", "roll back publication", "withdraw publication")

# Console pages of the whole organisation (not of a site): the caller's own organisation
# or another. 302: saved or deleted, back to the list.
ORG_PLACES = ("own_org", "other_org")
ORG_CONSOLE = {
    "view shot-list template": {
        "operator": (200, 404),
        "reviewer": (200, 404),
        "admin": (200, 404),
    },
    "change shot-list template": {
        "operator": (403, 404),
        "reviewer": (403, 404),
        "admin": (302, 404),
    },
    "delete shot-list template": {
        "operator": (403, 404),
        "reviewer": (403, 404),
        "admin": (302, 404),
    },
}


@pytest.fixture
def world(org, site, other_site, other_org, other_site_of_other_org):
    people = {
        "device": DeviceFactory(org=org, model="Rig"),
        "operator": UserFactory(org=org, role="operator", sites=[site], is_staff=True),
        "reviewer": UserFactory(org=org, role="reviewer", sites=[site], is_staff=True),
        "admin": UserFactory(org=org, role="admin", is_staff=True),
    }
    colleague = UserFactory(org=org, role="operator", sites=[site, other_site])
    outsider = UserFactory(org=other_org, role="admin")

    def session_for(actor: str, place: str) -> CaptureSession:
        me = people[actor]
        mine = {"device": me} if actor == "device" else {"operator": me}
        where = {
            "own": dict(org=org, site=site, **mine),
            "colleague": dict(org=org, site=site, operator=colleague),
            "other_site": dict(org=org, site=other_site, operator=colleague),
            "other_org": dict(org=other_org, site=other_site_of_other_org, operator=outsider),
        }[place]
        return CaptureSessionFactory(status=CaptureSession.Status.ACTIVE, **where)

    def site_for(place: str):
        return {
            "own": site,
            "colleague": site,
            "other_site": other_site,
            "other_org": other_site_of_other_org,
        }[place]

    return people, session_for, site_for


def _presign_body(session: CaptureSession) -> dict:
    return {
        "session_id": str(session.id),
        "file_name": "front.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(str(session.id).encode()).hexdigest(),
    }


def _call(action: str, client, session: CaptureSession):
    if action == "view session":
        return client.get(f"/v1/sessions/{session.id}")
    if action == "finish session":
        return client.patch(f"/v1/sessions/{session.id}", {"status": "complete"}, format="json")
    if action == "presign":
        return client.post("/v1/presign", _presign_body(session), format="json")
    if action == "request reshoot":
        body = {"session_id": str(session.id), "frame_index": 1, "reasons": ["cropped"]}
        return client.post("/v1/reshoots", body, format="json")
    if action == "dismiss reshoot":
        item = reshoot_request(session=session, actor=None, frame_index=1)
        return client.post(f"/v1/reshoots/{item.id}/dismiss", {}, format="json")
    if action == "manage webhook":
        from webhooks.services import endpoint_create

        endpoint = endpoint_create(org_id=session.org_id, url="https://93.184.215.14/hook")
        return client.get(f"/v1/webhooks/{endpoint.id}")
    image = processed(ImageFactory(session=session, frame_index=0))
    if action == "reject image":
        return client.post(f"/v1/images/{image.id}/reject", {"reasons": ["blurred"]}, format="json")
    if action == "view image":
        return client.get(f"/v1/images/{image.id}")
    if action == "publish image":
        return client.post(f"/v1/images/{image.id}/publish")
    publication = _published(image)
    vehicle = f"/v1/vehicles/{image.vehicle_id}/publication"
    if action == "unpublish image":
        return client.post(f"/v1/images/{image.id}/unpublish")
    if action == "view publication":
        return client.get(vehicle)
    if action == "rollback publication":
        return client.post(f"{vehicle}/rollback", {"version": publication.version}, format="json")
    assert action == "withdraw publication"
    return client.post(f"{vehicle}/withdraw")


def _published(image: Image):
    """Publish the image and make its version live, as the worker would after commit."""
    from images_app.services import images_publish
    from publishing.models import Publication
    from publishing.services import publication_render

    images_publish(images=[image], actor=None)
    publication = Publication.objects.get(vehicle_id=image.vehicle_id)
    publication_render(publication_id=publication.pk, number=publication.version)
    return publication


API_CELLS = [
    (action, actor, place, expected)
    for action, row in API.items()
    for actor in ACTORS
    for place, expected in zip(PLACES, row[actor], strict=True)
]


@pytest.mark.parametrize(("action", "actor", "place", "expected"), API_CELLS)
def test_api_access_matrix(world, api, s3, action, actor, place, expected):
    people, session_for, _ = world
    session = session_for(actor, place)

    response = _call(action, api(people[actor]), session)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error"]["code"] == {403: "FORBIDDEN", 404: "NOT_FOUND"}[expected]


@pytest.mark.parametrize(
    ("actor", "place", "expected"),
    [
        (actor, place, expected)
        for actor in ACTORS
        for place, expected in zip(PLACES, CREATE_SESSION[actor], strict=True)
    ],
)
def test_api_session_create_matrix(world, api, actor, place, expected):
    people, _, site_for = world
    body = {"site_id": str(site_for(place).id), "vehicle": {"vin": VIN}, "mode": "stills"}

    response = api(people[actor]).post("/v1/sessions", body, format="json")

    assert response.status_code == expected, response.content


def _console_call(action: str, client, session: CaptureSession):
    image = processed(ImageFactory(session=session))
    if action in PUBLICATION_CONSOLE:
        from django.urls import reverse

        publication = _published(image)
        if action == "open publication history":
            return client.get(reverse("admin:publishing_publication_change", args=[publication.pk]))
        act = reverse("admin:publishing_publication_act", args=[publication.pk])
        if action == "roll back publication":
            return client.post(act, {"action": "rollback", "version": str(publication.version)})
        return client.post(act, {"action": "withdraw"})
    if action == "open review page":
        return client.get(review_url(session))
    if action == "edit org's checks":
        policy, _ = CheckPolicy.objects.get_or_create(org_id=session.org_id)
        return client.post(
            f"/admin/images_app/checkpolicy/{policy.pk}/change/",
            {
                "coverage": "warn",
                "qc_reshoot": "suggest",
                "spin_health": "block",
                "duplicates": "reject",
                "duplicate_window_days": "30",
            },
        )
    name = {
        "publish processed": "publish_processed",
        "abandon": "abandon",
        "reprocess": "reprocess_selected",
        "reject": "reject_selected",
        "request missing frames": "request_missing",
        "accept reshoot as is": "dismiss_reshoot",
    }[action]
    item = reshoot_request(session=session, actor=None, frame_index=2)
    return client.post(
        review_action_url(session),
        {
            "action": name,
            "image": [str(image.pk)],
            "reasons": ["blurred"],
            "reshoot": str(item.pk),
        },
    )


CONSOLE_CELLS = [
    (action, actor, place, expected)
    for action, row in CONSOLE.items()
    for actor in row
    for place, expected in zip(PLACES, row[actor], strict=True)
]


@pytest.mark.parametrize(("action", "actor", "place", "expected"), CONSOLE_CELLS)
def test_console_access_matrix(world, s3, action, actor, place, expected):
    people, session_for, _ = world
    session = session_for(actor, place)
    before = set(Image.objects.filter(session=session).values_list("status", flat=True))

    response = _console_call(action, console(people[actor]), session)

    assert response.status_code == expected
    if action in PUBLICATION_CONSOLE:
        from publishing.models import Publication

        publication = Publication.objects.get(vehicle_id=session.vehicle_id)
        changed = (publication.version, publication.status) != (1, Publication.Status.LIVE)
        assert changed == (action == "withdraw publication" and expected == 302)
    elif expected != 302 and action != "open review page":
        session.refresh_from_db()
        assert session.status == CaptureSession.Status.ACTIVE  # nothing changed
        assert set(Image.objects.filter(session=session).values_list("status", flat=True)) <= (
            before | {Image.Status.PROCESSED}
        )
        assert not CheckPolicy.objects.exclude(spin_health="warn").exists()


def _org_console_call(action: str, client, template: ShotListTemplate):
    url = f"/admin/sessions_app/shotlisttemplate/{template.pk}"
    if action == "view shot-list template":
        return client.get(f"{url}/change/")
    if action == "delete shot-list template":
        return client.post(f"{url}/delete/", {"post": "yes"})
    assert action == "change shot-list template"
    data = {
        "name": "Renamed",
        "spin_frame_count": "",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-ORDER": "1",
        "items-0-code": "front",
        "items-0-label": "Front",
        "items-0-category": "exterior",
        "items-0-required": "on",
    }
    return client.post(f"{url}/change/", data)


ORG_CONSOLE_CELLS = [
    (action, actor, place, expected)
    for action, row in ORG_CONSOLE.items()
    for actor in row
    for place, expected in zip(ORG_PLACES, row[actor], strict=True)
]


@pytest.mark.parametrize(("action", "actor", "place", "expected"), ORG_CONSOLE_CELLS)
def test_console_org_access_matrix(world, other_org, action, actor, place, expected):
    people, _, _ = world
    owner = people["admin"].org if place == "own_org" else other_org
    template = shot_list_template_default(org_id=owner.id)

    response = _org_console_call(action, console(people[actor]), template)

    assert response.status_code == expected
    if expected != 302:
        template.refresh_from_db()  # still there, unchanged
        assert template.name == "Dealership default"


# --- the docs print this very table -------------------------------------------------------

PLACE_TITLES = ("own", "colleague's, same site", "other site", "other org")
ORG_PLACE_TITLES = ("own org", "other org")


def matrix_markdown() -> str:
    """The matrix as docs/security.md prints it (one table per door)."""

    def table(rows: dict[str, dict[str, tuple[int, ...]]], titles=PLACE_TITLES) -> list[str]:
        lines = ["| action | caller | " + " | ".join(titles) + " |"]
        lines.append("|---|---|" + "---|" * len(titles))
        for action, by_actor in rows.items():
            for actor, cells in by_actor.items():
                lines.append(f"| {action} | {actor} | " + " | ".join(map(str, cells)) + " |")
        return lines

    api = {**API, "create session (at a site)": CREATE_SESSION}
    return "\n".join(
        [
            "API:",
            "",
            *table(api),
            "",
            "Console:",
            "",
            *table(CONSOLE),
            "",
            "Console, pages of the whole organisation:",
            "",
            *table(ORG_CONSOLE, ORG_PLACE_TITLES),
        ]
    )


def test_the_docs_print_this_matrix():
    from pathlib import Path

    from django.conf import settings

    docs = (Path(settings.BASE_DIR) / "docs" / "security.md").read_text()
    assert matrix_markdown() in docs, "docs/security.md: paste tests/security matrix_markdown()"
