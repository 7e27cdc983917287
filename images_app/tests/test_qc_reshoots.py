"""Reshoot on QC failure: the org's policy, automatic reshoot items made in the transaction
that marks an image processed, what ``require`` adds to ``suggest``, dismissing an item
("accept as is"), the frames of a session's detail and its ETag."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from django.core.cache import caches
from django.core.management import call_command

from accounts.tests.factories import DeviceFactory, SiteFactory, UserFactory
from events_app.models import Event
from images_app import review
from images_app.models import CheckPolicy, Image, ReshootItem
from images_app.rules import qc_failure_reasons
from images_app.services import (
    _image_claim,
    _image_fail,
    _image_finish,
    image_publish,
    image_reprocess,
    image_unpublish,
    session_publish_processed,
)
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.services import session_finish
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

BLURRED = {"sharpness": {"score": 12.0, "status": "fail"}, "exposure": {"status": "pass"}}
DARK = {
    "sharpness": {"score": 400.0, "status": "pass"},
    "exposure": {"status": "fail", "mean": 20.0, "clipped_shadows": 0.4, "clipped_highlights": 0},
}
GOOD = {"sharpness": {"score": 400.0, "status": "pass"}, "exposure": {"status": "pass"}}
PHOTO = b"\xff\xd8\xff\xe0" + b"a retake of a car" * 64 + b"\xff\xd9"


class _Result:
    def __init__(self, qc: dict) -> None:
        self.width, self.height, self.exif, self.qc = 4032, 3024, {}, qc


def policy(org, mode: str) -> None:
    CheckPolicy.objects.update_or_create(org=org, defaults={"qc_reshoot": mode})


def finish(image: Image, qc: dict) -> Image:
    """The worker's claim, then the end of its processing attempt with this QC."""
    claimed = _image_claim(image_id=image.pk, reclaim=False)
    assert claimed is not None
    assert (
        _image_finish(
            image=claimed, token=claimed.attempts, result=_Result(qc), thumb_keys={}, size=10
        )
        == "processed"
    )
    claimed.refresh_from_db()
    return claimed


@pytest.fixture
def spin(org, site, device) -> CaptureSession:
    return CaptureSessionFactory(org=org, site=site, device=device)


def uploaded(session: CaptureSession, index: int, **extra) -> Image:
    return ImageFactory(
        session=session, frame_index=index, angle_deg=index * 15, uploaded_at=None, **extra
    )


# --- the rules ---------------------------------------------------------------------------


def test_only_failed_checks_give_reasons():
    assert qc_failure_reasons(BLURRED) == ["blurred"]
    assert qc_failure_reasons(DARK) == ["underexposed"]
    bright = {"exposure": {"status": "fail", "mean": 240.0, "clipped_highlights": 0.3}}
    assert qc_failure_reasons(bright) == ["overexposed"]
    assert qc_failure_reasons({"sharpness": {"status": "warn"}}) == []
    assert qc_failure_reasons(GOOD) == [] and qc_failure_reasons(None) == []


# --- automatic items ---------------------------------------------------------------------


def test_with_the_policy_off_a_qc_failure_asks_for_nothing(org, spin):
    finish(uploaded(spin, 3), BLURRED)
    assert not ReshootItem.objects.exists()


@pytest.mark.parametrize(("mode", "required"), [("suggest", False), ("require", True)])
def test_a_frame_failing_qc_gets_an_automatic_item_at_once(api, org, spin, device, mode, required):
    policy(org, mode)
    image = finish(uploaded(spin, 3), BLURRED)

    item = ReshootItem.objects.get()
    assert (item.image_id, item.frame_index, item.reasons) == (image.pk, 3, ["blurred"])
    assert (item.automatic, item.required, item.requested_by_id) == (True, required, None)
    [event] = Event.objects.filter(type=Event.Type.RESHOOT_REQUESTED)
    assert event.meta["automatic"] is True and event.actor_type == "system"
    assert event.entity_id == spin.pk

    # The device sees it in the session's detail and in its to-do list, the same shape.
    detail = api(device).get(f"/v1/sessions/{spin.id}").json()
    [shown] = detail["reshoots"]
    assert (shown["automatic"], shown["required"], shown["reasons"]) == (
        True,
        required,
        ["blurred"],
    )
    listed = api(device).get("/v1/reshoots", {"status": "open"}).json()["data"]
    assert listed == [shown]


def test_a_passing_frame_and_a_dark_one(org, spin):
    policy(org, "suggest")
    finish(uploaded(spin, 1), GOOD)
    dark = finish(uploaded(spin, 2), DARK)
    [item] = ReshootItem.objects.all()
    assert (item.image_id, item.reasons) == (dark.pk, ["underexposed"])


def test_a_reviewers_open_item_for_the_frame_takes_the_reasons(org, spin, reviewer):
    policy(org, "suggest")
    review.reshoot_request(session=spin, actor=reviewer, frame_index=5, note="Closer")
    finish(uploaded(spin, 5), BLURRED)
    [item] = ReshootItem.objects.all()
    assert (item.automatic, item.reasons, item.requested_by_id) == (False, ["blurred"], reviewer.pk)


def test_a_replacement_that_passes_qc_fulfils_the_automatic_item(api, org, spin, device):
    policy(org, "require")
    original = finish(uploaded(spin, 7), BLURRED)
    presigned = api(device).post(
        "/v1/presign",
        {
            "session_id": str(spin.id),
            "file_name": "retake.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(PHOTO).hexdigest(),
            "replaces_image_id": str(original.id),
        },
        format="json",
    )
    assert presigned.status_code == 200, presigned.content
    replacement = Image.objects.get(pk=presigned.json()["image_id"])
    assert replacement.frame_index == 7

    finish(replacement, GOOD)
    item = ReshootItem.objects.get()
    assert (item.status, item.replacement_id) == ("fulfilled", replacement.pk)
    assert api(device).get(f"/v1/sessions/{spin.id}").json()["reshoots"] == []


def test_a_replacement_failing_again_keeps_one_open_item(org, spin):
    policy(org, "suggest")
    original = finish(uploaded(spin, 7), BLURRED)
    finish(uploaded(spin, 7, replaces=original), DARK)
    [item] = ReshootItem.objects.all()
    assert (item.status, item.image_id, item.reasons) == (
        "open",
        original.pk,
        ["blurred", "underexposed"],
    )


# --- what "require" adds ------------------------------------------------------------------


def test_a_required_item_keeps_its_image_from_publishing_until_dismissed(api, org, spin, reviewer):
    policy(org, "require")
    image = finish(uploaded(spin, 2), BLURRED)

    refused = api(reviewer).post(f"/v1/images/{image.id}/publish")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "RESHOOT_REQUIRED"
    outcome = session_publish_processed(session=spin, actor=reviewer, include_qc_failures=True)
    assert outcome.blocked_by_reshoot == [image] and outcome.published == []

    item = ReshootItem.objects.get()
    dismissed = api(reviewer).post(
        f"/v1/reshoots/{item.id}/dismiss", {"note": "Fine for the web"}, format="json"
    )
    assert dismissed.status_code == 200, dismissed.content
    assert api(reviewer).post(f"/v1/images/{image.id}/publish").status_code == 200


def test_a_suggested_item_does_not_block_and_publishing_accepts_it(api, org, spin, reviewer):
    policy(org, "suggest")
    image = finish(uploaded(spin, 2), BLURRED)
    assert api(reviewer).post(f"/v1/images/{image.id}/publish").status_code == 200
    item = ReshootItem.objects.get()
    assert (item.status, item.dismissed_by) == ("cancelled", reviewer)
    assert Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED).count() == 1


# --- dismissing ----------------------------------------------------------------------------


def test_a_reviewer_dismisses_an_automatic_item(api, org, spin, reviewer, device):
    policy(org, "require")
    finish(uploaded(spin, 4), BLURRED)
    item = ReshootItem.objects.get()

    response = api(reviewer).post(
        f"/v1/reshoots/{item.id}/dismiss", {"note": "Accept as is"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "session_id",
        "image_id",
        "frame_index",
        "angle_deg",
        "shot_name",
        "reasons",
        "note",
        "status",
        "created_at",
        "fulfilled_at",
        "replacement_image_id",
        "automatic",
        "required",
    }
    assert (body["status"], body["automatic"], body["note"]) == ("cancelled", True, "Accept as is")
    item.refresh_from_db()
    assert item.dismissed_by == reviewer and item.dismissed_at is not None
    [event] = Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED)
    assert event.actor_id == reviewer.id and event.meta["reshoot_id"] == str(item.id)
    assert api(device).get(f"/v1/sessions/{spin.id}").json()["reshoots"] == []

    # Again: nothing changes.
    again = api(reviewer).post(f"/v1/reshoots/{item.id}/dismiss", {}, format="json")
    assert again.status_code == 200
    assert Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED).count() == 1


def test_a_fulfilled_item_cannot_be_dismissed(api, org, spin, reviewer):
    policy(org, "suggest")
    original = finish(uploaded(spin, 4), BLURRED)
    finish(uploaded(spin, 4, replaces=original), GOOD)
    item = ReshootItem.objects.get()
    response = api(reviewer).post(f"/v1/reshoots/{item.id}/dismiss", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "INVALID_TRANSITION",
        "message": "Only open reshoot items can be dismissed; this one is fulfilled.",
        "details": {"status": "fulfilled"},
    }


def test_devices_and_operators_may_not_dismiss(api, org, spin, device, operator):
    review.reshoot_request(session=spin, actor=None, frame_index=1)
    item = ReshootItem.objects.get()
    for principal in (device, operator):
        response = api(principal).post(f"/v1/reshoots/{item.id}/dismiss", {}, format="json")
        assert response.status_code == 403
    assert ReshootItem.objects.get().status == "open"


def test_another_orgs_item_is_a_404(api, other_org, reviewer):
    other = CaptureSessionFactory(org=other_org, site=SiteFactory(org=other_org))
    item = review.reshoot_request(session=other, actor=None, frame_index=1)
    response = api(reviewer).post(f"/v1/reshoots/{item.id}/dismiss", {}, format="json")
    assert response.status_code == 404
    assert (
        api(reviewer).post(f"/v1/reshoots/{uuid.uuid4()}/dismiss", {}, format="json").status_code
        == 404
    )
    assert ReshootItem.objects.get().status == "open"


def test_a_long_note_is_a_400(api, org, spin, reviewer):
    item = review.reshoot_request(session=spin, actor=reviewer, frame_index=1)
    response = api(reviewer).post(
        f"/v1/reshoots/{item.id}/dismiss", {"note": "x" * 1001}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


# --- frames in the session's detail ---------------------------------------------------------


def test_the_device_reads_its_frames_states_and_verdicts(api, org, spin, device):
    policy(org, "suggest")
    finish(uploaded(spin, 0), GOOD)
    finish(uploaded(spin, 1), BLURRED)
    pending = uploaded(spin, 2)
    failed = uploaded(spin, 3)
    claimed = _image_claim(image_id=failed.pk, reclaim=False)
    _image_fail(image=claimed, token=claimed.attempts, code="corrupt_image")

    frames = api(device).get(f"/v1/sessions/{spin.id}").json()["frames"]
    assert [
        (f["frame_index"], f["status"], f["qc"], f["qc_reasons"], f["error"]) for f in frames
    ] == [
        (0, "processed", "pass", [], ""),
        (1, "processed", "fail", ["blurred"], ""),
        (2, "pending", None, [], ""),
        (3, "failed", None, [], "corrupt_image"),
    ]
    assert frames[2]["id"] == str(pending.id)
    assert set(frames[0]) == {
        "id",
        "frame_index",
        "angle_deg",
        "shot_name",
        "status",
        "error",
        "qc",
        "qc_reasons",
        "replaces_image_id",
        "created_at",
    }


def test_no_other_device_or_org_reads_the_frames(api, org, other_org, spin, site):
    uploaded(spin, 0)
    other_device = DeviceFactory(org=org)
    stranger = UserFactory(org=other_org, role="admin")
    assert api(other_device).get(f"/v1/sessions/{spin.id}").status_code == 404
    assert api(stranger).get(f"/v1/sessions/{spin.id}").status_code == 404
    # A session of another device holds none of this session's frames.
    mine = CaptureSessionFactory(org=org, site=site, device=other_device)
    assert api(other_device).get(f"/v1/sessions/{mine.id}").json()["frames"] == []


def test_the_detail_costs_the_same_queries_with_many_frames(
    api, org, spin, device, django_assert_num_queries
):
    policy(org, "suggest")
    client = api(device)
    client.get(f"/v1/sessions/{spin.id}")  # the device's last_seen_at
    for index in range(6):
        finish(uploaded(spin, index), BLURRED if index % 2 else GOOD)
    # The caller, the session's row (a new ETag), the row with its frames and items.
    with django_assert_num_queries(3):
        response = client.get(f"/v1/sessions/{spin.id}")
    assert len(response.json()["frames"]) == 6 and len(response.json()["reshoots"]) == 3


# --- the ETag ---------------------------------------------------------------------------------


def test_every_state_change_changes_the_etag(api, org, spin, device, reviewer):
    policy(org, "suggest")
    client = api(device)
    seen: list[str] = []

    def etag() -> str:
        response = client.get(f"/v1/sessions/{spin.id}")
        tag = response["ETag"]
        assert tag not in seen, f"the ETag did not change after step {len(seen)}"
        seen.append(tag)
        # What this process kept under the tag is what the session reads as now.
        caches["process"].clear()
        fresh = client.get(f"/v1/sessions/{spin.id}")
        assert (fresh["ETag"], fresh.content) == (tag, response.content)
        return tag

    first = etag()
    not_modified = client.get(f"/v1/sessions/{spin.id}", HTTP_IF_NONE_MATCH=first)
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified["ETag"] == first
    assert client.get(f"/v1/sessions/{spin.id}", HTTP_IF_NONE_MATCH='"other"').status_code == 200

    presigned = client.post(
        "/v1/presign",
        {
            "session_id": str(spin.id),
            "file_name": "f.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(PHOTO).hexdigest(),
            "frame_index": 0,
        },
        format="json",
    )
    image = Image.objects.get(pk=presigned.json()["image_id"])
    etag()  # a pending frame
    claimed = _image_claim(image_id=image.pk, reclaim=False)
    etag()  # processing
    _image_finish(
        image=claimed, token=claimed.attempts, result=_Result(BLURRED), thumb_keys={}, size=1
    )
    etag()  # processed, failed QC, an automatic item
    item = ReshootItem.objects.get()
    review.reshoot_dismiss(item=item, actor=reviewer)
    etag()  # the item dismissed
    image_publish(image=image, actor=reviewer)
    etag()  # published
    image_unpublish(image=image, actor=reviewer)
    etag()  # processed again
    review.image_reject(image=image, actor=reviewer, reasons=["glare"])
    etag()  # rejected, a reviewer's item
    second = processed(ImageFactory(session=spin, frame_index=1))
    image_reprocess(image=second, actor=reviewer)
    etag()  # back to pending
    review.reshoot_request(session=spin, actor=reviewer, frame_index=5)
    etag()  # a missing frame asked for
    session_finish(session=spin, status="complete", completed_at=None, actor=reviewer)
    etag()  # the session itself
    # The ETag is a strong validator of the body: the same state, the same tag.
    assert client.get(f"/v1/sessions/{spin.id}")["ETag"] == seen[-1]


def test_if_none_match_lists_and_weak_tags_match(api, spin, device):
    client = api(device)
    tag = client.get(f"/v1/sessions/{spin.id}")["ETag"]
    for header in (f'"a", {tag}', f"W/{tag}", "*"):
        assert client.get(f"/v1/sessions/{spin.id}", HTTP_IF_NONE_MATCH=header).status_code == 304


# --- the policy's doors ---------------------------------------------------------------------


def test_the_check_policy_command_sets_qc_reshoot(org):
    out = io.StringIO()
    call_command("check_policy", "--org", str(org.id), "--qc-reshoot", "require", stdout=out)
    assert CheckPolicy.objects.get(org=org).qc_reshoot == "require"
    assert "reshoot on QC failure require" in out.getvalue()


def test_an_org_admin_edits_only_their_own_check_policy(client, org, other_org):
    admin = UserFactory(org=org, role="admin", is_staff=True)
    reviewer = UserFactory(org=org, role="reviewer", is_staff=True)
    theirs = CheckPolicy.objects.create(org=other_org, qc_reshoot="require")
    client.force_login(admin)

    client.get("/admin/images_app/checkpolicy/")  # the org's row, with the defaults
    response = client.post(
        f"/admin/images_app/checkpolicy/{org.pk}/change/",
        {
            "qc_reshoot": "suggest",
            "coverage": "warn",
            "spin_health": "warn",
            "duplicates": "warn",
            "duplicate_window_days": 90,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert CheckPolicy.objects.get(org=org).qc_reshoot == "suggest"
    assert client.get(f"/admin/images_app/checkpolicy/{theirs.pk}/change/").status_code == 404
    listing = client.get("/admin/images_app/checkpolicy/").content.decode()
    assert str(other_org) not in listing

    client.force_login(reviewer)
    assert client.get("/admin/images_app/checkpolicy/").status_code == 403


def test_the_review_page_accepts_an_automatic_item_as_is(org, spin, reviewer, operator):
    from sessions_app.tests.console import console, review_action_url, review_url

    policy(org, "require")
    finish(uploaded(spin, 4), BLURRED)
    item = ReshootItem.objects.get()
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert "Automatic (QC) · required" in page and 'value="dismiss_reshoot"' in page
    assert 'value="dismiss_reshoot"' not in console(operator).get(review_url(spin)).content.decode()

    forged = console(operator).post(
        review_action_url(spin), {"action": "dismiss_reshoot", "reshoot": str(item.pk)}
    )
    assert forged.status_code == 403
    response = console(reviewer).post(
        review_action_url(spin), {"action": "dismiss_reshoot", "reshoot": str(item.pk)}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.dismissed_by) == ("cancelled", reviewer)


def test_a_rollback_of_the_vehicles_photos_changes_the_etag(api, org, spin, device, reviewer):
    from images_app.services import vehicle_published_set_replace

    image = image_publish(
        image=processed(ImageFactory(session=spin, frame_index=0)), actor=reviewer
    )
    client = api(device)
    before = client.get(f"/v1/sessions/{spin.id}")["ETag"]
    vehicle_published_set_replace(
        vehicle_id=spin.vehicle_id, image_ids=[], actor=reviewer, action="withdraw"
    )
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED
    assert client.get(f"/v1/sessions/{spin.id}")["ETag"] != before
