"""Access tokens for devices and users, issued and read with simplejwt.

Claims follow the contract (``sub``, ``org_id``, ``role``, ``exp``; users also ``site_ids``),
plus ``typ`` (``device`` or ``user``) so one kind of token is never accepted as the other.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import Device, User


class DeviceToken(Token):
    token_type = "device"
    lifetime = settings.DEVICE_TOKEN_LIFETIME


class UserToken(Token):
    token_type = "user"
    lifetime = settings.USER_TOKEN_LIFETIME


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
