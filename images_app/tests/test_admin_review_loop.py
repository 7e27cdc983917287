"""The console's side of the review loop: rejecting from the review page, the reshoots
beside their originals, the queue's reshoot column and filter, and what a new reviewer
noticed (dates, the shot list, device names, the favicon)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from images_app.models import Image, ReshootItem
from images_app.review import image_reject
from images_app.rules import reject_reasons_suggested
from images_app.tests.image_factories import ImageFactory, processed, signed
from sessions_app.models import CaptureSession
from sessions_app.tests.console import console, review_action_url, review_url
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

CHANGELIST = "/admin/sessions_app/capturesession/"


@pytest.fixture
def spin(org, site) -> CaptureSession:
    return CaptureSessionFactory(org=org, site=site, status=CaptureSession.Status.COMPLETE)


def frame(session, index, **extra) -> Image:
    return processed(
        ImageFactory(session=session, frame_index=index, angle_deg=index * 15), **extra
    )


def test_a_reviewer_rejects_selected_images_with_reasons_and_a_note(reviewer, spin):
    first, second = frame(spin, 1), frame(spin, 2)
    client = console(reviewer)
    response = client.post(
        review_action_url(spin),
        {
            "action": "reject_selected",
            "image": [str(first.pk), str(second.pk)],
            "reasons": ["blurred", "glare"],
            "note": "Rig shook",
            "next": str(second.pk),
        },
    )
    assert response.status_code == 302
    # Back on the page, at the image the keyboard goes to next.
    assert response.url == f"{review_url(spin)}#image-{second.pk}"
    for image in (first, second):
        image.refresh_from_db()
        assert (image.status, image.reject_reasons, image.reject_note) == (
            "rejected",
            ["blurred", "glare"],
            "Rig shook",
        )
    assert Event.objects.filter(type=Event.Type.REJECTED, actor_id=reviewer.pk).count() == 2
    assert ReshootItem.objects.filter(session=spin, status="open").count() == 2
    page = client.get(review_url(spin)).content.decode()
    assert "Rejected 15°, 30° (blurred, glare / reflection); a reshoot is requested." in page


def test_rejecting_without_a_reason_changes_nothing(reviewer, spin):
    image = frame(spin, 1)
    client = console(reviewer)
    client.post(review_action_url(spin), {"action": "reject_selected", "image": [str(image.pk)]})
    image.refresh_from_db()
    assert image.status == "processed"
    assert "Choose at least one reason to reject." in client.get(review_url(spin)).content.decode()


def test_the_review_page_shows_each_reshoot_beside_its_original(reviewer, spin):
    original = frame(spin, 3)
    image_reject(image=original, actor=reviewer, reasons=["wrong_angle"], note="Too low")
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert 'class="reshoot-pair reshoot-open"' in page
    assert "Waiting for the device" in page
    assert "Too low" in page

    replacement = frame(spin, 3, replaces=original)
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert f'class="reshoot-replacement" data-image-id="{replacement.pk}"' in page
    assert "Waiting for the device" not in page


def test_qc_preselects_the_likely_reasons():
    assert reject_reasons_suggested({"sharpness": {"status": "fail"}}) == ["blurred"]
    dark = {"exposure": {"status": "warn", "clipped_shadows": 0.3, "clipped_highlights": 0.0}}
    bright = {"exposure": {"status": "fail", "clipped_shadows": 0.0, "clipped_highlights": 0.2}}
    assert reject_reasons_suggested(dark) == ["underexposed"]
    assert reject_reasons_suggested(bright) == ["overexposed"]
    assert reject_reasons_suggested({"sharpness": {"status": "pass"}}) == []
    assert reject_reasons_suggested(None) == []


def test_a_flagged_duplicate_and_a_spin_frame_out_of_place_preselect_their_reasons():
    assert reject_reasons_suggested(None, duplicate=True) == ["duplicate"]
    assert reject_reasons_suggested(None, spin_findings={"out_of_order"}) == ["wrong_angle"]
    assert reject_reasons_suggested(None, spin_findings=["duplicate"]) == ["wrong_angle"]
    # A gap is not this frame's fault: the frame after it is not the wrong angle.
    assert reject_reasons_suggested(None, spin_findings=["skipped_angles"]) == []
    blurred_copy = reject_reasons_suggested(
        {"sharpness": {"status": "fail"}}, duplicate=True, spin_findings=["out_of_order"]
    )
    assert blurred_copy == ["blurred", "wrong_angle", "duplicate"]


def test_the_review_page_preselects_duplicate_and_wrong_angle_from_the_checks(reviewer, spin):
    swapped, copied, fine = frame(spin, 1), frame(spin, 2), frame(spin, 3)
    for image, state in ((swapped, ""), (copied, "warn"), (fine, "")):
        signed(image, phash=image.frame_index, band3=image.frame_index, duplicate_state=state)
    finding = {"type": "out_of_order", "frame_index": 1, "angle": 15.0, "message": "…"}
    CaptureSession.objects.filter(pk=spin.pk).update(
        spin_health={
            "status": "unhealthy",
            "direction": "clockwise",
            "frames": 3,
            "findings": [{**finding, "image_id": str(swapped.pk)}],
        }
    )
    page = console(reviewer).get(review_url(spin)).content.decode()
    suggested = dict(re.findall(r'data-image-id="([^"]+)"[^>]*data-suggested="([^"]*)"', page))
    assert suggested[str(swapped.pk)] == "wrong_angle"
    assert suggested[str(copied.pk)] == "duplicate"
    assert suggested[str(fine.pk)] == ""


def test_the_review_page_offers_the_suggestions_and_the_keys(reviewer, spin):
    frame(spin, 1, qc={"sharpness": {"score": 20.0, "status": "fail"}})
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert 'data-suggested="blurred"' in page
    assert 'data-reject-keys="b=blurred u=underexposed' in page
    assert 'data-publish-key="p"' in page


def test_an_operator_gets_no_reject_tools(operator, org, site):
    session = CaptureSessionFactory(org=org, site=site, operator=operator)
    frame(session, 1)
    page = console(operator).get(review_url(session)).content.decode()
    assert 'id="reject-tools"' not in page
    assert "data-reject-keys" not in page


def test_the_queue_counts_open_reshoots_and_filters_sessions_needing_one(reviewer, spin, org, site):
    image_reject(image=frame(spin, 1), actor=reviewer, reasons=["cropped"])
    untouched = CaptureSessionFactory(org=org, site=site)
    client = console(reviewer)
    page = client.get(CHANGELIST).content.decode()
    assert '<strong class="reshoot-count">1</strong>' in page
    needing = client.get(CHANGELIST, {"reshoot": "yes"}).content.decode()
    assert str(spin.pk) in needing
    assert str(untouched.pk) not in needing


def test_the_session_details_use_one_date_format_and_name_the_shot_list(reviewer, spin):
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert "24-frame spin" in page
    assert "frame_count" not in page.split('id="review"')[1].split("<script")[0]
    # Django's default "Dec. 4, 2026, 10:00 p.m." is gone: dates read 2026-12-04 22:00.
    assert not re.search(r"[A-Z][a-z]{2}\. \d{1,2}, \d{4}", page)


def test_a_simulated_device_is_named_without_double_parentheses(org):
    rig = DeviceFactory(org=org, platform="edge", model="Turntable Rig (simulated)")
    assert str(rig) == "Turntable Rig (simulated) · edge"


def test_the_console_has_a_favicon(client):
    page = client.get("/admin/login/").content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*imaging/favicon\.svg"', page)
    assert finders.find("imaging/favicon.svg")


def test_photographer_stats_give_first_time_acceptance_and_reasons(reviewer, org, site):
    rig = DeviceFactory(org=org, platform="edge", model="Rig A")
    session = CaptureSessionFactory(org=org, site=site, device=rig, status="complete")
    from images_app.services import image_publish

    for index in range(3):
        image_publish(image=frame(session, index), actor=reviewer)
    image_reject(image=frame(session, 3), actor=reviewer, reasons=["blurred", "glare"])
    frame(session, 4)  # not reviewed yet: not counted
    client = console(reviewer)

    page = client.get(CHANGELIST + "photographers/").content.decode()
    assert "Rig A · edge" in page
    assert "75 %" in page
    assert "Blurred (1), Glare / reflection (1)" in page

    csv_response = client.get(CHANGELIST + "photographers/", {"days": "7", "format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    lines = csv_response.content.decode().splitlines()
    assert lines[0] == "kind,id,name,reviewed,accepted_first_time,acceptance_rate,reasons"
    assert lines[1] == f"device,{rig.pk},Rig A · edge,4,3,0.750,blurred 1; glare 1"


def test_photographer_stats_see_only_the_viewers_sessions(reviewer, org, other_site, other_org):
    hidden = CaptureSessionFactory(
        org=org, site=other_site, device=DeviceFactory(org=org, model="Back lot rig")
    )
    image_reject(image=frame(hidden, 1), actor=reviewer, reasons=["cropped"])
    theirs = CaptureSessionFactory(org=other_org, device=DeviceFactory(org=other_org, model="X"))
    frame(theirs, 1, status="published")
    page = console(reviewer).get(CHANGELIST + "photographers/").content.decode()
    assert "Back lot rig" not in page
    assert "Nothing reviewed in this period." in page


def test_a_csv_name_cannot_become_a_formula(admin, org, site):
    rig = DeviceFactory(org=org, platform="ios", model="=HYPERLINK(1)")
    session = CaptureSessionFactory(org=org, site=site, device=rig)
    frame(session, 1, status="published")
    body = console(admin).get(CHANGELIST + "photographers/", {"format": "csv"}).content.decode()
    assert ",'=HYPERLINK(1) · ios," in body


def test_the_queue_puts_sessions_waiting_for_review_first_oldest_first(reviewer, org, site):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    done = CaptureSessionFactory(org=org, site=site, started_at=now - timedelta(days=3))
    frame(done, 1, status="published")
    newer = CaptureSessionFactory(org=org, site=site, started_at=now - timedelta(hours=1))
    frame(newer, 1)
    older = CaptureSessionFactory(org=org, site=site, started_at=now - timedelta(days=1))
    frame(older, 1)
    page = console(reviewer).get(CHANGELIST).content.decode()
    order = [page.index(str(s.pk)) for s in (older, newer, done)]
    assert order == sorted(order)
    # Each row has its hero thumbnail and coverage.
    assert page.count('class="hero-thumb"') == 3
    assert ">1/24<" in page


def test_the_console_spells_organisation_one_way(admin):
    page = console(admin).get("/admin/").content.decode()
    assert "Organisations" in page
    assert "Organizations" not in page and "Organization<" not in page


def test_a_reviewer_asks_the_device_for_the_missing_frames(reviewer, spin):
    for index in range(22):
        frame(spin, index)
    client = console(reviewer)
    assert "Ask the device for the missing (2)" in client.get(review_url(spin)).content.decode()
    client.post(review_action_url(spin), {"action": "request_missing", "note": "Rig stopped"})
    items = ReshootItem.objects.filter(session=spin, status="open").order_by("frame_index")
    assert [(i.frame_index, i.angle_deg, i.image_id, i.note) for i in items] == [
        (22, 330, None, "Rig stopped"),
        (23, 345, None, "Rig stopped"),
    ]
    assert "Asked the device for 330°, 345°." in client.get(review_url(spin)).content.decode()
