"""Bearer-token authentication for the API.

The token only identifies the caller; the database decides on every request whether the
device is still enrolled or the user still active, so revocation takes effect at once.
"""

from __future__ import annotations

import functools
import uuid

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import signing
from accounts.actors import Actor
from accounts.models import Device
from accounts.selectors import device_enrolled_get, user_active_get
from accounts.tokens import TOKEN_CLASSES, ReadToken
from imaging.api import ratelimit
from imaging.api.schema import BearerJWTScheme

# Writing last_seen_at on every request would turn every read into a write.
LAST_SEEN_RESOLUTION_SECONDS = 60


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "Invalid or expired token."


def read_token(raw: str) -> ReadToken:
    """Decode and verify a token of either kind; raise InvalidToken otherwise."""
    token = _verified(raw)
    try:
        token.check_exp(current_time=aware_utcnow())
    except TokenError as exc:
        raise InvalidToken() from exc
    # The key that signed it may have been revoked (or run out) since it was kept.
    if not signing.still_trusted(token.kid):
        raise InvalidToken()
    return token


# Verifying a signature (PyJWT) is an eighth of a small API request's CPU, and a client
# sends the same token for hours: a verified token is kept by its exact text, and only its
# expiry and its key's standing (in memory) are checked again. A bad token is never kept.
@functools.lru_cache(maxsize=4096)
def _verified(raw: str) -> ReadToken:
    try:
        # Signature (by the key its kid names) and expiry; the kind is the "typ" claim.
        token = ReadToken(raw)
        if str(token.get("typ")) not in TOKEN_CLASSES:
            raise InvalidToken()
        uuid.UUID(str(token["sub"]))
        uuid.UUID(str(token["org_id"]))
    except (TokenError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken() from exc
    return token


def principal_for(token: Token) -> Actor:
    principal_id, org_id = uuid.UUID(str(token["sub"])), uuid.UUID(str(token["org_id"]))
    if token["typ"] == "device":
        device = device_enrolled_get(device_id=principal_id, org_id=org_id)
        if device is None:
            raise InvalidToken()
        now = timezone.now()
        if (
            device.last_seen_at is None
            or (now - device.last_seen_at).total_seconds() > LAST_SEEN_RESOLUTION_SECONDS
        ):
            Device.objects.filter(pk=device.pk).update(last_seen_at=now)
            device.last_seen_at = now
        return Actor(kind="device", org_id=device.org_id, device=device)
    user = user_active_get(user_id=principal_id, org_id=org_id)
    if user is None:
        raise InvalidToken()
    return Actor(kind="user", org_id=user.org_id, user=user)


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <jwt>``; failed attempts count against a per-IP limit."""

    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        try:
            if header[0].lower() != self.keyword or len(header) != 2:
                raise InvalidToken()
            token = read_token(header[1].decode("ascii"))
            actor = principal_for(token)
        except (InvalidToken, UnicodeDecodeError) as exc:
            # Floods of bad tokens are limited before they can probe anything else.
            ratelimit.check_anonymous(request)
            raise InvalidToken() from exc
        request.actor = actor
        return (actor.user or actor.device, token)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(BearerJWTScheme):
    target_class = TokenAuthentication
