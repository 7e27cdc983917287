"""Access tokens for devices and users, issued and read with simplejwt.

Claims follow the contract (``sub``, ``org_id``, ``role``, ``exp``; users also ``site_ids``),
plus ``typ`` (``device`` or ``user``) so one kind of token is never accepted as the other.
They are signed and verified with the rotating keys of ``accounts/signing.py`` (the
header's ``kid`` names the key).
"""

from __future__ import annotations

import jwt
from django.conf import settings
from rest_framework_simplejwt.tokens import Token, UntypedToken

from accounts import signing
from accounts.models import Device, User


class _KeyringToken(Token):
    def get_token_backend(self) -> signing.KeyringTokenBackend:  # type: ignore[override]
        return signing.token_backend


class DeviceToken(_KeyringToken):
    token_type = "device"
    lifetime = settings.DEVICE_TOKEN_LIFETIME


class UserToken(_KeyringToken):
    token_type = "user"
    lifetime = settings.USER_TOKEN_LIFETIME


class ReadToken(UntypedToken):
    """A token of either kind read from a request, and the ``kid`` of the key that signed
    it (None for a legacy token), so that a key revoked later also stops it."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.kid: str | None = jwt.get_unverified_header(token).get("kid")

    def get_token_backend(self) -> signing.KeyringTokenBackend:  # type: ignore[override]
        return signing.token_backend


TOKEN_CLASSES: dict[str, type[Token]] = {"device": DeviceToken, "user": UserToken}


def device_token_issue(*, device: Device) -> DeviceToken:
    token = DeviceToken()
    token["sub"] = str(device.id)
    token["org_id"] = str(device.org_id)
    token["role"] = "device"
    return token


def user_token_issue(*, user: User) -> UserToken:
    token = UserToken()
    token["sub"] = str(user.id)
    token["org_id"] = str(user.org_id)
    token["role"] = user.role
    token["site_ids"] = sorted(str(pk) for pk in user.sites.values_list("id", flat=True))
    return token


def token_lifetime_seconds(token: Token) -> int:
    return int(token.lifetime.total_seconds())
