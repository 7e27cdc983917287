"""Duplicates and spin health in the console: the review page's badges and marks, the
side-by-side page, "not a duplicate", and the image list's filter."""

from __future__ import annotations

import pytest
from django.urls import reverse

from images_app.models import DuplicateDismissal, ImageSignature
from images_app.tests.test_duplicates import car_frame, processed_photo
from sessions_app.tests.console import console, review_url
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3")]


@pytest.fixture
def pair(org, site):
    first = CaptureSessionFactory(org=org, site=site, vehicle=VehicleFactory(org=org))
    second = CaptureSessionFactory(org=org, site=site, vehicle=VehicleFactory(org=org))
    return processed_photo(first, car_frame(3)), processed_photo(second, car_frame(3))


def duplicates_url(image) -> str:
    return reverse("admin:images_app_image_duplicates", args=[image.pk])


def test_the_review_page_badges_a_duplicate_with_a_link_to_the_side_by_side_view(reviewer, pair):
    a, _ = pair
    page = console(reviewer).get(review_url(a.session)).content.decode()
    assert "Possible duplicate" in page
    assert duplicates_url(a) in page


def test_the_side_by_side_page_shows_both_photos_and_who_they_belong_to(reviewer, pair):
    a, b = pair
    page = console(reviewer).get(duplicates_url(a)).content.decode()
    assert f'data-other="{b.pk}"' in page
    assert b.vehicle.vin in page
    assert "possible wrong vehicle or reused photo" in page
    assert "identical file" in page


def test_not_a_duplicate_persists_and_clears_the_badges(reviewer, pair):
    a, b = pair
    client = console(reviewer)
    response = client.post(duplicates_url(a), {"other": str(b.pk)})
    assert response.status_code == 302
    assert DuplicateDismissal.objects.count() == 1
    assert set(ImageSignature.objects.values_list("duplicate_state", flat=True)) == {""}
    assert f'data-other="{a.pk}"' not in client.get(duplicates_url(b)).content.decode()


def test_an_operator_may_look_but_not_dismiss(operator, pair):
    a, b = pair
    client = console(operator)
    assert client.get(duplicates_url(a)).status_code == 200
    assert client.post(duplicates_url(a), {"other": str(b.pk)}).status_code == 403
    assert not DuplicateDismissal.objects.exists()


def test_another_orgs_image_is_a_404(outsider, pair):
    a, _ = pair
    assert console(outsider).get(duplicates_url(a)).status_code == 404


def test_the_image_list_filters_flagged_duplicates(reviewer, pair, org, site):
    lone = processed_photo(CaptureSessionFactory(org=org, site=site), car_frame(27))
    url = reverse("admin:images_app_image_changelist") + "?duplicate=any"
    page = console(reviewer).get(url)
    shown = {image.pk for image in page.context["cl"].result_list}
    assert shown == {pair[0].pk, pair[1].pk}
    assert lone.pk not in shown


def test_the_coverage_strip_marks_the_frames_spin_health_found(reviewer, org, site):
    session = CaptureSessionFactory(
        org=org, site=site, shot_list={"studio360": {"frame_count": 12}}
    )
    numbers = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34]
    numbers[9] = numbers[8]  # the photo of frame 8 uploaded again as frame 9
    for position, number in enumerate(numbers):
        processed_photo(session, car_frame(number), frame_index=position, angle_deg=position * 30)
    page = console(reviewer).get(review_url(session)).content.decode()
    assert 'id="spin-health" data-status="unhealthy"' in page
    assert "Frame 9 repeats frame 8." in page
    assert 'data-index="9" data-angle="270"' in page
    assert " spin-duplicate" in page  # the strip's slot
    assert '<li class="spin-duplicate" data-index="9">' in page  # the line below the strip
