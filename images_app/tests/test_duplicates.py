"""Duplicate and wrong-vehicle photos: processed through image_process (real S3), read
through GET /v1/images/{id}; spin health through GET /v1/sessions/{id}."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import ImageEnhance

from images_app import duplicates, storage
from images_app.models import CheckPolicy, Image, ImageSignature
from images_app.services import image_process
from images_app.tests.image_factories import ImageFactory
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]

FIXTURES = Path(__file__).parent / "fixtures"
CAR = FIXTURES / "spin" / "car_toyota_chr_evox_36"


def car_frame(number: int) -> bytes:
    return (CAR / f"12957_sp0640_{number:03d}.jpg").read_bytes()


def reencoded(data: bytes, *, quality: int = 70, brighter: float = 1.05) -> bytes:
    image = ImageEnhance.Brightness(PILImage.open(io.BytesIO(data))).enhance(brighter)
    out = io.BytesIO()
    image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def processed_photo(session, data: bytes, **fields) -> Image:
    image = ImageFactory(session=session, content_sha256=hashlib.sha256(data).hexdigest(), **fields)
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    assert image_process(image_id=image.id) == "processed"
    return image


@pytest.fixture
def two_vins(org, site):
    return (
        CaptureSessionFactory(org=org, site=site, vehicle=VehicleFactory(org=org)),
        CaptureSessionFactory(org=org, site=site, vehicle=VehicleFactory(org=org)),
    )


def test_the_same_photo_on_two_vins_is_flagged_on_both(api, reviewer, two_vins):
    first, second = two_vins
    a = processed_photo(first, car_frame(5))
    b = processed_photo(second, car_frame(5))
    client = api(reviewer)
    for image, other in ((a, b), (b, a)):
        body = client.get(f"/v1/images/{image.id}").json()
        assert body["duplicates"] == [
            {
                "image_id": str(other.id),
                "session_id": str(other.session_id),
                "vehicle_id": str(other.vehicle_id),
                "vin": other.vehicle.vin,
                "stock": other.vehicle.stock,
                "distance": 0,
                "kind": "exact",
                "reason": "possible_wrong_vehicle",
            }
        ]
    states = dict(ImageSignature.objects.values_list("image_id", "duplicate_state"))
    assert states == {a.id: "warn", b.id: "warn"}


def test_a_reencoded_resized_copy_is_a_near_duplicate_and_a_reupload_on_the_same_vehicle(
    api, reviewer, org, site
):
    vehicle = VehicleFactory(org=org)
    first = CaptureSessionFactory(org=org, site=site, vehicle=vehicle)
    again = CaptureSessionFactory(org=org, site=site, vehicle=vehicle)
    a = processed_photo(first, car_frame(12))
    b = processed_photo(again, reencoded(car_frame(12)))
    [match] = api(reviewer).get(f"/v1/images/{b.id}").json()["duplicates"]
    assert match["image_id"] == str(a.id)
    assert match["kind"] == "near"
    assert 0 <= match["distance"] <= duplicates.NEAR_DISTANCE
    assert match["reason"] == "re_upload"


def test_frames_of_one_spin_are_never_duplicates_of_each_other(api, reviewer, org, site):
    session = CaptureSessionFactory(org=org, site=site)
    # Frames 1 and 2 of the car have the same pHash (a side view barely turned).
    a = processed_photo(session, car_frame(1), frame_index=0, angle_deg=0)
    processed_photo(session, car_frame(2), frame_index=1, angle_deg=10)
    assert api(reviewer).get(f"/v1/images/{a.id}").json()["duplicates"] == []


def test_a_dismissed_pair_is_not_reported_again(api, reviewer, two_vins):
    first, second = two_vins
    a = processed_photo(first, car_frame(20))
    b = processed_photo(second, car_frame(20))
    duplicates.duplicate_dismiss(image=a, other=b, user=reviewer)
    assert api(reviewer).get(f"/v1/images/{b.id}").json()["duplicates"] == []
    assert set(ImageSignature.objects.values_list("duplicate_state", flat=True)) == {""}


def test_an_org_that_rejects_duplicates_gets_the_second_copy_rejected(org, two_vins):
    CheckPolicy.objects.create(org=org, duplicates=CheckPolicy.Duplicates.REJECT)
    first, second = two_vins
    a = processed_photo(first, car_frame(30))
    b = processed_photo(second, car_frame(30))
    states = dict(ImageSignature.objects.values_list("image_id", "duplicate_state"))
    assert states == {a.id: "warn", b.id: "rejected"}


def test_another_orgs_identical_photo_is_not_a_duplicate(api, reviewer, org, site, other_org):
    mine = processed_photo(CaptureSessionFactory(org=org, site=site), car_frame(8))
    processed_photo(CaptureSessionFactory(org=other_org), car_frame(8))
    assert api(reviewer).get(f"/v1/images/{mine.id}").json()["duplicates"] == []


def test_a_photo_older_than_the_window_is_not_a_duplicate(api, reviewer, org, two_vins):
    from datetime import timedelta

    from django.utils import timezone

    first, second = two_vins
    old = processed_photo(first, car_frame(9))
    ImageSignature.objects.filter(image_id=old.id).update(
        created_at=timezone.now() - timedelta(days=91)
    )
    new = processed_photo(second, car_frame(9))
    assert api(reviewer).get(f"/v1/images/{new.id}").json()["duplicates"] == []


def test_a_swapped_spin_shows_its_findings_in_the_session(api, reviewer, org, site):
    session = CaptureSessionFactory(org=org, site=site)
    order = list(range(1, 37))
    order[4], order[19] = order[19], order[4]
    for position, number in enumerate(order):
        processed_photo(session, car_frame(number), frame_index=position, angle_deg=position * 10)
    health = api(reviewer).get(f"/v1/sessions/{session.id}").json()["spin_health"]
    assert health["status"] == "unhealthy"
    assert health["direction"] == "clockwise"
    found = {(f["type"], f["frame_index"], f["fits_angle"]) for f in health["findings"]}
    assert found == {("out_of_order", 4, 190), ("out_of_order", 19, 40)}


def test_an_image_with_a_duplicate_is_read_in_a_bounded_number_of_queries(
    api, reviewer, two_vins, django_assert_num_queries
):
    first, second = two_vins
    processed_photo(first, car_frame(14))
    b = processed_photo(second, car_frame(14))
    client = api(reviewer)
    # user, image, signature, org policy, exact, near, dismissed pairs, the other images,
    # and the other image's visibility to this reviewer.
    with django_assert_num_queries(9):
        assert len(client.get(f"/v1/images/{b.id}").json()["duplicates"]) == 1


def test_a_duplicate_on_a_site_the_reviewer_cannot_see_is_not_shown(
    api, reviewer, org, site, other_site
):
    mine = processed_photo(CaptureSessionFactory(org=org, site=site), car_frame(16))
    processed_photo(CaptureSessionFactory(org=org, site=other_site), car_frame(16))
    assert api(reviewer).get(f"/v1/images/{mine.id}").json()["duplicates"] == []


def test_backfill_signs_processed_and_published_images_without_changing_their_status(
    org, site, two_vins
):
    from django.core.management import call_command

    first, second = two_vins
    a = processed_photo(first, car_frame(22))
    processed_photo(second, car_frame(22))
    original = ImageSignature.objects.get(image_id=a.id).phash
    Image.objects.filter(pk=a.pk).update(status=Image.Status.PUBLISHED)
    ImageSignature.objects.all().delete()

    out = io.StringIO()
    call_command("backfill_signatures", stdout=out)

    assert "signed 2 image(s)" in out.getvalue()
    again = ImageSignature.objects.get(image_id=a.id)
    # Made from the stored 1200 px thumbnail rather than the pixels before encoding it.
    assert duplicates.hamming(again.phash, original) <= 2
    assert again.duplicate_state == "warn"
    assert Image.objects.get(pk=a.pk).status == Image.Status.PUBLISHED


def test_backfill_rechecks_the_spins_it_signed(org, site):
    from django.core.management import call_command

    session = CaptureSessionFactory(org=org, site=site)
    for position in range(8):
        processed_photo(
            session, car_frame(position + 1), frame_index=position, angle_deg=position * 10
        )
    ImageSignature.objects.all().delete()
    type(session).objects.filter(pk=session.pk).update(spin_health=None)
    call_command("backfill_signatures", "--session", str(session.id), stdout=io.StringIO())
    session.refresh_from_db()
    assert session.spin_health["frames"] == 8


def test_a_photo_rejected_as_a_duplicate_cannot_be_published_until_dismissed(
    api, reviewer, org, two_vins
):
    CheckPolicy.objects.create(org=org, duplicates=CheckPolicy.Duplicates.REJECT)
    first, second = two_vins
    a = processed_photo(first, car_frame(31))
    b = processed_photo(second, car_frame(31))
    client = api(reviewer)
    response = client.post(f"/v1/images/{b.id}/publish")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PUBLISH_BLOCKED"
    assert response.json()["error"]["details"] == {"reasons": ["duplicate"]}
    # The earlier photo was only flagged: it publishes.
    assert client.post(f"/v1/images/{a.id}/publish").status_code == 200
    duplicates.duplicate_dismiss(image=b, other=a, user=reviewer)
    assert client.post(f"/v1/images/{b.id}/publish").status_code == 200


def test_an_org_that_blocks_unhealthy_spins_cannot_publish_their_frames(api, reviewer, org, site):
    session = CaptureSessionFactory(org=org, site=site)
    numbers = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34]
    numbers[9] = numbers[8]  # the photo of frame 8 uploaded again as frame 9
    images = [
        processed_photo(session, car_frame(n), frame_index=i, angle_deg=i * 30)
        for i, n in enumerate(numbers)
    ]
    client = api(reviewer)
    assert client.post(f"/v1/images/{images[0].id}/publish").status_code == 200  # warn
    CheckPolicy.objects.create(org=org, spin_health=CheckPolicy.SpinHealth.BLOCK)
    response = client.post(f"/v1/images/{images[1].id}/publish")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"reasons": ["unhealthy_spin"]}


def test_the_check_policy_command_sets_an_orgs_policy(org):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command(
        "check_policy",
        "--org",
        str(org.id),
        "--duplicates",
        "reject",
        "--window-days",
        "30",
        stdout=out,
    )
    assert "duplicates reject, window 30 days" in out.getvalue()
    policy = CheckPolicy.objects.get(org=org)
    assert (policy.spin_health, policy.duplicates, policy.duplicate_window_days) == (
        "warn",
        "reject",
        30,
    )
    with pytest.raises(CommandError):
        call_command("check_policy", "--org", "not-an-id", stdout=io.StringIO())


def test_the_exported_manifest_carries_the_spins_health_and_turn_direction(
    org, site, reviewer, tmp_path
):
    import json
    import zipfile

    from images_app.export import session_export
    from images_app.services import image_publish

    session = CaptureSessionFactory(
        org=org, site=site, shot_list={"studio360": {"frame_count": 36}}
    )
    for position in range(36):
        image = processed_photo(
            session, car_frame(1 + position), frame_index=position, angle_deg=position * 10
        )
        image_publish(image=image, actor=reviewer)
    session_export(session=session, destination=tmp_path / "spin.zip")
    with zipfile.ZipFile(tmp_path / "spin.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    health = manifest["session"]["spin_health"]
    assert (health["status"], health["direction"], health["frames"]) == ("ok", "clockwise", 36)
