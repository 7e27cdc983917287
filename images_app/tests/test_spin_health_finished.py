"""A spin session short of the frames it declared: judged as such once it is finished and
none of its frames is still on its way, through the session's refresh and its finish
(``GET /v1/sessions/{id}`` ``spin_health``). Frames are the real bicycle's signatures
(spin_variants.py) stored on processed frames, as the worker leaves them; frame 20 (in one
test frame 1) never came and the device numbered the rest 0-32 with even angles, so only
the pictures and the count can tell."""

from __future__ import annotations

import pytest

from images_app.models import Image
from images_app.spin_health import spin_health_refresh
from images_app.tests import spin_variants
from images_app.tests.image_factories import ImageFactory, processed, signed
from sessions_app.models import CaptureSession
from sessions_app.tests.console import console, review_url
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

BICYCLE = "bicycle_spritespin_34"
HOLE = ("skipped_angles", 20)


def shoot_without_frame(session: CaptureSession, dropped: int) -> None:
    for frame in spin_variants.without_frame(BICYCLE, dropped):
        image = processed(
            ImageFactory(session=session, frame_index=frame.index, angle_deg=frame.angle)
        )
        signed(image, tiny=frame.tiny)


def spin(org, site, device, *, dropped: int = 20, **shot_list) -> CaptureSession:
    session = CaptureSessionFactory(org=org, site=site, device=device, shot_list=shot_list)
    shoot_without_frame(session, dropped)
    return session


def findings(health: dict) -> set[tuple[str, int]]:
    return {(f["type"], f["frame_index"]) for f in health["findings"]}


def finish(api, operator, session, django_capture_on_commit_callbacks) -> dict:
    """Finish the session through the API, its commit hooks run (as after a real commit),
    and read its detail back."""
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        response = api(operator).patch(
            f"/v1/sessions/{session.id}", {"status": "complete"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert hooks, "finishing runs the session-finished hooks on commit"
    return api(operator).get(f"/v1/sessions/{session.id}").json()


def test_finishing_a_spin_short_of_its_declared_frames_reports_the_hole(
    api, operator, reviewer, org, site, device, django_capture_on_commit_callbacks
):
    session = spin(org, site, device, studio360={"frame_count": 34})
    # Uploading: 33 of 34 so far says nothing about a missing frame.
    assert spin_health_refresh(session_id=session.pk)["findings"] == []

    answer = finish(api, operator, session, django_capture_on_commit_callbacks)
    assert findings(answer["spin_health"]) == {HOLE}
    health = api(reviewer).get(f"/v1/sessions/{session.id}").json()["spin_health"]
    assert health["status"] == "unhealthy"
    (finding,) = health["findings"]
    assert finding["message"].startswith("The session declared 34 frames and 33 arrived")


def test_a_frame_still_on_its_way_keeps_the_count_from_being_judged(
    api, operator, org, site, device, django_capture_on_commit_callbacks
):
    session = spin(org, site, device, studio360={"frame_count": 34})
    late = ImageFactory(session=session, frame_index=33, angle_deg=350)
    assert late.status == Image.Status.PENDING
    answer = finish(api, operator, session, django_capture_on_commit_callbacks)
    assert answer["spin_health"]["findings"] == []

    # Processed but not yet signed: still on its way.
    processed(late)
    assert spin_health_refresh(session_id=session.pk)["findings"] == []


def test_a_spin_session_without_a_declared_count_is_judged_from_the_pictures_alone(
    api, operator, org, site, device, django_capture_on_commit_callbacks
):
    session = spin(org, site, device)
    answer = finish(api, operator, session, django_capture_on_commit_callbacks)
    assert answer["spin_health"]["status"] == "ok"


def test_finishing_a_spin_with_no_frame_processed_leaves_its_health_unknown(
    api, operator, org, site, device, django_capture_on_commit_callbacks
):
    session = CaptureSessionFactory(org=org, site=site, device=device)
    answer = finish(api, operator, session, django_capture_on_commit_callbacks)
    assert answer["spin_health"] is None


def test_a_shortfall_the_pictures_cannot_place_still_makes_the_spin_unhealthy(
    api, operator, reviewer, org, site, device, django_capture_on_commit_callbacks
):
    # Frame 1 of the bicycle is side on, where its frames barely change: nothing in the
    # pictures shows where it went, but the count says it is missing.
    session = spin(org, site, device, dropped=1, studio360={"frame_count": 34})
    answer = finish(api, operator, session, django_capture_on_commit_callbacks)
    health = answer["spin_health"]
    assert health["status"] == "unhealthy"
    assert health["findings"] == [
        {
            "type": "skipped_angles",
            "frame_index": None,
            "angle": None,
            "image_id": None,
            "message": (
                "The session declared 34 frames and 33 arrived, their angles consecutive; "
                "the pictures do not show where the missing one was."
            ),
            "missing": 1,
            "after_index": None,
        }
    ]

    # The review page lists it under the coverage strip, marking no frame.
    page = console(reviewer).get(review_url(session))
    assert page.status_code == 200
    html = page.content.decode()
    assert "the pictures do not show where the missing one was" in html
    assert 'data-index="None"' not in html
    assert "data-spin-finding" not in html
