"""The admin's password login, throttled per account and per client IP.

Imported when the login page is first served: the admin site module is loaded before the
auth models exist.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from imaging.api.ratelimit import Charge, RateLimited, client_ip, take

logger = logging.getLogger(__name__)


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin's password login, limited per account and per client IP.

    Every attempt is charged to both counters before the password is checked (atomically, so
    parallel guesses cannot slip past the limit); a successful login gives its charge back.
    So at most ``ADMIN_LOGIN_FAILURES_PER_ACCOUNT`` wrong passwords per account, and
    ``ADMIN_LOGIN_FAILURES_PER_IP`` per IP, are checked in a window; further attempts get a
    message and no password check. With the counter store down the limit is not enforced
    (as for the API): break-glass accounts exist for outages.
    """

    # Not Django's UsernameField: its NFKC would turn look-alikes (K, fullwidth) into ASCII.
    # The user model's canonical form decides which account an address names.
    username = forms.CharField(
        max_length=254,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocapitalize": "none", "autocomplete": "username"}
        ),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Try again in %(minutes)d min.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        charges = self._charge(username)
        super().clean()  # raises on a wrong password: the charges stay
        for charge in charges:
            charge.refund()
        return self.cleaned_data

    def _charge(self, username: str) -> list[Charge]:
        account = get_user_model().normalize_username(username)
        account_key = hashlib.sha256(account.encode("utf-8", "replace")).hexdigest()[:32]
        limits = {
            "admin_login_ip": settings.ADMIN_LOGIN_FAILURES_PER_IP,
            "admin_login_account": settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT,
        }
        charges: list[Charge] = []
        for bucket, key in (
            ("admin_login_ip", client_ip(self.request)),
            ("admin_login_account", account_key),
        ):
            try:
                charges.append(
                    take(
                        bucket,
                        key,
                        limits[bucket],
                        window_seconds=settings.ADMIN_LOGIN_WINDOW_SECONDS,
                    )
                )
            except RateLimited as exc:
                for charge in charges:  # a refused attempt uses up nothing
                    charge.refund()
                logger.warning("admin password login refused: %s over its limit", bucket)
                raise ValidationError(
                    self.error_messages["throttled"],
                    code="throttled",
                    params={"minutes": max(1, -(-int(exc.wait) // 60))},
                ) from exc
        return charges
