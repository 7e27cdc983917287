"""The console's shot-list templates: an organisation's admins create, change and delete
them; everyone else of the organisation reads them (the capture app lists them too).

The items are edited as rows (code, label, category, required, order) rather than as JSON;
every rule is ``sessions_app.shot_lists``' (``shot_list_template_clean``), so what the
console accepts is what the service accepts, and its refusals show on the rows they are
about. Saving and deleting go through the service, which records the audit event.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.access import console_may, staff_actor
from accounts.admin_scoping import ScopedAdmin, is_platform_operator
from imaging.api.errors import ApplicationError
from sessions_app.models import ShotListTemplate
from sessions_app.shot_lists import (
    ITEM_CODE_MAX_LENGTH,
    ITEM_LABEL_MAX_LENGTH,
    MANAGE_ACTION,
    STILLS_MAX,
    shot_list_template_clean,
    shot_list_template_delete,
    shot_list_template_save,
    shot_list_templates_ensure,
)

# Empty rows offered under the items; saving and continuing offers more.
EXTRA_ITEM_ROWS = 3
TEMPLATE_FIELDS = ("name", "spin_frame_count", "block_publishing_below_full_coverage")


class ShotListItemForm(forms.Form):
    """One item row. The fields only read the row; the service judges it (required
    fields included), so its messages are the ones shown."""

    code = forms.CharField(
        required=False,
        strip=True,
        max_length=ITEM_CODE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 18}),
    )
    label = forms.CharField(
        required=False,
        strip=False,  # the service strips, and refuses what is left empty
        max_length=ITEM_LABEL_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 28}),
    )
    category = forms.ChoiceField(
        choices=ShotListTemplate.Category.choices,
        initial=ShotListTemplate.Category.EXTERIOR,
    )
    required = forms.BooleanField(required=False, initial=True)


ShotListItemFormSet = forms.formset_factory(
    ShotListItemForm,
    extra=EXTRA_ITEM_ROWS,
    can_order=True,
    can_delete=True,
    max_num=STILLS_MAX,
    validate_max=True,
)


class ShotListTemplateForm(forms.ModelForm):
    """The template's fields, and its items as a formset (``items_formset``)."""

    # Set by ShotListTemplateAdmin.get_form: the org a new template goes to (None for the
    # platform operator, who chooses it).
    console_org_id: Any = None

    class Meta:
        model = ShotListTemplate
        fields = ("org", *TEMPLATE_FIELDS)
        labels = {
            "spin_frame_count": "Spin frames",
            "block_publishing_below_full_coverage": "Block publishing below full coverage",
        }
        help_texts = {
            "spin_frame_count": "The frames of a spin made from this template when the capture "
            "app does not say (empty: 24).",
            "block_publishing_below_full_coverage": "Ticked: a session publishes nothing until "
            "every required item is covered. Not ticked: the console only warns.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        initial = [
            {**item, "ORDER": position}
            for position, item in enumerate(self.instance.items or [], start=1)
        ]
        self.items_formset = ShotListItemFormSet(
            self.data if self.is_bound else None,
            prefix="items",
            initial=None if self.is_bound else initial,
        )
        self.template_fields: dict[str, Any] | None = None

    def _org_id(self, cleaned: dict[str, Any]) -> Any:
        if not self.instance._state.adding:
            return self.instance.org_id
        if self.console_org_id is not None:
            return self.console_org_id
        org = cleaned.get("org")
        return org.pk if org is not None else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        formset = self.items_formset
        if not formset.is_valid():
            raise forms.ValidationError("Correct the item rows below.")
        rows = formset.ordered_forms
        items = [
            {key: row.cleaned_data.get(key) for key in ("code", "label", "category", "required")}
            for row in rows
        ]
        org_id = self._org_id(cleaned)
        if org_id is None:
            return cleaned  # the org field says what is missing
        try:
            self.template_fields = shot_list_template_clean(
                org_id=org_id,
                template_id=None if self.instance._state.adding else self.instance.pk,
                name=cleaned.get("name") or "",
                items=items,
                spin_frame_count=cleaned.get("spin_frame_count"),
                block_publishing_below_full_coverage=bool(
                    cleaned.get("block_publishing_below_full_coverage")
                ),
            )
        except ApplicationError as exc:
            self._show(exc.details, rows)
        return cleaned

    def _show(self, details: dict[str, Any], rows: list[forms.Form]) -> None:
        """The service's refusal, each message where it belongs."""
        for field, problems in details.items():
            if field == "items" and isinstance(problems, dict):
                for index, by_key in problems.items():
                    row = rows[int(index)]
                    for key, messages in by_key.items():
                        for message in messages:
                            row.add_error(key if key in row.fields else None, message)
                self.add_error(None, "Correct the item rows below.")
            elif field == "items":
                for message in problems:
                    self.add_error(None, f"Items: {message}")
            elif field in self.fields:
                if field not in self.errors:  # the field's own check already spoke
                    for message in problems:
                        self.add_error(field, message)
            else:
                for message in problems:
                    self.add_error(None, message)


@admin.register(ShotListTemplate)
class ShotListTemplateAdmin(ScopedAdmin):
    """Everyone of the organisation reads its templates; admins manage them
    (``shot_list_template.manage`` in ``accounts.access``)."""

    form = ShotListTemplateForm
    change_form_template = "admin/sessions_app/shotlisttemplate/change_form.html"
    list_display = ("name", "item_count", "spin_frames", "coverage_policy")
    search_fields = ("name",)
    ordering = ("name", "id")

    # --- permissions: the access policy's action, not only the role list

    def _may_manage(self, request: HttpRequest) -> bool:
        return console_may(request.user, MANAGE_ACTION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request)

    # --- out of scope is a 404 first, whatever the role may do (Django checks a POST's
    # permission before it says the object is missing)

    def _out_of_scope(self, request: HttpRequest, object_id: str) -> bool:
        return self.get_object(request, unquote(object_id)) is None

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if self._out_of_scope(request, object_id):
            return self.not_found_response(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        if self._out_of_scope(request, object_id):
            return self.not_found_response(request)
        return super().delete_view(request, object_id, extra_context)

    # --- the list

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return ("name", "org", *self.list_display[1:])
        return self.list_display

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_platform_operator(request.user):
            return queryset.select_related("org")
        return queryset

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        actor = staff_actor(request.user)
        if actor is not None:
            # As the API does: an organisation that has none starts with the default.
            shot_list_templates_ensure(org_id=actor.org_id)
        return super().changelist_view(request, extra_context)

    @admin.display(description="items")
    def item_count(self, template: ShotListTemplate) -> str:
        total, required = len(template.items), len(template.required_codes)
        return f"{total} ({required} required, {total - required} optional)"

    @admin.display(description="spin frames", ordering="spin_frame_count")
    def spin_frames(self, template: ShotListTemplate) -> str:
        return str(template.spin_frame_count) if template.spin_frame_count else "24 (default)"

    @admin.display(
        description="below full coverage", ordering="block_publishing_below_full_coverage"
    )
    def coverage_policy(self, template: ShotListTemplate) -> str:
        return (
            "publishing blocked"
            if template.block_publishing_below_full_coverage
            else "warning only"
        )

    # --- the change page

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None and is_platform_operator(request.user):
            return ("org", *TEMPLATE_FIELDS)
        return TEMPLATE_FIELDS

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.console_org_id = None if is_platform_operator(request.user) else request.user.org_id
        return form

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        editable = self.has_add_permission(request) if add else self.has_change_permission(request)
        form = context["adminform"].form
        context["items_formset"] = form.items_formset if editable else None
        context["items_rows"] = [] if obj is None else obj.items
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(
        self, request: HttpRequest, obj: ShotListTemplate, form: Any, change: bool
    ) -> None:
        assert form.template_fields is not None  # the form is valid
        saved = shot_list_template_save(
            actor=request.user,
            template=obj if change else None,
            org_id=None if change else (form.console_org_id or obj.org_id),
            **form.template_fields,
        )
        # The admin goes on with ``obj`` (log entry, response): make it the saved row.
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: ShotListTemplate) -> None:
        shot_list_template_delete(actor=request.user, template=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for template in queryset:
            shot_list_template_delete(actor=request.user, template=template)
