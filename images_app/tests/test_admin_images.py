"""The images changelist and image pages: thumbnails, filters, read-only fields, actions."""

from __future__ import annotations

import re

import pytest

from events_app.models import Event
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.console import (
    QC_EXPOSURE_WARN,
    QC_SHARPNESS_FAIL,
    console,
    spin_session,
    statuses,
    stills_session,
)
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/images_app/image/"


def image_url(image: Image) -> str:
    return f"{CHANGELIST}{image.pk}/change/"


def listed(response) -> set[str]:
    return set(
        re.findall(r'name="_selected_action" value="([0-9a-f-]{36})"', response.content.decode())
    )


def test_the_changelist_shows_a_signed_thumbnail_per_image(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=2)

    page = console(reviewer).get(CHANGELIST).content.decode()

    thumbs = re.findall(r'<img src="([^"]+)" width="96"', page)
    assert len(thumbs) == 2
    keys = {image.thumb_keys["150"] for image in session.images.all()}
    assert {next(k for k in keys if k in url) for url in thumbs} == keys
    assert all("X-Amz-Signature=" in url for url in thumbs)


def test_the_changelist_takes_the_same_queries_for_2_or_30_images(
    org, site, reviewer, django_assert_num_queries
):
    client = console(reviewer)
    client.get(CHANGELIST)  # warm the content-type cache
    for frame_count in (2, 30):
        Image.objects.all().delete()
        spin_session(org=org, site=site, frame_count=frame_count)
        # The Django session, the user, the site filter's choices, the count, the page.
        with django_assert_num_queries(5):
            page = client.get(CHANGELIST)
        assert len(listed(page)) == frame_count


def test_images_filter_by_status_qc_verdict_site_and_mode(org, site, other_site, admin):
    spin = spin_session(org=org, site=site, frame_count=3, qc_fail=[1])
    warn = spin.images.get(frame_index=2)
    warn.qc = QC_EXPOSURE_WARN
    warn.save(update_fields=["qc"])
    failing = spin.images.get(frame_index=1)
    passing = spin.images.get(frame_index=0)
    stills = stills_session(org=org, site=other_site, shots=["dash"], taken=["dash"])
    pending = ImageFactory(session=spin)
    client = console(admin)

    assert listed(client.get(CHANGELIST, {"status__exact": "pending"})) == {str(pending.pk)}
    assert listed(client.get(CHANGELIST, {"qc": "fail"})) == {str(failing.pk)}
    assert listed(client.get(CHANGELIST, {"qc": "warn"})) == {str(warn.pk)}
    assert listed(client.get(CHANGELIST, {"qc": "pass"})) == {
        str(passing.pk),
        str(stills.images.get().pk),
    }
    assert listed(client.get(CHANGELIST, {"site": str(other_site.pk)})) == {
        str(stills.images.get().pk)
    }
    assert listed(client.get(CHANGELIST, {"session__mode__exact": "stills"})) == {
        str(stills.images.get().pk)
    }


def test_a_reviewer_sees_only_images_of_their_sites(org, site, other_site, reviewer, outsider):
    mine = spin_session(org=org, site=site, frame_count=1).images.get()
    back_lot = spin_session(org=org, site=other_site, frame_count=1).images.get()
    theirs = spin_session(org=outsider.org, site=outsider.sites.get(), frame_count=1).images.get()
    client = console(reviewer)

    assert listed(client.get(CHANGELIST)) == {str(mine.pk)}
    assert client.get(image_url(back_lot)).status_code == 404
    assert client.get(image_url(theirs)).status_code == 404


def test_another_orgs_image_is_a_404_for_its_admin_too(org, site, outsider):
    image = spin_session(org=org, site=site, frame_count=1).images.get()

    page = console(outsider).get(image_url(image))

    assert page.status_code == 404
    assert image.storage_key not in page.content.decode()


def test_the_image_page_is_read_only_with_preview_qc_exif_and_audit_trail(org, site, reviewer):
    image = spin_session(org=org, site=site, frame_count=1, qc_fail=[0]).images.get()
    client = console(reviewer)

    page = client.get(image_url(image)).content.decode()

    assert image.thumb_keys["1200"] in page
    assert "<strong>sharpness</strong>: fail (score 41.0)" in page
    assert "iso: 100" in page and "shutter: 1/250" in page
    assert f'href="/admin/events_app/event/?entity_id={image.pk}"' in page
    assert f'href="/admin/sessions_app/capturesession/{image.session_id}/change/"' in page
    assert 'name="status"' not in page
    response = client.post(image_url(image), {"status": "published"})
    assert response.status_code == 403
    image.refresh_from_db()
    assert image.status == "processed"


def test_images_cannot_be_added_or_deleted_in_the_console(org, site, admin):
    image = spin_session(org=org, site=site, frame_count=1).images.get()
    client = console(admin)

    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{image.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Image.objects.filter(pk=image.pk).exists()


def test_the_publish_action_publishes_processed_images_as_the_reviewer(org, site, reviewer):
    session = spin_session(org=org, site=site, frame_count=3, qc_fail=[2])
    chosen = list(session.images.filter(frame_index__in=[0, 2]))

    response = console(reviewer).post(
        CHANGELIST,
        {"action": "publish", "_selected_action": [str(image.pk) for image in chosen]},
        follow=True,
    )

    assert "Published 2 image(s)." in response.content.decode()
    assert statuses(session) == {0: "published", 120: "processed", 240: "published"}
    events = Event.objects.filter(type=Event.Type.PUBLISHED)
    assert {(e.entity_id, e.actor_id) for e in events} == {(i.pk, reviewer.pk) for i in chosen}


def test_an_operator_has_no_publish_action_and_a_forged_one_is_refused(org, site, operator):
    image = spin_session(org=org, site=site, frame_count=1).images.get()
    client = console(operator)

    assert "Publish selected images" not in client.get(CHANGELIST).content.decode()
    response = client.post(CHANGELIST, {"action": "publish", "_selected_action": [str(image.pk)]})

    assert response.status_code == 403
    image.refresh_from_db()
    assert image.status == "processed"


def test_the_publish_action_ignores_images_outside_the_users_scope(org, site, reviewer, outsider):
    theirs = spin_session(org=outsider.org, site=outsider.sites.get(), frame_count=1).images.get()

    console(reviewer).post(CHANGELIST, {"action": "publish", "_selected_action": [str(theirs.pk)]})

    theirs.refresh_from_db()
    assert theirs.status == "processed"


def test_only_an_admin_may_reprocess(org, site, reviewer, admin, s3):
    session = CaptureSessionFactory(org=org, site=site, mode=CaptureSession.Mode.STILLS)
    image = processed(ImageFactory(session=session), qc=QC_SHARPNESS_FAIL)
    form = {"action": "reprocess", "_selected_action": [str(image.pk)]}

    assert "Reprocess selected images" not in console(reviewer).get(CHANGELIST).content.decode()
    assert console(reviewer).post(CHANGELIST, form).status_code == 403
    image.refresh_from_db()
    assert image.status == "processed"

    response = console(admin).post(CHANGELIST, form, follow=True)

    assert "Sent 1 image(s) back for processing." in response.content.decode()
    image.refresh_from_db()
    # The task ran after commit (no broker in tests) and found no object: it waits for one.
    assert image.status == "pending"
    event = Event.objects.get(type=Event.Type.REPROCESS_REQUESTED)
    assert (event.actor_type, event.actor_id, event.meta) == (
        "user",
        admin.pk,
        {"from": "processed"},
    )


def test_a_reviewer_rejects_selected_images_with_reasons_through_a_form_page(org, site, reviewer):
    from images_app.models import ReshootItem

    session = spin_session(org=org, site=site, frame_count=3)
    chosen = list(session.images.order_by("frame_index"))[:2]
    client = console(reviewer)
    selected = {"action": "reject", "_selected_action": [str(image.pk) for image in chosen]}
    assert "Reject selected images" in client.get(CHANGELIST).content.decode()

    # First the form: which reasons, a note. Nothing changes yet.
    page = client.post(CHANGELIST, selected)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="reasons" value="blurred"' in text and 'name="apply"' in text
    assert set(re.findall(r'name="_selected_action" value="([0-9a-f-]{36})"', text)) == {
        str(image.pk) for image in chosen
    }
    assert statuses(session) == {0: "processed", 120: "processed", 240: "processed"}

    # Applied without a reason: the form again, with the error.
    again = client.post(CHANGELIST, {**selected, "apply": "1", "note": "x"})
    assert "Choose at least one reason." in again.content.decode()
    assert statuses(session) == {0: "processed", 120: "processed", 240: "processed"}

    response = client.post(
        CHANGELIST,
        {**selected, "apply": "1", "reasons": ["blurred", "cropped"], "note": "Step back"},
        follow=True,
    )

    assert "Rejected 2 image(s)" in response.content.decode()
    assert statuses(session) == {0: "rejected", 120: "rejected", 240: "processed"}
    image = Image.objects.get(pk=chosen[0].pk)
    assert (image.reject_reasons, image.reject_note, image.rejected_by) == (
        ["blurred", "cropped"],
        "Step back",
        reviewer,
    )
    items = ReshootItem.objects.filter(session=session, status="open")
    assert sorted(items.values_list("frame_index", flat=True)) == [0, 1]
    assert Event.objects.filter(type=Event.Type.REJECTED, actor_id=reviewer.pk).count() == 2


def test_an_operator_has_no_reject_action_and_a_forged_one_is_refused(org, site, operator):
    image = spin_session(org=org, site=site, frame_count=1).images.get()
    client = console(operator)

    assert "Reject selected images" not in client.get(CHANGELIST).content.decode()
    response = client.post(
        CHANGELIST,
        {
            "action": "reject",
            "_selected_action": [str(image.pk)],
            "apply": "1",
            "reasons": ["blurred"],
        },
    )

    assert response.status_code == 403
    image.refresh_from_db()
    assert image.status == "processed"


def test_the_reject_action_ignores_images_outside_the_users_scope(org, site, reviewer, outsider):
    theirs = spin_session(org=outsider.org, site=outsider.sites.get(), frame_count=1).images.get()

    console(reviewer).post(
        CHANGELIST,
        {
            "action": "reject",
            "_selected_action": [str(theirs.pk)],
            "apply": "1",
            "reasons": ["blurred"],
        },
    )

    theirs.refresh_from_db()
    assert theirs.status == "processed"
