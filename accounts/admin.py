"""Console pages for organisations, sites, users, devices and enrollment codes.

Only an organisation's ``admin`` (and superusers) manage these; reviewers and operators do
not see them. Everything is scoped to the admin's organisation (``accounts.admin_scoping``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from accounts.access import sites_of_another_org
from accounts.actors import Actor
from accounts.admin_scoping import ADMIN_ONLY, ScopedAdmin, is_platform_operator
from accounts.models import Device, EnrollmentCode, Organization, Site, User
from accounts.services import (
    device_revoke,
    enrollment_code_create,
    org_email_domains_clean,
    user_email_clean,
)
from imaging.api.errors import ApplicationError

# Access follows the user's role (accounts.admin_scoping); Django's groups are not used.
admin.site.unregister(Group)


def _org_of(request: HttpRequest) -> Organization | None:
    """The organisation a non-superuser admin works in (new rows go there)."""
    return None if is_platform_operator(request.user) else request.user.org


# --- organisations ----------------------------------------------------------------------


class EmailDomainsField(forms.CharField):
    """A list of domains, edited as one per line; stored canonical (IDNA A-labels)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        try:
            return org_email_domains_clean(domains=text.replace(",", " ").split())
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc


class OrganizationForm(forms.ModelForm):
    email_domains = EmailDomainsField(
        required=False,
        label="Email domains",
        help_text="One per line. When set, the organisation's admins may give users "
        "addresses at these domains only. Empty: any address.",
    )

    class Meta:
        model = Organization
        fields = ("name", "enrollment_policy", "qc_thresholds", "email_domains")


@admin.register(Organization)
class OrganizationAdmin(ScopedAdmin):
    """Superusers manage every organisation; an org admin edits only their own settings.

    The email domains say which addresses the org's admins may provision, so only
    superusers set them."""

    view_roles = ADMIN_ONLY
    form = OrganizationForm
    list_display = ("name", "enrollment_policy", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk=actor.org_id)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return self.readonly_fields
        return ("name", "email_domains", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user)


# --- sites ------------------------------------------------------------------------------


class SiteForm(forms.ModelForm):
    # Set by SiteAdmin.get_form for an org admin, whose form has no org field.
    console_org: Organization | None = None

    class Meta:
        model = Site
        fields = ("org", "name")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        org = self.console_org or cleaned.get("org")
        name = (cleaned.get("name") or "").strip()
        if org is not None and name:
            taken = Site.objects.filter(org=org, name=name).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("name", f"{org} already has a site called {name!r}.")
        return cleaned


@admin.register(Site)
class SiteAdmin(ScopedAdmin):
    view_roles = ADMIN_ONLY
    form = SiteForm
    list_display = ("name", "org", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)
    ordering = ("org__name", "name")
    list_select_related = ("org",)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return self.list_display if is_platform_operator(request.user) else ("name", "created_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return ("org", "name", "created_at")
        return ("name", "created_at")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.console_org = _org_of(request)
        return form

    def save_model(self, request: HttpRequest, obj: Site, form: Any, change: bool) -> None:
        if not change and _org_of(request) is not None:
            obj.org = _org_of(request)
        obj.name = obj.name.strip()
        super().save_model(request, obj, form, change)


# --- users ------------------------------------------------------------------------------


def _clean_email(form: forms.ModelForm) -> str:
    """Canonical, at an allowed domain, not held by anyone: ``user_email_clean``'s rules."""
    try:
        return user_email_clean(
            email=form.cleaned_data["email"],
            org=form.console_org,
            any_domain=form.console_org is None,  # superusers provision any address
            user=None if form.instance._state.adding else form.instance,
        )
    except ApplicationError as exc:
        raise forms.ValidationError(exc.message) from exc


class _SitesOfOneOrg:
    """A user's or device's sites must belong to its organisation (``accounts.access``)."""

    console_org: Organization | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # type: ignore[misc]
        org = self.console_org or cleaned.get("org") or getattr(self.instance, "org", None)
        sites = cleaned.get("sites") or []
        if sites_of_another_org(org_id=org.id if org else None, sites=sites):
            self.add_error("sites", "Choose sites of its own organisation.")  # type: ignore[attr-defined]
        return cleaned


class DeviceForm(_SitesOfOneOrg, forms.ModelForm):
    """A device's site limits: sites of its own organisation only."""

    class Meta:
        model = Device
        fields = ("sites",)


class ConsoleUserCreationForm(_SitesOfOneOrg, AdminUserCreationForm):
    """A new user; a password only for break-glass accounts (everyone else uses SSO)."""

    class Meta:
        model = User
        fields = ("email", "name", "org", "role", "sites", "is_staff")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "usable_password" in self.fields:
            self.fields["usable_password"].initial = "false"

    def clean_email(self) -> str:
        return _clean_email(self)


class ConsoleUserChangeForm(_SitesOfOneOrg, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, Any] = {}

    def clean_email(self) -> str:
        return _clean_email(self)


@admin.register(User)
class UserAdmin(ScopedAdmin, DjangoUserAdmin):
    """Users of the organisation. An org admin never sees or makes superusers."""

    view_roles = ADMIN_ONLY
    form = ConsoleUserChangeForm
    add_form = ConsoleUserCreationForm
    list_display = ("email", "name", "role", "is_staff", "is_active", "sign_in")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("email", "name")
    ordering = ("email",)
    filter_horizontal = ()
    autocomplete_fields = ("sites",)
    readonly_fields = ("last_login", "date_joined")

    def scope(self, queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(org_id=actor.org_id, is_superuser=False)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return ("email", "name", "org", "role", "is_staff", "is_superuser", "is_active")
        return self.list_display

    def get_list_filter(self, request: HttpRequest) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return ("is_superuser", "org", *self.list_filter)
        return self.list_filter

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        platform = is_platform_operator(request.user)
        who = ("email", "name", "org", "role") if platform else ("email", "name", "role")
        if obj is None:
            return (
                (None, {"fields": (*who, "sites", "is_staff")}),
                (
                    "Password (break-glass accounts only; everyone else signs in with SSO)",
                    {"fields": ("usable_password", "password1", "password2")},
                ),
            )
        access = (
            ("is_active", "is_staff", "is_superuser") if platform else ("is_active", "is_staff")
        )
        return (
            (None, {"fields": (*who, "sites")}),
            ("Access", {"fields": access}),
            ("Sign-in", {"fields": ("oidc_issuer", "oidc_subject", "password")}),
            ("Dates", {"fields": ("last_login", "date_joined")}),
        )

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any):
        form = super().get_form(request, obj, **kwargs)
        form.console_org = _org_of(request)
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if is_platform_operator(request.user):
            return self.readonly_fields
        # The provider links identities on first login; an org admin typing one in could
        # bind someone else's and would learn from the uniqueness error which exist.
        return (*self.readonly_fields, "oidc_issuer", "oidc_subject")

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "sites" and not is_platform_operator(request.user):
            kwargs["queryset"] = Site.objects.filter(org_id=request.user.org_id)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        org = _org_of(request)
        if org is not None:
            obj.org = org
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # People leave: deactivate them, so the audit trail still names them.
        return is_platform_operator(request.user)

    @admin.display(description="Sign-in")
    def sign_in(self, user: User) -> str:
        methods = []
        if user.oidc_subject:
            methods.append("SSO")
        if user.has_usable_password():
            methods.append("password")
        return " + ".join(methods) or "SSO (not linked yet)"


# --- devices ----------------------------------------------------------------------------


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return (("no", "Active"), ("yes", "Revoked"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(Device)
class DeviceAdmin(ScopedAdmin):
    """Enrolled capture devices; revoking one stops its tokens on their next request."""

    view_roles = ADMIN_ONLY
    list_display = (
        "model",
        "platform",
        "app_version",
        "last_seen_at",
        "created_at",
        "active",
        "site_names",
    )
    list_filter = (RevokedFilter, "platform", "last_seen_at")
    search_fields = ("model", "app_version")
    ordering = ("-last_seen_at", "-created_at", "id")
    fields = (
        "model",
        "platform",
        "app_version",
        "sites",
        "last_seen_at",
        "created_at",
        "revoked_at",
        "enrolled_with",
    )
    readonly_fields = (
        "model",
        "platform",
        "app_version",
        "last_seen_at",
        "created_at",
        "revoked_at",
        "enrolled_with",
    )
    autocomplete_fields = ("sites",)
    actions = ("revoke",)
    form = DeviceForm

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("sites")

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "sites" and not is_platform_operator(request.user):
            kwargs["queryset"] = Site.objects.filter(org_id=request.user.org_id)
            kwargs["help_text"] = "None: the device may capture at every site."
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices enroll themselves with a code

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the sessions and events still name the device

    @admin.display(boolean=True, description="active", ordering="revoked_at")
    def active(self, device: Device) -> bool:
        return device.revoked_at is None

    @admin.display(description="sites")
    def site_names(self, device: Device) -> str:
        return ", ".join(site.name for site in device.sites.all()) or "all"

    @admin.action(description="Revoke selected devices", permissions=["administer"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for device in queryset.filter(revoked_at__isnull=True):
            device_revoke(device=device, actor=request.user)
            revoked += 1
        self.message_user(
            request,
            f"Revoked {revoked} device(s); their tokens no longer work.",
            messages.SUCCESS,
        )


# --- enrollment codes -------------------------------------------------------------------


class EnrollmentCodeAddForm(forms.ModelForm):
    uses = forms.IntegerField(
        min_value=1, max_value=10_000, initial=1, help_text="How many devices may enroll."
    )
    expires_in_days = forms.IntegerField(min_value=1, max_value=365, initial=7)

    class Meta:
        model = EnrollmentCode
        fields = ("org", "label")


@admin.register(EnrollmentCode)
class EnrollmentCodeAdmin(ScopedAdmin):
    """Codes that let new devices enroll. The plain code is shown once, right after creation;
    only its hash is stored."""

    view_roles = ADMIN_ONLY
    list_display = ("__str__", "uses_left", "expires_at", "usable", "created_at")
    search_fields = ("label",)
    ordering = ("-created_at", "id")
    readonly_fields = ("org", "created_at")

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any):
        if obj is None:
            kwargs["form"] = EnrollmentCodeAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            add = ("label", "uses", "expires_in_days")
            return ("org", *add) if is_platform_operator(request.user) else add
        return ("org", "label", "uses_left", "expires_at", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    @admin.display(boolean=True)
    def usable(self, code: EnrollmentCode) -> bool:
        return code.is_usable

    def save_model(self, request: HttpRequest, obj: EnrollmentCode, form: Any, change: bool):
        if change:
            return super().save_model(request, obj, form, change)
        code, plain = enrollment_code_create(
            org=_org_of(request) or form.cleaned_data["org"],
            uses=form.cleaned_data["uses"],
            expires_in=timedelta(days=form.cleaned_data["expires_in_days"]),
            label=form.cleaned_data.get("label", ""),
        )
        # The admin goes on with ``obj`` (log entry, response): make it the created row.
        obj.pk = code.pk
        obj.refresh_from_db()
        obj._state.adding = False
        request._plain_enrollment_code = plain  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: EnrollmentCode, post_url_continue=None):
        plain = getattr(request, "_plain_enrollment_code", None)
        if plain is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered here rather than put in a message: messages travel in a cookie.
        context = {
            **self.admin_site.each_context(request),
            "title": "Enrollment code created",
            "opts": self.opts,
            "code": obj,
            "plain_code": plain,
        }
        response: HttpResponse = TemplateResponse(
            request, "admin/accounts/enrollmentcode/created.html", context
        )
        add_never_cache_headers(response)
        return response
