"""The shot-list template editor in a real browser: an admin fills item rows, a refused row
shows its message, and the saved template is what the API lists."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from sessions_app.models import ShotListTemplate
from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


def test_an_admin_adds_a_template_row_by_row(page, org):
    admin = UserFactory(org=org, role=User.Role.ADMIN, email="ada@north.example")

    log_in(page, admin)
    page.click("text=Shot list templates")
    assert "Dealership default" in page.locator("#result_list").inner_text()
    page.click("text=Add shot list template")

    page.fill("#id_name", "Small lot")
    page.fill("#id_spin_frame_count", "36")
    rows = [("front", "Front", "exterior", True), ("front", "Dashboard", "interior", True)]
    for index, (code, label, category, required) in enumerate(rows):
        page.fill(f"#id_items-{index}-ORDER", str(index + 1))
        page.fill(f"#id_items-{index}-code", code)
        page.fill(f"#id_items-{index}-label", label)
        page.select_option(f"#id_items-{index}-category", category)
        page.set_checked(f"#id_items-{index}-required", required)
    page.click("input[name=_continue]")

    # The duplicate code is refused on its row; nothing was saved.
    assert "already used above" in page.locator("#items-1").inner_text()
    assert not ShotListTemplate.objects.filter(name="Small lot").exists()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "shot-list-template.png"), full_page=True)

    page.fill("#id_items-1-code", "dash")
    page.fill("#id_items-2-code", "keys")
    page.fill("#id_items-2-label", "Keys")
    page.select_option("#id_items-2-category", "detail")
    page.set_checked("#id_items-2-required", False)
    page.click("input[name=_save]")

    page.wait_for_url("**/admin/sessions_app/shotlisttemplate/")
    template = ShotListTemplate.objects.get(org=org, name="Small lot")
    assert [(i["code"], i["required"]) for i in template.items] == [
        ("front", True),
        ("dash", True),
        ("keys", False),
    ]
    assert template.spin_frame_count == 36
    assert "3 (2 required, 1 optional)" in page.locator("#result_list").inner_text()
