"""Shot-list templates: the dealership default, sessions made from a template, coverage of
its required items, and the policy that blocks publishing below full coverage."""

from __future__ import annotations

import uuid

import pytest

from images_app.models import Image
from images_app.review import image_reject
from images_app.selectors import template_coverage
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession, ShotListTemplate
from sessions_app.shot_lists import shot_list_template_default
from sessions_app.tests.console import console, review_action_url, review_url

pytestmark = pytest.mark.django_db

VIN = "1HGCM82633A004352"


def create(client, site, **fields):
    body = {"site_id": str(site.id), "vehicle": {"vin": VIN}, "mode": "stills", **fields}
    return client.post("/v1/sessions", body, format="json")


def test_an_org_starts_with_the_dealership_default(api, device, org):
    response = api(device).get("/v1/shot-list-templates")
    assert response.status_code == 200
    [template] = response.json()
    assert template["name"] == "Dealership default"
    codes = {item["code"]: item for item in template["items"]}
    for required in ("front_3q_left", "dash", "odometer", "engine_bay", "wheel", "vin_plate"):
        assert codes[required]["required"] is True
    assert {item["category"] for item in template["items"]} == {"exterior", "interior", "detail"}
    assert template["block_publishing_below_full_coverage"] is False
    # Reading again makes no second default.
    api(device).get("/v1/shot-list-templates")
    assert ShotListTemplate.objects.filter(org=org).count() == 1


def test_a_session_named_after_a_template_takes_its_shots(api, device, org, site):
    template = shot_list_template_default(org_id=org.id)
    response = create(api(device), site, shot_list_template_id=str(template.id))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["shot_list"]["stills"] == [item["code"] for item in template.items]
    assert body["shot_list_template_id"] == str(template.id)
    spin = create(api(device), site, mode="walk360", shot_list_template_id=str(template.id)).json()
    assert spin["shot_list"]["walk360"] == {"frame_count": 24}


def test_another_orgs_template_is_not_found(api, device, site, other_org):
    theirs = shot_list_template_default(org_id=other_org.id)
    response = create(api(device), site, shot_list_template_id=str(theirs.id))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert create(api(device), site, shot_list_template_id=str(uuid.uuid4())).status_code == 404
    assert not CaptureSession.objects.exists()


def test_a_template_and_inline_stills_together_are_refused(api, device, org, site):
    template = shot_list_template_default(org_id=org.id)
    response = create(
        api(device),
        site,
        shot_list_template_id=str(template.id),
        shot_list={"stills": ["front"]},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SHOT_LIST_CONFLICT"
    assert not CaptureSession.objects.exists()


def _session(org, site, *, block: bool = False) -> CaptureSession:
    template = ShotListTemplate.objects.create(
        org=org,
        name="Small",
        items=[
            {"code": "front", "label": "Front", "category": "exterior", "required": True},
            {"code": "dash", "label": "Dashboard", "category": "interior", "required": True},
            {"code": "keys", "label": "Keys", "category": "detail", "required": False},
        ],
        block_publishing_below_full_coverage=block,
    )
    return CaptureSession.objects.create(
        org=org,
        site=site,
        vehicle_id=_vehicle(org).id,
        mode="stills",
        shot_list={"stills": ["front", "dash", "keys"]},
        shot_list_template=template,
        status="complete",
    )


def _vehicle(org):
    from sessions_app.tests.factories import VehicleFactory

    return VehicleFactory(org=org)


def shot(session, name, **extra) -> Image:
    return processed(ImageFactory(session=session, shot_name=name), **extra)


def test_coverage_counts_required_items_that_passed_qc_or_were_published(org, site, reviewer):
    session = _session(org, site)
    shot(session, "front", qc={"sharpness": {"status": "fail"}})
    shot(session, "keys")
    coverage = template_coverage(session=session)
    assert (coverage.percent, coverage.missing) == (0, ["front", "dash"])

    from images_app.services import image_publish

    # A reviewer accepts the failing front shot by publishing it.
    image_publish(image=session.images.get(shot_name="front"), actor=reviewer)
    dash = shot(session, "dash")
    image_reject(image=dash, actor=reviewer, reasons=["dirty_vehicle"])
    coverage = template_coverage(session=session)
    assert (coverage.percent, coverage.missing, coverage.rejected) == (50, ["dash"], ["dash"])


def test_a_blocking_template_publishes_nothing_below_full_coverage(api, reviewer, org, site):
    session = _session(org, site, block=True)
    front = shot(session, "front")
    response = api(reviewer).post(f"/v1/images/{front.id}/publish")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]["missing"]) == ("COVERAGE_INCOMPLETE", ["dash"])

    shot(session, "dash")
    assert api(reviewer).post(f"/v1/images/{front.id}/publish").status_code == 200


def test_the_default_policy_only_warns(api, reviewer, org, site):
    session = _session(org, site)
    front = shot(session, "front")
    assert api(reviewer).post(f"/v1/images/{front.id}/publish").status_code == 200
    page = console(reviewer).get(review_url(session)).content.decode()
    assert "Required, not yet covered: Dashboard." in page
    assert "You may publish anyway." in page


def test_the_console_strip_shows_required_optional_missing_and_rejected(org, site, reviewer):
    session = _session(org, site, block=True)
    image_reject(image=shot(session, "front"), actor=reviewer, reasons=["cropped"])
    shot(session, "keys")
    client = console(reviewer)
    page = client.get(review_url(session)).content.decode()
    assert 'class="slot item-rejected required" data-code="front"' in page
    assert 'class="slot item-missing required" data-code="dash"' in page
    assert 'class="slot item-covered optional" data-code="keys"' in page
    assert "0 % of required shots" in page
    assert "Publishing is blocked until every required shot is covered." in page

    client.post(review_action_url(session), {"action": "publish_processed"})
    assert "Held back 1 image(s)" in client.get(review_url(session)).content.decode()
    assert not session.images.filter(status="published").exists()


def test_an_organisation_blocking_coverage_blocks_whatever_its_templates_say(
    api, reviewer, org, site, other_org
):
    from images_app.models import CheckPolicy

    CheckPolicy.objects.create(org=org, coverage=CheckPolicy.Coverage.BLOCK)
    CheckPolicy.objects.create(org=other_org)  # another org's policy changes nothing here
    session = _session(org, site)  # the template itself only warns
    front = shot(session, "front")

    response = api(reviewer).post(f"/v1/images/{front.id}/publish")

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]["missing"]) == ("COVERAGE_INCOMPLETE", ["dash"])
    page = console(reviewer).get(review_url(session)).content.decode()
    assert "Publishing is blocked until every required shot is covered." in page
    shot(session, "dash")
    assert api(reviewer).post(f"/v1/images/{front.id}/publish").status_code == 200


def test_an_organisation_warning_leaves_a_blocking_template_blocking(api, reviewer, org, site):
    from images_app.models import CheckPolicy

    CheckPolicy.objects.create(org=org, coverage=CheckPolicy.Coverage.WARN)
    front = shot(_session(org, site, block=True), "front")

    assert api(reviewer).post(f"/v1/images/{front.id}/publish").status_code == 409


def test_the_coverage_policy_is_set_with_check_policy(org):
    from io import StringIO

    from django.core.management import call_command

    from images_app.models import CheckPolicy

    out = StringIO()
    call_command("check_policy", "--org", str(org.id), "--coverage", "block", stdout=out)

    assert CheckPolicy.objects.get(org=org).coverage == "block"
    assert "coverage block" in out.getvalue()
