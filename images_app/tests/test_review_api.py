"""The review loop through HTTP: reject with reasons, reshoot requests back to the device,
replacements uploaded with ``replaces_image_id``, and publishing a replacement."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from django.core.cache import caches

from accounts.tests.factories import DeviceFactory
from events_app.models import Event
from images_app.models import Image, ReshootItem
from images_app.services import _image_finish, image_publish
from images_app.tests.image_factories import ImageFactory, processed
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

PHOTO = b"\xff\xd8\xff\xe0" + b"a second photo of a car" * 64 + b"\xff\xd9"


@pytest.fixture
def spin(org, site, device) -> CaptureSession:
    """A finished 24-frame spin the device captured."""
    return CaptureSessionFactory(
        org=org, site=site, device=device, status=CaptureSession.Status.COMPLETE
    )


def frame(session: CaptureSession, index: int, **extra) -> Image:
    return processed(
        ImageFactory(session=session, frame_index=index, angle_deg=index * 15), **extra
    )


def reject(client, image: Image, reasons=("blurred",), note: str = "Rig shook"):
    return client.post(
        f"/v1/images/{image.id}/reject", {"reasons": list(reasons), "note": note}, format="json"
    )


def presign_replacement(client, session: CaptureSession, original: Image, data: bytes = PHOTO):
    return client.post(
        "/v1/presign",
        {
            "session_id": str(session.id),
            "file_name": "retake.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(data).hexdigest(),
            "replaces_image_id": str(original.id),
        },
        format="json",
    )


def test_a_reviewer_rejects_a_processed_image_with_reasons(api, reviewer, spin):
    image = frame(spin, 3)
    response = reject(api(reviewer), image, reasons=["glare", "blurred"])
    assert response.status_code == 200, response.content
    body = response.json()
    # The reasons come back once each, in the documented order.
    assert (body["status"], body["reject_reasons"], body["reject_note"]) == (
        "rejected",
        ["blurred", "glare"],
        "Rig shook",
    )
    assert body["reshoot"]["frame_index"] == 3
    assert body["reshoot"]["angle_deg"] == 45
    assert body["reshoot"]["image_id"] == str(image.id)
    assert body["reshoot"]["status"] == "open"
    image.refresh_from_db()
    assert image.status == Image.Status.REJECTED and image.rejected_by == reviewer
    [event] = Event.objects.filter(entity_id=image.id, type=Event.Type.REJECTED)
    assert event.meta["reasons"] == ["blurred", "glare"] and event.actor_id == reviewer.id
    assert Event.objects.filter(entity_id=spin.id, type=Event.Type.RESHOOT_REQUESTED).count() == 1


def test_a_published_image_that_is_rejected_is_no_longer_published(api, reviewer, spin):
    image = image_publish(image=frame(spin, 0), actor=reviewer)
    body = reject(api(reviewer), image).json()
    assert body["status"] == "rejected"
    detail = api(reviewer).get(f"/v1/images/{image.id}").json()
    assert (detail["status"], detail["published_at"]) == ("rejected", None)
    listing = api(reviewer).get("/v1/images", {"session_id": str(spin.id), "status": "published"})
    assert listing.json()["data"] == []


def test_rejecting_twice_changes_nothing(api, reviewer, admin, spin):
    image = frame(spin, 1)
    first = reject(api(reviewer), image).json()
    second = reject(api(admin), image, reasons=["cropped"])
    assert second.status_code == 200
    assert second.json() == first
    assert Event.objects.filter(entity_id=image.id, type=Event.Type.REJECTED).count() == 1


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_only_processed_or_published_images_can_be_rejected(api, reviewer, spin, status):
    image = ImageFactory(session=spin, frame_index=2, status=status)
    response = reject(api(reviewer), image)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_TRANSITION"
    assert not ReshootItem.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"reasons": []},
        {"reasons": ["smudged"]},
        {"reasons": "blurred"},
        {"reasons": ["blurred"], "note": "x" * 1001},
        {"reasons": ["blurred"], "note": "bell\x07"},
        {"note": "no reasons"},
    ],
)
def test_a_rejection_needs_reasons_from_the_list(api, reviewer, spin, body):
    image = frame(spin, 1)
    response = api(reviewer).post(f"/v1/images/{image.id}/reject", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSED


def test_operators_and_devices_cannot_reject(api, operator, device, spin):
    image = frame(spin, 1)
    assert reject(api(operator), image).status_code == 403
    assert reject(api(device), image).status_code == 403


def test_another_orgs_image_is_not_found_for_rejection(api, outsider, spin):
    image = frame(spin, 1)
    response = reject(api(outsider), image)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_two_rejections_of_one_frame_make_one_open_item(api, reviewer, spin):
    original = frame(spin, 5)
    reject(api(reviewer), original, reasons=["blurred"])
    retake = frame(spin, 5)
    reject(api(reviewer), retake, reasons=["glare"], note="Light from the left")
    [item] = ReshootItem.objects.filter(status="open")
    assert item.reasons == ["blurred", "glare"]
    assert item.image_id == original.id
    assert "Light from the left" in item.note


def test_the_device_sees_its_open_reshoots_in_the_session_and_its_to_do_list(
    api, reviewer, device, spin, org, site
):
    first, second = frame(spin, 2), frame(spin, 7)
    reject(api(reviewer), second, reasons=["wrong_angle"])
    reject(api(reviewer), first, reasons=["blurred"])
    # Another device's session and its reshoot: not this device's business.
    other = CaptureSessionFactory(org=org, site=site, device=DeviceFactory(org=org))
    reject(api(reviewer), frame(other, 1))

    detail = api(device).get(f"/v1/sessions/{spin.id}").json()
    assert [item["frame_index"] for item in detail["reshoots"]] == [7, 2]  # oldest first
    assert detail["reshoots"][0]["reasons"] == ["wrong_angle"]

    listing = api(device).get("/v1/reshoots", {"status": "open"}).json()
    assert listing["total"] == 2
    assert [item["image_id"] for item in listing["data"]] == [str(second.id), str(first.id)]
    # A reviewer of the org sees every session's items.
    assert api(reviewer).get("/v1/reshoots", {"status": "open"}).json()["total"] == 3


def test_another_org_sees_no_reshoots(api, reviewer, outsider, spin):
    reject(api(reviewer), frame(spin, 1))
    assert api(outsider).get("/v1/reshoots").json()["total"] == 0
    assert api(outsider).get(f"/v1/sessions/{spin.id}").status_code == 404


def test_the_reshoot_list_costs_the_same_queries_for_more_items(
    api, reviewer, spin, django_assert_num_queries
):
    for index in range(2):
        reject(api(reviewer), frame(spin, index))
    client = api(reviewer)
    client.get("/v1/reshoots")  # warm: the token's principal cache
    # The caller (re-read on every request), then the page with its total.
    with django_assert_num_queries(2):
        client.get("/v1/reshoots", {"status": "open"})
    for index in range(2, 12):
        reject(api(reviewer), frame(spin, index))
    with django_assert_num_queries(2):
        page = client.get("/v1/reshoots", {"status": "open"}).json()
    assert page["total"] == 12


def test_the_device_uploads_a_replacement_into_the_finished_session(api, reviewer, device, spin):
    original = frame(spin, 4)
    reject(api(reviewer), original)
    response = presign_replacement(api(device), spin, original)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["frame_index"], body["angle_deg"]) == (4, 60)
    assert body["replaces_image_id"] == str(original.id)
    replacement = Image.objects.get(pk=body["image_id"])
    assert replacement.replaces_id == original.id


def test_a_replacement_needs_an_open_reshoot(api, device, spin):
    original = frame(spin, 4)
    response = presign_replacement(api(device), spin, original)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "RESHOOT_NOT_OPEN"
    assert not Image.objects.filter(replaces=original).exists()


def test_a_finished_session_still_refuses_other_uploads(api, reviewer, device, spin):
    reject(api(reviewer), frame(spin, 4))
    response = api(device).post(
        "/v1/presign",
        {
            "session_id": str(spin.id),
            "file_name": "extra.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(PHOTO).hexdigest(),
            "frame_index": 9,
        },
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SESSION_NOT_ACTIVE"


def test_a_replacement_of_another_sessions_image_is_not_found(api, reviewer, device, spin, org):
    elsewhere = CaptureSessionFactory(org=org, site=spin.site, device=device)
    original = frame(elsewhere, 1)
    reject(api(reviewer), original)
    response = presign_replacement(api(device), spin, original)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_replacement_that_passes_qc_fulfils_the_reshoot(api, reviewer, device, spin):
    original = frame(spin, 4)
    reject(api(reviewer), original)
    image_id = presign_replacement(api(device), spin, original).json()["image_id"]
    replacement = Image.objects.get(pk=image_id)
    finish_processing(replacement)

    item = ReshootItem.objects.get()
    assert (item.status, item.replacement_id) == ("fulfilled", replacement.id)
    assert api(device).get(f"/v1/sessions/{spin.id}").json()["reshoots"] == []
    fulfilled = api(device).get("/v1/reshoots", {"status": "fulfilled"}).json()["data"]
    assert fulfilled[0]["replacement_image_id"] == str(replacement.id)
    assert Event.objects.filter(type=Event.Type.RESHOOT_FULFILLED).count() == 1


def test_a_replacement_failing_qc_leaves_the_reshoot_open_until_published(
    api, reviewer, device, spin
):
    original = frame(spin, 4)
    reject(api(reviewer), original)
    image_id = presign_replacement(api(device), spin, original).json()["image_id"]
    replacement = Image.objects.get(pk=image_id)
    finish_processing(replacement, sharpness="fail")
    assert ReshootItem.objects.get().status == "open"

    # The reviewer accepts it despite QC: publishing closes the item.
    assert api(reviewer).post(f"/v1/images/{image_id}/publish").status_code == 200
    assert ReshootItem.objects.get().status == "fulfilled"


def test_publishing_a_replacement_supersedes_a_published_original(reviewer, spin):
    original = image_publish(image=frame(spin, 6), actor=reviewer)
    replacement = frame(spin, 6, replaces=original)
    image_publish(image=replacement, actor=reviewer)
    original.refresh_from_db()
    assert original.status == Image.Status.SUPERSEDED
    assert list(spin.images.filter(status="published")) == [replacement]


def test_a_reviewer_requests_a_missing_frame_and_the_device_uploads_it(api, reviewer, device, spin):
    response = api(reviewer).post(
        "/v1/reshoots",
        {"session_id": str(spin.id), "frame_index": 11, "note": "Never taken"},
        format="json",
    )
    assert response.status_code == 201, response.content
    item = response.json()
    assert (item["image_id"], item["frame_index"], item["angle_deg"]) == (None, 11, 165)
    # The finished session takes exactly that frame.
    upload = api(device).post(
        "/v1/presign",
        {
            "session_id": str(spin.id),
            "file_name": "missing.jpg",
            "content_type": "image/jpeg",
            "content_sha256": hashlib.sha256(PHOTO).hexdigest(),
            "frame_index": 11,
        },
        format="json",
    )
    assert upload.status_code == 200, upload.content
    finish_processing(Image.objects.get(pk=upload.json()["image_id"]))
    assert ReshootItem.objects.get().status == "fulfilled"


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"frame_index": 24}, "PLACEMENT_CONFLICT"),
        # The body is valid; the session's mode decides it does not fit (as the schema says).
        ({"shot_name": "front"}, "PLACEMENT_CONFLICT"),
        ({}, "PLACEMENT_CONFLICT"),
        ({"frame_index": 1, "reasons": ["nope"]}, "VALIDATION_ERROR"),
    ],
)
def test_a_reshoot_request_names_a_frame_of_the_spin(api, reviewer, spin, fields, code):
    response = api(reviewer).post(
        "/v1/reshoots", {"session_id": str(spin.id), **fields}, format="json"
    )
    assert response.json()["error"]["code"] == code
    assert not ReshootItem.objects.exists()


def test_only_reviewers_and_admins_request_reshoots(api, operator, device, outsider, spin):
    body = {"session_id": str(spin.id), "frame_index": 1}
    assert api(operator).post("/v1/reshoots", body, format="json").status_code == 403
    assert api(device).post("/v1/reshoots", body, format="json").status_code == 403
    assert api(outsider).post("/v1/reshoots", body, format="json").status_code == 404


def test_unknown_reshoot_filters_are_refused(api, reviewer):
    response = api(reviewer).get("/v1/reshoots", {"status": "closed"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert api(reviewer).get("/v1/reshoots", {"session_id": str(uuid.uuid4())}).json()["total"] == 0


# --- helpers


class _Result:
    def __init__(self, *, sharpness: str) -> None:
        self.width, self.height, self.exif = 4032, 3024, {}
        self.qc = {"sharpness": {"score": 400.0, "status": sharpness}}


def finish_processing(image: Image, *, sharpness: str = "pass") -> None:
    """What the worker writes at the end of a processing attempt (the pipeline itself is
    tested on its own; here only the review loop's part of the result matters)."""
    Image.objects.filter(pk=image.pk).update(status=Image.Status.PROCESSING, attempts=1)
    image.refresh_from_db()
    assert (
        _image_finish(
            image=image, token=1, result=_Result(sharpness=sharpness), thumb_keys={}, size=10
        )
        == "processed"
    )


def test_reshoot_items_are_written_as_their_serializer_writes_them(api, reviewer, spin):
    """The list and the session detail write items without DRF (``RESHOOT_ITEM``); both
    must say exactly what the schema's serializer says, fulfilled items included."""
    from images_app.api.review_serializers import RESHOOT_ITEM, ReshootItemOutput
    from images_app.selectors import RESHOOT_COLUMNS

    reject(api(reviewer), frame(spin, 5), reasons=["glare", "blurred"], note="")
    item = ReshootItem.objects.get()
    ReshootItem.objects.filter(pk=item.pk).update(
        replacement=frame(spin, 6), fulfilled_at=item.created_at
    )
    row = ReshootItem.objects.filter(pk=item.pk).values(*RESHOOT_COLUMNS).get()

    assert RESHOOT_ITEM.columns == RESHOOT_COLUMNS
    assert RESHOOT_ITEM.write(row) == ReshootItemOutput(ReshootItem.objects.get()).data


def test_the_session_detail_reads_frames_and_open_reshoots_in_fixed_queries(
    api, reviewer, device, spin, django_assert_num_queries
):
    client = api(device)
    client.get(f"/v1/sessions/{spin.id}")  # the device's last_seen_at
    caches["process"].clear()
    # The caller, the session's row (its ETag), then the session with its open reshoot items
    # and its frames in one statement: the same with none or four.
    with django_assert_num_queries(3):
        client.get(f"/v1/sessions/{spin.id}")
    for index in range(4):
        reject(api(reviewer), frame(spin, index))
    with django_assert_num_queries(3):
        detail = client.get(f"/v1/sessions/{spin.id}").json()
    assert [item["frame_index"] for item in detail["reshoots"]] == [0, 1, 2, 3]


def test_frames_are_written_as_their_serializer_writes_them(api, reviewer, spin):
    from images_app.api.review_serializers import FRAME, FrameOutput
    from images_app.selectors import session_frames

    frame(spin, 1)
    frame(spin, 2, qc={"sharpness": {"score": 12.0, "status": "fail"}, "exposure": {}})
    frames = session_frames(session_id=spin.id)

    assert [FRAME.write(row) for row in frames] == FrameOutput(frames, many=True).data
    assert frames[1]["qc"] == "fail" and frames[1]["qc_reasons"] == ["blurred"]
