"""The console's shot-list template editor: admins create, change and delete templates as
item rows; the rows are judged by the service (form errors, never a 500); other roles read
only; another organisation's template is a 404; sessions made from a template get its
items through the API."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from events_app.models import Event
from sessions_app.models import ShotListTemplate
from sessions_app.shot_lists import (
    DEFAULT_NAME,
    shot_list_template_default,
    shot_list_template_delete,
    shot_list_template_save,
)
from sessions_app.tests.console import changelist_rows, console
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/sessions_app/shotlisttemplate/"
ADD = "/admin/sessions_app/shotlisttemplate/add/"
VIN = "1HGCM82633A004352"

THREE = [
    {"code": "front", "label": "Front", "category": "exterior", "required": True},
    {"code": "dash", "label": "Dashboard", "category": "interior", "required": True},
    {"code": "keys", "label": "Keys", "category": "detail", "required": False},
]


def change_url(template: ShotListTemplate) -> str:
    return reverse("admin:sessions_app_shotlisttemplate_change", args=[template.pk])


def delete_url(template: ShotListTemplate) -> str:
    return reverse("admin:sessions_app_shotlisttemplate_delete", args=[template.pk])


def form_data(
    *,
    name: str = "Small lot",
    items: list[dict] = THREE,
    spin_frame_count: int | str = "",
    block: bool = False,
    initial_rows: int = 0,
    extra_rows: int = 0,
    **more: str,
) -> dict[str, str]:
    """The POST the change page sends: the template's fields, then one row per item (in
    the order given, numbered), then ``extra_rows`` untouched empty rows."""
    data = {
        "name": name,
        "spin_frame_count": str(spin_frame_count),
        "items-TOTAL_FORMS": str(len(items) + extra_rows),
        "items-INITIAL_FORMS": str(initial_rows),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
        **more,
    }
    if block:
        data["block_publishing_below_full_coverage"] = "on"
    for index, item in enumerate(items):
        data[f"items-{index}-ORDER"] = str(item.get("ORDER", index + 1))
        data[f"items-{index}-code"] = item["code"]
        data[f"items-{index}-label"] = item["label"]
        data[f"items-{index}-category"] = item["category"]
        if item["required"]:
            data[f"items-{index}-required"] = "on"
        if item.get("DELETE"):
            data[f"items-{index}-DELETE"] = "on"
    for index in range(len(items), len(items) + extra_rows):
        # An empty row as the page renders it: category and required at their initials.
        data[f"items-{index}-category"] = "exterior"
        data[f"items-{index}-required"] = "on"
    return data


def errors_of(response) -> list[str]:
    """The error messages a form page shows (field, row and form errors)."""
    return [
        unescape(" ".join(re.sub(r"<[^>]+>", " ", message).split()))
        for message in re.findall(
            r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
        )
    ]


# --- creating a template, then a session from it


def test_an_admin_creates_a_template_and_a_device_starts_a_session_from_it(
    admin, device, site, api, org
):
    response = console(admin).post(ADD, form_data(spin_frame_count=36, block=True, extra_rows=3))

    assert response.status_code == 302, errors_of(response)
    template = ShotListTemplate.objects.get(org=org, name="Small lot")
    assert template.items == THREE
    assert (template.spin_frame_count, template.block_publishing_below_full_coverage) == (36, True)
    event = Event.objects.get(type=Event.Type.TEMPLATE_CREATED)
    assert (event.org_id, event.entity_type, event.entity_id) == (org.id, "template", template.id)
    assert (event.actor_type, event.actor_id) == ("user", admin.id)
    assert event.meta["items"] == ["front", "dash", "keys"]

    listed = api(device).get("/v1/shot-list-templates").json()
    assert [t["name"] for t in listed] == ["Small lot"]  # no default once the org has one
    assert listed[0]["items"] == THREE

    body = {"site_id": str(site.id), "vehicle": {"vin": VIN}, "shot_list_template_id": None}
    body["shot_list_template_id"] = str(template.id)
    stills = api(device).post("/v1/sessions", {**body, "mode": "stills"}, format="json")
    assert stills.status_code == 201, stills.content
    assert stills.json()["shot_list"]["stills"] == ["front", "dash", "keys"]
    assert stills.json()["shot_list_template_id"] == str(template.id)
    spin = api(device).post("/v1/sessions", {**body, "mode": "studio360"}, format="json")
    assert spin.status_code == 201, spin.content
    assert spin.json()["shot_list"]["studio360"] == {"frame_count": 36}


def test_rows_are_saved_in_the_order_of_their_numbers_and_deleted_rows_go(admin, org):
    template = shot_list_template_save(
        actor=admin,
        name="Lot",
        items=THREE,
        spin_frame_count=None,
        block_publishing_below_full_coverage=False,
    )
    page = console(admin).get(change_url(template))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="items-0-code" value="front"' in html
    assert 'name="items-3-code"' in html  # empty rows to add items

    rows = [
        {**THREE[0], "ORDER": 3},
        {**THREE[1], "ORDER": 1, "label": "  Dashboard, lit  "},
        {**THREE[2], "ORDER": 2, "DELETE": True},
        {"code": "vin_plate", "label": "VIN plate", "category": "detail", "required": True},
    ]
    response = console(admin).post(
        change_url(template), form_data(name="Lot", items=rows, initial_rows=3, extra_rows=2)
    )

    assert response.status_code == 302, errors_of(response)
    template.refresh_from_db()
    assert [(i["code"], i["label"]) for i in template.items] == [
        ("dash", "Dashboard, lit"),
        ("front", "Front"),
        ("vin_plate", "VIN plate"),
    ]
    event = Event.objects.get(type=Event.Type.TEMPLATE_CHANGED)
    assert event.meta["changed"]["items"] == {
        "from": ["front", "dash", "keys"],
        "to": ["dash", "front", "vin_plate"],
    }


# --- refusals are form errors


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [THREE[0], {**THREE[1], "code": "front"}],
            "The code 'front' is already used above; codes are unique.",
        ),
        (
            [{**THREE[0], "code": "Front-Left"}],
            "A code is 1-50 characters of a-z, 0-9 and '_', starting with a letter or digit.",
        ),
        (
            [{**THREE[0], "code": "_front"}],
            "A code is 1-50 characters of a-z, 0-9 and '_', starting with a letter or digit.",
        ),
        ([{**THREE[0], "label": "   "}], "A label may not be empty."),
        ([{**THREE[0], "label": "Front\u202e"}], "A label may not contain control characters."),
        (
            [{**THREE[0], "category": "roof"}],
            "Select a valid choice. roof is not one of the available choices.",
        ),
        ([{**THREE[0], "code": ""}], "A code is 1-50 characters"),
        ([], "Items: A template has at least one item."),
        ([{**THREE[0], "DELETE": True}], "Items: A template has at least one item."),
        (
            [
                {"code": f"shot_{n}", "label": f"Shot {n}", "category": "detail", "required": True}
                for n in range(101)
            ],
            "Please submit at most 100 forms.",
        ),
    ],
    ids=[
        "duplicate-code",
        "bad-slug",
        "leading-underscore",
        "empty-label",
        "control-character",
        "unknown-category",
        "empty-code",
        "no-items",
        "all-deleted",
        "too-many",
    ],
)
def test_invalid_rows_are_form_errors(admin, org, rows, expected):
    response = console(admin).post(ADD, form_data(items=rows))

    assert response.status_code == 200
    assert any(expected in message for message in errors_of(response)), errors_of(response)
    assert not ShotListTemplate.objects.filter(name="Small lot").exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "Ensure this value has at most 100 characters"),
        ({"name": "dealership DEFAULT"}, "name", "There is already a template called"),
        ({"spin_frame_count": 361}, "spin_frame_count", "Must be empty or a whole number"),
        ({"spin_frame_count": 0}, "spin_frame_count", "Must be empty or a whole number"),
        ({"spin_frame_count": "many"}, "spin_frame_count", "Enter a whole number."),
    ],
)
def test_invalid_fields_are_form_errors(admin, org, fields, field, expected):
    shot_list_template_default(org_id=org.id)

    response = console(admin).post(ADD, form_data(**fields))

    assert response.status_code == 200
    assert any(expected in message for message in errors_of(response)), errors_of(response)
    assert ShotListTemplate.objects.filter(org=org).count() == 1


def test_a_duplicate_name_on_change_is_a_form_error_and_keeping_ones_own_name_is_fine(admin, org):
    shot_list_template_default(org_id=org.id)
    mine = shot_list_template_save(
        actor=admin,
        name="Lot",
        items=THREE,
        spin_frame_count=None,
        block_publishing_below_full_coverage=False,
    )
    client = console(admin)

    taken = client.post(change_url(mine), form_data(name=DEFAULT_NAME, initial_rows=3))
    assert taken.status_code == 200
    assert f"There is already a template called '{DEFAULT_NAME}'." in errors_of(taken)

    kept = client.post(change_url(mine), form_data(name="Lot", initial_rows=3, block=True))
    assert kept.status_code == 302, errors_of(kept)
    mine.refresh_from_db()
    assert mine.block_publishing_below_full_coverage is True


def test_another_org_may_use_the_same_name(admin, org, other_org):
    shot_list_template_save(
        actor=None,
        org_id=other_org.id,
        name="Small lot",
        items=THREE,
        spin_frame_count=None,
        block_publishing_below_full_coverage=False,
    )
    assert console(admin).post(ADD, form_data()).status_code == 302


# --- roles and tenancy


@pytest.mark.parametrize("role", ["reviewer", "operator"])
def test_reviewers_and_operators_read_templates_but_change_nothing(request, org, role):
    user = request.getfixturevalue(role)
    template = shot_list_template_default(org_id=org.id)
    client = console(user)

    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "Add shot list template" not in listing.content.decode()
    page = client.get(change_url(template))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<code>front_3q_left</code>" in html and 'name="items-0-code"' not in html

    assert client.get(ADD).status_code == 403
    assert client.post(ADD, form_data()).status_code == 403
    assert client.post(change_url(template), form_data(initial_rows=3)).status_code == 403
    assert client.post(delete_url(template), {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [str(template.pk)], "post": "yes"}
    assert client.post(CHANGELIST, bulk).status_code == 403
    template.refresh_from_db()
    assert template.name == DEFAULT_NAME and len(template.items) == 17
    assert ShotListTemplate.objects.filter(org=org).count() == 1
    assert not Event.objects.exists()


def test_the_service_refuses_reviewers_and_other_orgs(reviewer, admin, outsider, org):
    from imaging.api.errors import ApplicationError

    template = shot_list_template_default(org_id=org.id)
    fields = dict(
        name="X", items=THREE, spin_frame_count=None, block_publishing_below_full_coverage=False
    )
    with pytest.raises(ApplicationError) as refused:
        shot_list_template_save(actor=reviewer, **fields)
    assert refused.value.status_code == 403
    with pytest.raises(ApplicationError) as hidden:
        shot_list_template_save(actor=outsider, template=template, **fields)
    assert hidden.value.status_code == 404
    with pytest.raises(ApplicationError) as hidden:
        shot_list_template_delete(actor=outsider, template=template)
    assert hidden.value.status_code == 404
    assert ShotListTemplate.objects.filter(org=org).count() == 1


def test_another_orgs_template_is_a_404_by_url(admin, other_org):
    theirs = shot_list_template_default(org_id=other_org.id)
    client = console(admin)

    assert client.get(change_url(theirs)).status_code == 404
    assert client.post(change_url(theirs), form_data(initial_rows=3)).status_code == 404
    assert client.get(delete_url(theirs)).status_code == 404
    assert client.post(delete_url(theirs), {"post": "yes"}).status_code == 404
    bulk = {"action": "delete_selected", "_selected_action": [str(theirs.pk)], "post": "yes"}
    client.post(CHANGELIST, bulk)
    theirs.refresh_from_db()  # still there
    assert theirs.name == DEFAULT_NAME
    assert "Southside" not in client.get(CHANGELIST).content.decode()


# --- deleting


def test_deleting_a_template_leaves_its_sessions_their_shot_list(admin, org, site):
    template = shot_list_template_save(
        actor=admin,
        name="Lot",
        items=THREE,
        spin_frame_count=None,
        block_publishing_below_full_coverage=True,
    )
    session = CaptureSessionFactory(
        org=org,
        site=site,
        mode="stills",
        shot_list={"stills": ["front", "dash", "keys"]},
        shot_list_template=template,
    )
    client = console(admin)
    confirm = client.get(delete_url(template))
    assert confirm.status_code == 200

    response = client.post(delete_url(template), {"post": "yes"})

    assert response.status_code == 302
    assert not ShotListTemplate.objects.filter(pk=template.pk).exists()
    session.refresh_from_db()
    assert session.shot_list == {"stills": ["front", "dash", "keys"]}
    assert session.shot_list_template_id is None
    event = Event.objects.get(type=Event.Type.TEMPLATE_DELETED)
    assert (event.entity_id, event.meta["name"], event.meta["sessions"]) == (template.pk, "Lot", 1)


def test_the_bulk_delete_action_records_each_deletion(admin, org):
    templates = [
        shot_list_template_save(
            actor=admin,
            name=name,
            items=THREE,
            spin_frame_count=None,
            block_publishing_below_full_coverage=False,
        )
        for name in ("A", "B")
    ]
    bulk = {
        "action": "delete_selected",
        "_selected_action": [str(t.pk) for t in templates],
        "post": "yes",
    }
    assert console(admin).post(CHANGELIST, bulk).status_code == 302
    assert not ShotListTemplate.objects.filter(org=org).exists()
    assert Event.objects.filter(type=Event.Type.TEMPLATE_DELETED).count() == 2


def test_a_renamed_default_is_not_made_again(admin, org, api, device):
    default = shot_list_template_default(org_id=org.id)
    response = console(admin).post(
        change_url(default),
        form_data(name="Our standard", items=default.items, initial_rows=17),
    )
    assert response.status_code == 302, errors_of(response)
    names = [t["name"] for t in api(device).get("/v1/shot-list-templates").json()]
    assert names == ["Our standard"]


# --- the list


def test_the_changelist_shows_items_spin_frames_and_policy(admin, org):
    client = console(admin)
    client.get(CHANGELIST)  # the org's first visit makes the default
    shot_list_template_save(
        actor=admin,
        name="Small lot",
        items=THREE,
        spin_frame_count=36,
        block_publishing_below_full_coverage=True,
    )

    rows = changelist_rows(client.get(CHANGELIST))

    # One row per template, by name.
    assert [row[1:] for row in rows] == [
        ["Dealership default", "17 (14 required, 3 optional)", "24", "warning only"],
        ["Small lot", "3 (2 required, 1 optional)", "36", "publishing blocked"],
    ]


def test_the_changelist_takes_the_same_queries_for_2_or_20_templates(
    admin, org, django_assert_num_queries
):
    client = console(admin)
    client.get(CHANGELIST)  # the default, and the content-type cache
    for total in (2, 20):
        for n in range(ShotListTemplate.objects.filter(org=org).count(), total):
            ShotListTemplate.objects.create(org=org, name=f"Template {n:02}", items=THREE)
        # The Django session, the user, whether the org has a template, the counts (shown
        # and unfiltered), the page.
        with django_assert_num_queries(6):
            page = client.get(CHANGELIST)
        assert len(changelist_rows(page)) == total


def test_the_pages_set_no_inline_style(admin, org):
    template = shot_list_template_default(org_id=org.id)
    client = console(admin)
    for url in (CHANGELIST, ADD, change_url(template)):
        html = client.get(url).content.decode()
        assert " style=" not in html and "<style" not in html, url


def test_the_platform_operator_chooses_the_organisation_of_a_new_template(org, other_org):
    from accounts.models import User

    root = User.objects.create_superuser("root@platform.example", "pw-for-root-1")
    client = console(root)

    missing = client.post(ADD, form_data())
    assert missing.status_code == 200
    assert "This field is required." in errors_of(missing)

    response = client.post(ADD, form_data(org=str(other_org.pk)))
    assert response.status_code == 302, errors_of(response)
    template = ShotListTemplate.objects.get(name="Small lot")
    assert template.org_id == other_org.id
    assert Event.objects.get(type=Event.Type.TEMPLATE_CREATED).org_id == other_org.id
    assert "Southside Cars" in client.get(CHANGELIST).content.decode()
