"""The admin site of the review console: its titles, the SSO link on the login page, and the
throttled password login.

Installed in place of ``django.contrib.admin`` (``INSTALLED_APPS``), so ``admin.site`` and
``@admin.register`` refer to this site everywhere.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.urls import reverse


class ConsoleAdminSite(admin.AdminSite):
    site_header = "360 Imaging"
    site_title = "360 Imaging console"
    index_title = "Review console"
    site_url = None  # there is no public site to "view"

    @property
    def login_form(self) -> type:  # type: ignore[override]
        from imaging.admin_login import ThrottledAuthenticationForm

        return ThrottledAuthenticationForm

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["oidc_login_url"] = oidc_login_url()
        return context


def oidc_login_url() -> str | None:
    """Where "Sign in with your organisation" starts, or None when OIDC is not configured."""
    if not settings.OIDC_OP_AUTHORIZATION_ENDPOINT:
        return None
    return reverse("oidc_authentication_init")


class ConsoleAdminConfig(AdminConfig):
    default_site = "imaging.admin_site.ConsoleAdminSite"
