"""Reshoot on QC failure also covers spin health: under the org's ``qc_reshoot`` policy, the
frames a spin-health refresh finds repeated or out of order get automatic ``wrong_angle``
items in the refresh's transaction, withdrawn when a later refresh no longer finds them;
QC's and reviewers' items are never withdrawn. Spins are the real car's signatures
(spin_variants.py) stored on processed frames, as the worker leaves them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.tests.factories import SiteFactory
from events_app.models import Event
from images_app import review
from images_app.models import CheckPolicy, Image, ImageSignature, ReshootItem
from images_app.services import image_publish
from images_app.spin_health import spin_health_refresh
from images_app.tests import spin_variants
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

CAR = "car_toyota_chr_evox_36"
# Frames 5 and 20 of the car exchanged: spin health names both (out_of_order).
SWAPPED = {5: 20, 20: 5}


def policy(org, mode: str) -> None:
    CheckPolicy.objects.update_or_create(org=org, defaults={"qc_reshoot": mode})


def shoot(session: CaptureSession, *, swap: dict[int, int] = SWAPPED) -> dict[int, Image]:
    """The car's 36 frames, processed and signed, with the pictures of ``swap`` exchanged."""
    tinies = [frame.tiny for frame in spin_variants.clean(CAR)]
    images = {}
    for index in range(len(tinies)):
        image = processed(ImageFactory(session=session, frame_index=index, angle_deg=index * 10))
        sign(image, tinies[swap.get(index, index)])
        images[index] = image
    return images


def sign(image: Image, tiny: bytes) -> None:
    ImageSignature.objects.update_or_create(
        image=image,
        defaults={
            "org_id": image.org_id,
            "vehicle_id": image.vehicle_id,
            "session_id": image.session_id,
            "frame_index": image.frame_index,
            "created_at": timezone.now(),
            "sha256": "0" * 64,
            "phash": 0,
            **{f"band{n}": 0 for n in range(4)},
            "tiny": tiny,
        },
    )


def put_back(images: dict[int, Image]) -> None:
    """The exchanged frames' pictures where they belong: the findings are gone."""
    tinies = [frame.tiny for frame in spin_variants.clean(CAR)]
    for index in SWAPPED:
        sign(images[index], tinies[index])


def findings(session: CaptureSession) -> set[tuple[str, int]]:
    session.refresh_from_db()
    return {(f["type"], f["frame_index"]) for f in session.spin_health["findings"]}


@pytest.fixture
def spin(org, site, device) -> CaptureSession:
    return CaptureSessionFactory(
        org=org, site=site, device=device, shot_list={"studio360": {"frame_count": 36}}
    )


@pytest.mark.parametrize(("mode", "required"), [("suggest", False), ("require", True)])
def test_frames_found_out_of_order_get_automatic_items(api, org, spin, device, mode, required):
    policy(org, mode)
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    assert findings(spin) == {("out_of_order", 5), ("out_of_order", 20)}
    messages = {f["frame_index"]: f["message"] for f in spin.spin_health["findings"]}

    items = ReshootItem.objects.order_by("frame_index")
    assert [
        (i.frame_index, i.image_id, i.angle_deg, i.reasons, i.note, i.status) for i in items
    ] == [
        (5, images[5].pk, 50, ["wrong_angle"], messages[5], "open"),
        (20, images[20].pk, 200, ["wrong_angle"], messages[20], "open"),
    ]
    for item in items:
        assert (item.automatic, item.required, item.requested_by_id) == (True, required, None)
        assert item.spin_health_only
    events = Event.objects.filter(type=Event.Type.RESHOOT_REQUESTED)
    assert events.count() == 2
    assert all(e.meta["spin_health"] and e.actor_type == "system" for e in events)

    # The device sees them like the others, in the session's detail and in its to-do list.
    detail = api(device).get(f"/v1/sessions/{spin.id}").json()
    shown = detail["reshoots"]
    assert [(s["frame_index"], s["reasons"], s["automatic"]) for s in shown] == [
        (5, ["wrong_angle"], True),
        (20, ["wrong_angle"], True),
    ]
    listed = api(device).get("/v1/reshoots", {"status": "open"}).json()["data"]
    assert sorted(listed, key=lambda s: s["frame_index"]) == shown

    # The next frame's refresh finds the same: nothing more is asked, nothing recorded.
    spin_health_refresh(session_id=spin.pk)
    assert ReshootItem.objects.count() == 2 and events.count() == 2


def test_a_required_item_keeps_the_frame_from_publishing(api, org, spin, reviewer):
    policy(org, "require")
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    refused = api(reviewer).post(f"/v1/images/{images[5].id}/publish")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "RESHOOT_REQUIRED"
    assert api(reviewer).post(f"/v1/images/{images[6].id}/publish").status_code == 200


def test_a_refresh_without_the_finding_withdraws_the_item(api, org, spin, device):
    policy(org, "suggest")
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    assert ReshootItem.objects.filter(status="open").count() == 2

    put_back(images)
    spin_health_refresh(session_id=spin.pk)
    assert findings(spin) == set()
    for item in ReshootItem.objects.all():
        assert (item.status, item.dismissed_by_id) == ("cancelled", None)
        assert item.dismissed_at is not None
    withdrawn = Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED)
    assert withdrawn.count() == 2
    assert all(e.meta["withdrawn"] and e.actor_type == "system" for e in withdrawn)
    assert api(device).get(f"/v1/sessions/{spin.id}").json()["reshoots"] == []

    # The finding back (the pictures exchanged again): asked for again.
    shoot_again = [frame.tiny for frame in spin_variants.clean(CAR)]
    for index, other in SWAPPED.items():
        sign(images[index], shoot_again[other])
    spin_health_refresh(session_id=spin.pk)
    assert ReshootItem.objects.filter(status="open").count() == 2


def test_reviewers_and_qcs_items_for_the_frames_are_kept(org, spin, reviewer):
    policy(org, "suggest")
    # Before the spin is judged: a reviewer asks for frame 5 again, QC failed frame 20.
    images = shoot(spin)
    review.reshoot_request(session=spin, actor=reviewer, frame_index=5, note="Closer")
    review.reshoot_automatic(session=spin, image=images[20], reasons=["blurred"], required=False)
    spin_health_refresh(session_id=spin.pk)
    mine, qcs = ReshootItem.objects.order_by("frame_index")
    assert (mine.requested_by_id, mine.reasons, mine.spin_health_only) == (
        reviewer.pk,
        ["wrong_angle"],
        False,
    )
    assert mine.note.startswith("Closer\nFrame 5 (50°) belongs at position 20")
    assert (qcs.reasons, qcs.spin_health_only) == (["blurred", "wrong_angle"], False)

    put_back(images)
    spin_health_refresh(session_id=spin.pk)
    assert set(ReshootItem.objects.values_list("status", flat=True)) == {"open"}
    assert not Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED).exists()


def test_an_item_a_reviewer_added_to_is_kept(org, spin, reviewer):
    policy(org, "suggest")
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    # The reviewer agrees about frame 20 and rejects it: the item is theirs too now.
    review.image_reject(image=images[20], actor=reviewer, reasons=["wrong_angle"])

    put_back(images)
    spin_health_refresh(session_id=spin.pk)
    statuses = dict(ReshootItem.objects.values_list("frame_index", "status"))
    assert statuses == {5: "cancelled", 20: "open"}


def test_a_dismissed_item_is_not_asked_for_again(org, spin, reviewer):
    policy(org, "require")
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    item = ReshootItem.objects.get(frame_index=5)
    review.reshoot_dismiss(item=item, actor=reviewer, note="Accept as is")
    assert image_publish(image=images[5], actor=reviewer).status == "published"

    spin_health_refresh(session_id=spin.pk)
    assert ReshootItem.objects.filter(frame_index=5, status="open").count() == 0
    assert ReshootItem.objects.filter(frame_index=20, status="open").count() == 1

    # Nor is it withdrawn when the finding goes: the reviewer's decision stands.
    put_back(images)
    spin_health_refresh(session_id=spin.pk)
    item.refresh_from_db()
    assert (item.status, item.dismissed_by_id) == ("cancelled", reviewer.pk)
    assert Event.objects.filter(type=Event.Type.RESHOOT_DISMISSED).count() == 2


def test_a_retaken_frame_stands_for_its_frame(org, spin):
    policy(org, "suggest")
    images = shoot(spin, swap={5: 20})  # frame 5 shows the picture of 20
    spin_health_refresh(session_id=spin.pk)
    assert ("out_of_order", 5) in findings(spin)
    assert ReshootItem.objects.filter(frame_index=5, status="open").exists()

    retake = processed(ImageFactory(session=spin, frame_index=5, angle_deg=50, replaces=images[5]))
    sign(retake, spin_variants.clean(CAR)[5].tiny)
    spin_health_refresh(session_id=spin.pk)
    assert findings(spin) == set()
    assert spin.spin_health["frames"] == 36
    assert not ReshootItem.objects.filter(status="open").exists()


def test_skipped_angles_are_left_to_the_reviewer(org, spin):
    policy(org, "suggest")
    images = shoot(spin, swap={})
    ImageSignature.objects.filter(image__in=[images[10], images[11]]).delete()
    spin_health_refresh(session_id=spin.pk)
    assert findings(spin) == {("skipped_angles", 12)}
    assert not ReshootItem.objects.exists()


def test_with_the_policy_off_nothing_is_asked(org, spin):
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    assert findings(spin) == {("out_of_order", 5), ("out_of_order", 20)}
    policy(org, "off")
    spin_health_refresh(session_id=spin.pk)
    assert not ReshootItem.objects.exists()
    assert images[5].reshoot_items.count() == 0


def test_another_org_is_unaffected(org, other_org, spin):
    policy(org, "suggest")
    policy(other_org, "off")
    theirs = CaptureSessionFactory(
        org=other_org,
        site=SiteFactory(org=other_org),
        shot_list={"studio360": {"frame_count": 36}},
    )
    shoot(theirs)
    review.reshoot_request(session=theirs, actor=None, frame_index=7)
    spin_health_refresh(session_id=theirs.pk)
    assert findings(theirs) == {("out_of_order", 5), ("out_of_order", 20)}
    assert list(ReshootItem.objects.values_list("frame_index", flat=True)) == [7]

    shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    assert ReshootItem.objects.filter(session=theirs).count() == 1
    assert ReshootItem.objects.filter(session=spin).count() == 2


def test_items_appearing_and_withdrawn_change_the_etag(api, org, spin, device):
    client = api(device)
    images = shoot(spin)
    spin_health_refresh(session_id=spin.pk)  # the findings, policy off: no item
    before = client.get(f"/v1/sessions/{spin.id}")["ETag"]
    spin_health_refresh(session_id=spin.pk)
    assert client.get(f"/v1/sessions/{spin.id}")["ETag"] == before

    policy(org, "suggest")
    spin_health_refresh(session_id=spin.pk)  # the same findings, now two items
    response = client.get(f"/v1/sessions/{spin.id}", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200 and len(response.json()["reshoots"]) == 2
    with_items = response["ETag"]

    put_back(images)
    spin_health_refresh(session_id=spin.pk)  # withdrawn
    response = client.get(f"/v1/sessions/{spin.id}", HTTP_IF_NONE_MATCH=with_items)
    assert response.status_code == 200 and response.json()["reshoots"] == []


def test_the_review_page_says_where_an_automatic_item_comes_from(org, spin, reviewer):
    from sessions_app.tests.console import console, review_url

    policy(org, "require")
    shoot(spin)
    spin_health_refresh(session_id=spin.pk)
    page = console(reviewer).get(review_url(spin)).content.decode()
    assert page.count("Automatic (spin health) · required") == 2
    assert "Automatic (QC)" not in page
