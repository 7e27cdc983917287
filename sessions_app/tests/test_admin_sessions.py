"""The sessions changelist and the review page: columns, filters, scoping, actions, roles."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages

from accounts.models import User
from accounts.tests.factories import DeviceFactory, UserFactory
from events_app.models import Event
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.console import (
    QC_EXPOSURE_WARN,
    changelist_rows,
    console,
    review_action_url,
    review_url,
    spin_session,
    statuses,
    stills_session,
)
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory, images_add

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/sessions_app/capturesession/"


def listed(response) -> list[str]:
    """The session ids a changelist page shows, in order."""
    return re.findall(
        r'<input type="checkbox" name="_selected_action" value="([0-9a-f-]{36})"',
        response.content.decode(),
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- the changelist -----------------------------------------------------------------------


def test_the_changelist_shows_vehicle_site_mode_status_capturer_and_counts(
    org, site, reviewer, operator
):
    vehicle = VehicleFactory(org=org, vin="1HGCM82633A004352", stock="STK-0042")
    session = CaptureSessionFactory(
        org=org, site=site, vehicle=vehicle, operator=operator, status="complete"
    )
    for status in ("processed", "processed", "failed", "published", "pending"):
        image = ImageFactory(session=session)
        if status in ("processed", "published"):
            processed(image, status=status)
        else:
            Image.objects.filter(pk=image.pk).update(status=status)
    failing = ImageFactory(session=session)
    processed(failing, qc={"sharpness": {"score": 12.0, "status": "fail"}})

    page = console(reviewer).get(CHANGELIST)

    assert page.status_code == 200
    [row] = changelist_rows(page)
    # checkbox, hero thumbnail, vehicle (VIN / stock, mode), status, images (processed,
    # published, failed), coverage, QC failures, open reshoots, site / captured by, started
    assert row[2:9] == [
        "1HGCM82633A004352 STK-0042 studio360",
        "Complete",
        "6 3 processed · 1 published · 1 failed",
        "0/24",
        "1",
        "0",
        "Main Studio Otto Operator",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[9])


def test_a_session_a_device_captured_names_the_device(org, site, reviewer):
    rig = DeviceFactory(org=org, platform="edge", model="Turntable rig 2")
    CaptureSessionFactory(org=org, site=site, device=rig)

    page = console(reviewer).get(CHANGELIST)

    assert "Turntable rig 2 · edge" in page.content.decode()


def test_the_changelist_takes_the_same_queries_for_2_or_40_sessions(
    org, site, reviewer, django_assert_num_queries
):
    def fill(count: int) -> None:
        for _ in range(count):
            session = CaptureSessionFactory(org=org, site=site, operator=reviewer)
            images_add(session, 3)

    client = console(reviewer)
    client.get(CHANGELIST)  # warm the content-type cache
    for total in (2, 40):
        fill(total - CaptureSession.objects.count())
        # The Django session, the user, the site filter's choices, the count, the page
        # (vehicle, site, operator and device joined; image counts as subqueries).
        with django_assert_num_queries(5):
            page = client.get(CHANGELIST)
        assert len(listed(page)) == total


def test_sessions_are_found_by_part_of_a_vin_or_stock_number(org, site, reviewer):
    wanted = CaptureSessionFactory(
        org=org, site=site, vehicle=VehicleFactory(org=org, vin="JTNKHMBX7K1012345", stock="A-77")
    )
    CaptureSessionFactory(org=org, site=site)
    client = console(reviewer)

    assert listed(client.get(CHANGELIST, {"q": "k1012345"})) == [str(wanted.pk)]
    assert listed(client.get(CHANGELIST, {"q": "A-77"})) == [str(wanted.pk)]


def test_the_qc_failures_filter_lists_sessions_with_a_failing_image(org, site, reviewer):
    failing = spin_session(org=org, site=site, frame_count=3, qc_fail=[1])
    spin_session(org=org, site=site, frame_count=3)

    page = console(reviewer).get(CHANGELIST, {"qc_failures": "yes"})

    assert listed(page) == [str(failing.pk)]


def test_ready_to_publish_means_complete_with_processed_images_and_nothing_in_flight(
    org, site, reviewer
):
    ready = spin_session(org=org, site=site, frame_count=2)
    published = spin_session(org=org, site=site, frame_count=1)
    Image.objects.filter(session=published).update(status=Image.Status.PUBLISHED)
    still_uploading = spin_session(org=org, site=site, frame_count=2)
    ImageFactory(session=still_uploading)  # pending
    spin_session(org=org, site=site, frame_count=2, status=CaptureSession.Status.ACTIVE)

    page = console(reviewer).get(CHANGELIST, {"ready": "yes"})

    assert listed(page) == [str(ready.pk)]


def test_status_mode_and_site_filters_narrow_the_list(org, site, other_site, admin):
    abandoned = CaptureSessionFactory(org=org, site=site, status="abandoned")
    stills = CaptureSessionFactory(org=org, site=site, mode="stills", shot_list={})
    at_back_lot = CaptureSessionFactory(org=org, site=other_site)
    client = console(admin)

    assert listed(client.get(CHANGELIST, {"status__exact": "abandoned"})) == [str(abandoned.pk)]
    assert listed(client.get(CHANGELIST, {"mode__exact": "stills"})) == [str(stills.pk)]
    assert listed(client.get(CHANGELIST, {"site": str(other_site.pk)})) == [str(at_back_lot.pk)]


def test_the_site_filter_offers_only_the_users_sites(org, site, other_site, reviewer, outsider):
    page = console(reviewer).get(CHANGELIST).content.decode()

    assert f"?site={site.pk}" in page
    assert f"?site={other_site.pk}" not in page
    assert "South Studio" not in page


# --- scoping --------------------------------------------------------------------------------


def test_a_reviewer_sees_only_the_sessions_of_their_sites(
    org, site, other_site, reviewer, outsider
):
    mine = CaptureSessionFactory(org=org, site=site)
    CaptureSessionFactory(org=org, site=other_site)
    CaptureSessionFactory(org=outsider.org, site=outsider.sites.get())

    assert listed(console(reviewer).get(CHANGELIST)) == [str(mine.pk)]


def test_an_org_admin_sees_every_site_of_their_org_and_nothing_else(
    org, site, other_site, admin, outsider
):
    at_site = CaptureSessionFactory(org=org, site=site)
    at_back_lot = CaptureSessionFactory(org=org, site=other_site)
    CaptureSessionFactory(org=outsider.org, site=outsider.sites.get())

    assert set(listed(console(admin).get(CHANGELIST))) == {str(at_site.pk), str(at_back_lot.pk)}


def test_a_superuser_sees_every_organisation(org, site, outsider):
    platform = User.objects.create_superuser("root@platform.example", "pw-for-root-1")
    ours = CaptureSessionFactory(org=org, site=site)
    theirs = CaptureSessionFactory(org=outsider.org, site=outsider.sites.get())

    assert set(listed(console(platform).get(CHANGELIST))) == {str(ours.pk), str(theirs.pk)}


def test_another_orgs_session_is_a_404_by_url(org, site, outsider):
    session = spin_session(org=org, site=site, frame_count=2)

    page = console(outsider).get(review_url(session))

    assert page.status_code == 404
    assert session.vehicle.vin not in page.content.decode()


def test_a_missing_or_malformed_session_id_is_a_404_too(reviewer):
    client = console(reviewer)

    assert (
        client.get(f"{CHANGELIST}7d0b3a52-5b57-4a34-b5d6-1ef1bbd1f0a1/change/").status_code == 404
    )
    assert client.get(f"{CHANGELIST}not-a-uuid/change/").status_code == 404


def test_a_reviewer_gets_404_for_a_session_at_another_site_of_the_org(org, other_site, reviewer):
    session = CaptureSessionFactory(org=org, site=other_site)

    assert console(reviewer).get(review_url(session)).status_code == 404
    assert console(reviewer).get(f"{CHANGELIST}{session.pk}/history/").status_code == 404


def test_a_staff_user_without_an_organisation_sees_nothing(org, site):
    loner = UserFactory(org=None, role=User.Role.ADMIN, email="loner@example.com")
    session = CaptureSessionFactory(org=org, site=site)
    client = console(loner)

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(review_url(session)).status_code == 403


# --- the review page ----------------------------------------------------------------------


def test_the_review_page_shows_the_images_in_the_apis_order_with_qc_badges(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=6, qc_fail=[2])
    warn = Image.objects.get(session=session, frame_index=4)
    warn.qc = QC_EXPOSURE_WARN
    warn.save(update_fields=["qc"])

    page = console(reviewer).get(review_url(session)).content.decode()

    labels = re.findall(r'<strong class="card-label">([^<]+)</strong>', page)
    assert labels == ["0°", "60°", "120°", "180°", "240°", "300°"]
    assert "Sharpness 41" in page and "Sharpness 450" in page
    assert "Exposure warn" in page and "Exposure pass" in page
    assert page.count('class="image-card status-processed qc-fail"') == 1


def test_the_spin_viewer_gets_one_frame_per_captured_angle(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=24, missing=[7, 8])

    page = console(reviewer).get(review_url(session))

    frames = page.context["spin_frames"]
    assert [frame["angle"] for frame in frames] == [
        a for a in range(0, 360, 15) if a not in (105, 120)
    ]
    assert 'id="spin-viewer"' in page.content.decode()
    assert 'id="spin-slider"' in page.content.decode()


def test_the_coverage_strip_names_the_missing_angles(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=24, missing=[7, 8])

    page = console(reviewer).get(review_url(session)).content.decode()

    summary = re.search(r'id="spin-coverage-summary">(.*?)</p>', page, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", "", summary).split())
    assert text == "22 of 24 angles captured. Missing 2: 105°, 120°."
    assert page.count('class="slot slot-missing"') == 2


def test_a_retake_stands_for_its_angle_and_a_failed_upload_counts_as_failed(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=4, missing=[3])
    retake = ImageFactory(session=session, frame_index=1, angle_deg=90)
    processed(retake)
    broken = ImageFactory(session=session, frame_index=3, angle_deg=270)
    Image.objects.filter(pk=broken.pk).update(status=Image.Status.FAILED, error="corrupt_image")

    page = console(reviewer).get(review_url(session))

    frames = {frame["angle"]: frame["image_id"] for frame in page.context["spin_frames"]}
    assert frames[90] == str(retake.pk)
    assert 270 not in frames
    assert [slot.label for slot in page.context["spin"].failed] == ["270°"]


def test_a_stills_session_names_the_missing_shots(org, site, reviewer):
    session = stills_session(
        org=org,
        site=site,
        shots=["front_3q", "rear_3q", "interior", "dash"],
        taken=["rear_3q", "dash"],
    )

    page = console(reviewer).get(review_url(session)).content.decode()

    summary = re.search(r'id="stills-coverage-summary">(.*?)</p>', page, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", "", summary).split())
    assert text == "2 of 4 shots taken. Missing: front_3q, interior."
    assert 'id="spin-viewer"' not in page
    assert re.findall(r'<strong class="card-label">([^<]+)</strong>', page) == ["rear_3q", "dash"]


def test_thumbnails_are_short_lived_signed_get_urls(org, site, reviewer, settings):
    settings.THUMB_URL_TTL_SECONDS = 300
    session = spin_session(org=org, site=site, frame_count=1)
    image = session.images.get()

    page = console(reviewer).get(review_url(session))

    thumb = re.search(
        r'<button type="button" class="thumb"[^>]*>\s*<img src="([^"]+)"', page.content.decode()
    ).group(1)
    url = urlsplit(thumb.replace("&amp;", "&"))
    query = parse_qs(url.query)
    assert url.path.endswith(image.thumb_keys["600"])
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["330"]  # 300 s from the start of a 30 s window
    assert "X-Amz-Signature" in query
    preview = page.context["preview_data"][str(image.pk)]
    assert image.thumb_keys["1200"] in preview["url"]


def test_the_preview_carries_exif_dimensions_and_qc(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1)
    image = session.images.get()

    preview = console(reviewer).get(review_url(session)).context["preview_data"][str(image.pk)]

    assert preview["exif"] == {"iso": 100, "shutter": "1/250", "aperture": "f/1.8"}
    assert (preview["width"], preview["height"]) == (4032, 3024)
    assert preview["qc"]["sharpness"] == {"score": 450.0, "status": "pass"}
    assert preview["events_url"] == f"/admin/events_app/event/?entity_id={image.pk}"


def test_the_review_page_links_the_sessions_audit_trail(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1)

    page = console(reviewer).get(review_url(session)).content.decode()

    assert f'href="/admin/events_app/event/?session={session.pk}"' in page


def test_the_review_page_takes_the_same_queries_for_2_or_24_images(
    org, site, reviewer, django_assert_num_queries
):
    small = spin_session(org=org, site=site, frame_count=2)
    large = spin_session(org=org, site=site, frame_count=24)
    client = console(reviewer)
    client.get(review_url(small))  # warm the content-type cache
    for session in (small, large):
        # The Django session, the user, the session with its joins and counts, its images,
        # its reshoot items, the images flagged as duplicates.
        with django_assert_num_queries(6):
            assert client.get(review_url(session)).status_code == 200


# --- who may do what on the review page ---------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_and_admins_get_the_publish_buttons(org, site, role, request):
    user = request.getfixturevalue(role)
    session = spin_session(org=org, site=site, frame_count=2)

    page = console(user).get(review_url(session)).content.decode()

    assert 'id="publish-selected"' in page
    assert 'id="publish-processed"' in page
    assert ('id="reprocess-selected"' in page) == (role == "admin")


def test_an_operator_sees_the_images_but_no_buttons(org, site, operator):
    session = spin_session(org=org, site=site, frame_count=2)

    page = console(operator).get(review_url(session)).content.decode()

    assert page.count('class="image-card') == 2
    assert 'id="review-toolbar"' not in page
    assert 'name="image"' not in page


@pytest.mark.parametrize("action", ["publish_selected", "publish_processed", "abandon"])
def test_an_operators_forged_post_is_refused_and_changes_nothing(org, site, operator, action):
    session = spin_session(org=org, site=site, frame_count=2, status="active")
    image = session.images.first()

    response = console(operator).post(
        review_action_url(session), {"action": action, "image": [str(image.pk)]}
    )

    assert response.status_code == 403
    assert set(statuses(session).values()) == {"processed"}
    session.refresh_from_db()
    assert session.status == "active"
    assert not Event.objects.filter(type__in=["published", "session_finished"]).exists()


def test_a_reviewers_forged_reprocess_is_refused(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1)

    response = console(reviewer).post(
        review_action_url(session),
        {"action": "reprocess_selected", "image": [str(session.images.get().pk)]},
    )

    assert response.status_code == 403
    assert statuses(session) == {0: "processed"}


def test_the_review_actions_of_another_orgs_session_are_a_404(org, site, outsider):
    session = spin_session(org=org, site=site, frame_count=1)

    response = console(outsider).post(
        review_action_url(session),
        {"action": "publish_processed"},
    )

    assert response.status_code == 404
    assert statuses(session) == {0: "processed"}


def test_the_review_actions_answer_only_posts(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1)

    assert console(reviewer).get(review_action_url(session)).status_code == 405


# --- publishing from the review page ------------------------------------------------------


def test_a_reviewer_publishes_selected_images_and_the_events_name_the_reviewer(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=4)
    chosen = list(session.images.filter(frame_index__in=[0, 2]))

    response = console(reviewer).post(
        review_action_url(session),
        {"action": "publish_selected", "image": [str(image.pk) for image in chosen]},
        follow=True,
    )

    assert response.redirect_chain == [(review_url(session), 302)]
    assert "Published 2 image(s)." in messages_of(response)
    assert statuses(session) == {
        0: "published",
        90: "processed",
        180: "published",
        270: "processed",
    }
    published = Event.objects.filter(type=Event.Type.PUBLISHED)
    assert {(e.entity_id, e.actor_type, e.actor_id) for e in published} == {
        (image.pk, "user", reviewer.pk) for image in chosen
    }
    assert set(Image.objects.filter(status="published").values_list("published_by", flat=True)) == {
        reviewer.pk
    }


def test_selecting_another_sessions_image_publishes_nothing_of_it(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1)
    elsewhere = spin_session(org=org, site=site, frame_count=1)

    response = console(reviewer).post(
        review_action_url(session),
        {"action": "publish_selected", "image": [str(elsewhere.images.get().pk), "junk"]},
        follow=True,
    )

    assert "Select the images to publish first." in messages_of(response)
    assert statuses(elsewhere) == {0: "processed"}


def test_publishing_every_processed_image_skips_and_names_qc_failures(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=8, qc_fail=[3, 5], missing=[7])
    pending = ImageFactory(session=session, frame_index=7, angle_deg=315)

    response = console(reviewer).post(
        review_action_url(session), {"action": "publish_processed"}, follow=True
    )

    said = messages_of(response)
    assert "Published 5 image(s)." in said
    assert (
        "Skipped 2 image(s) that failed QC: 135° (sharpness), 225° (sharpness). Look at them, "
        "then publish them with “Also publish images that failed QC” ticked." in said
    )
    assert statuses(session) == {
        0: "published",
        45: "published",
        90: "published",
        135: "processed",
        180: "published",
        225: "processed",
        270: "published",
        315: "pending",
    }
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_publishing_every_processed_image_includes_qc_failures_once_confirmed(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=3, qc_fail=[1])

    response = console(reviewer).post(
        review_action_url(session),
        {"action": "publish_processed", "include_qc_failures": "on"},
        follow=True,
    )

    assert "Published 3 image(s)." in messages_of(response)
    assert set(statuses(session).values()) == {"published"}


def test_publishing_selected_images_reports_what_could_not_be_published(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=3)
    Image.objects.filter(session=session, frame_index=1).update(status="failed")
    Image.objects.filter(session=session, frame_index=2).update(status="published")

    response = console(reviewer).post(
        review_action_url(session),
        {"action": "publish_selected", "image": [str(i.pk) for i in session.images.all()]},
        follow=True,
    )

    said = messages_of(response)
    assert said == [
        "Published 1 image(s).",
        "Left 1 image(s) that are not processed: 120° (failed).",
        "1 image(s) were already published.",
    ]


def test_an_admin_reprocesses_selected_images(org, site, admin, s3):
    session = spin_session(org=org, site=site, frame_count=2)
    Image.objects.filter(session=session, frame_index=1).update(status="failed", error="timeout")
    chosen = [str(image.pk) for image in session.images.all()]

    response = console(admin).post(
        review_action_url(session), {"action": "reprocess_selected", "image": chosen}, follow=True
    )

    assert "Sent 2 image(s) back for processing." in messages_of(response)
    # No broker in tests: the task ran after commit, found no object in the store and left
    # both images pending, waiting for one.
    assert set(statuses(session).values()) == {"pending"}
    requested = Event.objects.filter(type=Event.Type.REPROCESS_REQUESTED)
    assert {(e.actor_type, e.actor_id) for e in requested} == {("user", admin.pk)}


def test_a_reviewer_marks_an_active_session_abandoned(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1, status="active")

    response = console(reviewer).post(
        review_action_url(session), {"action": "abandon"}, follow=True
    )

    assert "The session is marked abandoned." in messages_of(response)
    session.refresh_from_db()
    assert session.status == "abandoned"
    finished = Event.objects.get(type=Event.Type.SESSION_FINISHED)
    assert (finished.actor_type, finished.actor_id) == ("user", reviewer.pk)
    assert finished.meta == {"status": "abandoned", "completed_at_source": "server"}


def test_a_finished_session_is_not_abandoned_again(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=1, status="complete")

    response = console(reviewer).post(
        review_action_url(session), {"action": "abandon"}, follow=True
    )

    assert messages_of(response) == [
        "The session is already complete; a finished session does not change."
    ]
    session.refresh_from_db()
    assert session.status == "complete"
    assert 'id="abandon-session"' not in response.content.decode()


# --- changelist actions -------------------------------------------------------------------


def changelist_action(client, action: str, sessions):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(session.pk) for session in sessions]},
        follow=True,
    )


def test_the_changelist_publishes_every_processed_image_of_the_selected_sessions(
    org, site, reviewer
):
    clean = spin_session(org=org, site=site, frame_count=2)
    flawed = spin_session(org=org, site=site, frame_count=2, qc_fail=[1])

    response = changelist_action(console(reviewer), "publish_processed", [clean, flawed])

    said = messages_of(response)
    assert said[0] == "Published 3 image(s)."
    assert said[1].startswith(
        f"Skipped images that failed QC in: {flawed.vehicle} (180° (sharpness))"
    )
    assert statuses(clean) == {0: "published", 180: "published"}
    assert statuses(flawed) == {0: "published", 180: "processed"}


def test_the_changelist_marks_active_sessions_abandoned(org, site, reviewer):
    active = spin_session(org=org, site=site, frame_count=1, status="active")
    done = spin_session(org=org, site=site, frame_count=1, status="complete")

    response = changelist_action(console(reviewer), "mark_abandoned", [active, done])

    assert messages_of(response) == [
        "Marked 1 session(s) abandoned. 1 were already finished and did not change."
    ]
    active.refresh_from_db()
    done.refresh_from_db()
    assert (active.status, done.status) == ("abandoned", "complete")


def test_an_operator_has_no_changelist_actions_and_a_forged_one_is_refused(org, site, operator):
    session = spin_session(org=org, site=site, frame_count=1)
    client = console(operator)

    assert 'name="action"' not in client.get(CHANGELIST).content.decode()
    response = client.post(
        CHANGELIST, {"action": "publish_processed", "_selected_action": [str(session.pk)]}
    )

    assert response.status_code == 403
    assert statuses(session) == {0: "processed"}


def test_a_changelist_action_ignores_sessions_the_user_cannot_see(
    org, site, other_site, reviewer, outsider
):
    theirs = spin_session(org=outsider.org, site=outsider.sites.get(), frame_count=1)
    back_lot = spin_session(org=org, site=other_site, frame_count=1)

    changelist_action(console(reviewer), "publish_processed", [theirs, back_lot])

    assert statuses(theirs) == {0: "processed"}
    assert statuses(back_lot) == {0: "processed"}


# --- vehicles -----------------------------------------------------------------------------


def test_vehicles_are_read_only_and_scoped_to_the_sessions_a_reviewer_sees(
    org, site, other_site, reviewer
):
    seen = CaptureSessionFactory(org=org, site=site).vehicle
    unseen = CaptureSessionFactory(org=org, site=other_site).vehicle
    client = console(reviewer)

    page = client.get("/admin/sessions_app/vehicle/").content.decode()

    assert seen.vin in page and unseen.vin not in page
    assert client.get(f"/admin/sessions_app/vehicle/{unseen.pk}/change/").status_code == 404
    assert (
        client.post(f"/admin/sessions_app/vehicle/{seen.pk}/change/", {"vin": "X"}).status_code
        == 403
    )
    assert client.get("/admin/sessions_app/vehicle/add/").status_code == 403


def test_a_vehicle_links_to_its_sessions(org, site, reviewer):
    session = CaptureSessionFactory(org=org, site=site)
    CaptureSessionFactory(org=org, site=site)
    client = console(reviewer)
    page = client.get("/admin/sessions_app/vehicle/").content.decode()
    link = re.search(rf'href="([^"]+\?vehicle={session.vehicle_id})"', page).group(1)

    assert listed(client.get(link)) == [str(session.pk)]
