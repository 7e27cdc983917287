"""The review console in a real browser: log in, turn the spin, publish, and the refusals."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.factories import DeviceFactory, UserFactory
from accounts.tokens import user_token_issue
from events_app.models import Event
from images_app.models import Image
from tests.browser.conftest import ARTIFACTS, EVERY_ANGLE, log_in, processed_spin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]


def review_path(session) -> str:
    return f"/admin/sessions_app/capturesession/{session.pk}/change/"


def test_a_reviewer_turns_the_spin_and_publishes_selected_frames(page, live_server, org, site):
    rig = DeviceFactory(org=org, platform="edge", model="Turntable rig 2")
    session = processed_spin(
        org=org,
        site=site,
        device=rig,
        angles=[a for a in EVERY_ANGLE if a not in (105, 120)],
        blurred=[210],
    )
    reviewer = UserFactory(
        org=org, role=User.Role.REVIEWER, name="Rita Reviewer", email="rita@north.example"
    )
    reviewer.sites.set([site])

    log_in(page, reviewer)
    page.click("text=Capture sessions")
    page.click("text=NMTKHMBX5KR012345")
    page.wait_for_url(f"**{review_path(session)}")

    viewer = page.locator("#spin-viewer")
    # Every frame preloaded (22 of 24 angles exist). A locator assertion, not
    # wait_for_function: that evaluates a string in the page, which its policy forbids.
    expect(viewer).to_have_attribute("data-loaded", "22", timeout=10_000)
    assert page.locator("#spin-coverage-summary").inner_text().startswith("22 of 24 angles")
    assert "Missing 2: 105°, 120°" in page.locator("#spin-coverage-summary").inner_text()
    assert page.locator(".image-card.qc-fail .card-label").inner_text() == "210°"

    # Drag the car: the frame changes.
    first_src = page.get_attribute("#spin-image", "src")
    box = viewer.bounding_box()
    middle_y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, middle_y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, middle_y, steps=8)
    page.mouse.up()
    dragged_to = int(viewer.get_attribute("data-frame"))
    assert dragged_to != 0
    assert page.get_attribute("#spin-image", "src") != first_src
    # The arrow keys turn it one frame at a time, and the slider follows.
    page.keyboard.press("ArrowRight")
    assert int(viewer.get_attribute("data-frame")) == dragged_to + 1
    assert page.input_value("#spin-slider") == str(dragged_to + 1)
    # The slider turns it too: End on the slider is the last frame (345°).
    page.focus("#spin-slider")
    page.keyboard.press("End")
    assert viewer.get_attribute("data-angle") == "345"

    # A click on a thumbnail opens the larger preview with its facts.
    thirty = session.images.get(angle_deg=30)
    page.click(f'.image-card[data-image-id="{thirty.pk}"] .thumb')
    assert page.locator("#image-preview").is_visible()
    assert thirty.thumb_keys["1200"] in page.get_attribute("#preview-image", "src")
    assert "Sharpness" in page.locator("#preview-table").inner_text()
    page.click("#image-preview .close")
    assert not page.locator("#image-preview").is_visible()

    # Publish the first two frames.
    chosen = list(session.images.filter(angle_deg__in=[0, 15]).order_by("angle_deg"))
    for image in chosen:
        page.check(f'.image-card[data-image-id="{image.pk}"] input[name="image"]')
    page.click("#publish-selected")
    page.wait_for_url(f"**{review_path(session)}")
    assert "Published 2 image(s)." in page.locator(".messagelist").inner_text()
    for image in chosen:
        card = page.locator(f'.image-card[data-image-id="{image.pk}"]')
        assert card.get_attribute("data-status") == "published"

    # The page as the README shows it: the car at a three-quarter view, two frames published.
    expect(viewer).to_have_attribute("data-loaded", "22", timeout=10_000)
    viewer.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert viewer.get_attribute("data-angle") == "45"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-page.png"))

    # The API agrees, and the audit trail names the reviewer.
    token = str(user_token_issue(user=reviewer))
    listing = requests.get(
        f"{live_server.url}/v1/images",
        params={"session_id": str(session.pk)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    published = {item["id"] for item in listing["data"] if item["status"] == "published"}
    assert published == {str(image.pk) for image in chosen}
    assert set(
        Event.objects.filter(type=Event.Type.PUBLISHED).values_list("entity_id", "actor_id")
    ) == {(image.pk, reviewer.pk) for image in chosen}


def test_an_operator_sees_no_publish_action_and_a_forged_post_is_refused(
    page, live_server, org, site, operator
):
    session = processed_spin(org=org, site=site, angles=[0, 15, 30])
    log_in(page, operator)
    page.goto(review_path(session))

    assert page.locator(".image-card").count() == 3
    assert page.locator("#publish-selected").count() == 0
    assert page.locator('input[name="image"]').count() == 0

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    image = session.images.first()
    forged = page.request.post(
        f"/admin/sessions_app/capturesession/{session.pk}/review/",
        form={"csrfmiddlewaretoken": csrf, "action": "publish_selected", "image": str(image.pk)},
        headers={"Referer": f"{live_server.url}{review_path(session)}"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert not Image.objects.filter(status=Image.Status.PUBLISHED).exists()


def test_a_reviewer_of_another_org_gets_404_for_the_session_url(
    page, org, site, other_org, other_site_of_other_org
):
    session = processed_spin(org=org, site=site, angles=[0])
    stranger = UserFactory(org=other_org, role=User.Role.REVIEWER, email="sam@south.example")
    stranger.sites.set([other_site_of_other_org])
    log_in(page, stranger)

    response = page.goto(review_path(session))

    assert response.status == 404
    assert "NMTKHMBX5KR012345" not in page.content()
