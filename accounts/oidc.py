"""OIDC: id_token verification for ``POST /auth/login`` and the admin's browser flow.

Both paths go through mozilla-django-oidc's ``OIDCAuthenticationBackend`` (``verify_token`` →
``retrieve_matching_jwk`` → ``get_payload_data``, whose signature and claims check is our own
``claims_verify``, not the library's private ``_verify_jws``), with each step replaced
where the library is too lenient for us: it accepts tokens for another client, from another
issuer or without ``exp``; lets its own exceptions escape as 500s; defaults to HS256; and
fetches the JWKS on every call without a timeout.

Identity is ``(iss, sub)``. A pre-provisioned user is linked by email on the first login only
when the provider says the email is verified, and only when its canonical form
(``accounts.emails``) is exactly the user's. Users are never created here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from rest_framework import status

from accounts.emails import UnusableEmail, email_canonical
from accounts.models import User
from imaging.api.errors import ApplicationError

logger = logging.getLogger(__name__)

# Asymmetric only: an HS* token could be "signed" with the provider's public key.
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
ALLOWED_ALGORITHMS = tuple(KEY_TYPES)
CLOCK_LEEWAY_SECONDS = 30
# An unknown kid may mean the provider rotated its keys: refetch, but at most once per window,
# so tokens with made-up kids cannot make us hammer the provider.
JWKS_REFETCH_INTERVAL_SECONDS = 60
# After a failed fetch, answer 503 at once for a while instead of every login waiting out
# the timeout (which would tie up the web workers during a provider outage).
JWKS_FAILURE_BACKOFF_SECONDS = 5
JWKS_MAX_BYTES = 256 * 1024
SUBJECT_MAX_LENGTH = 255  # User.oidc_subject


class InvalidIdToken(ApplicationError):
    """The id_token is not one we accept; ``reason`` goes to the log, never to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "UNAUTHORIZED", "Invalid OIDC token.", status_code=status.HTTP_401_UNAUTHORIZED
        )
        self.reason = reason


class ProviderUnavailable(ApplicationError):
    def __init__(self, message: str = "The identity provider is unavailable; try again.") -> None:
        super().__init__(
            "SERVICE_UNAVAILABLE", message, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
        )


class NoAccount(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "FORBIDDEN",
            "No active user of an organisation has this identity.",
            status_code=status.HTTP_403_FORBIDDEN,
        )


def oidc_configured() -> bool:
    return bool(
        settings.OIDC_OP_ISSUER and settings.OIDC_OP_JWKS_ENDPOINT and settings.OIDC_RP_CLIENT_ID
    )


# --- JWKS: fetched with a deadline, cached in Django's cache (shared by all workers via Redis)


def _cache_key(kind: str) -> str:
    endpoint = hashlib.sha256(settings.OIDC_OP_JWKS_ENDPOINT.encode()).hexdigest()[:16]
    return f"oidc:{kind}:{endpoint}"


def _cache_call(method: str, *args: Any) -> Any:
    """A cache that is down only costs us caching, never the login."""
    try:
        return getattr(cache, method)(*args)
    except Exception:
        logger.warning("cache unavailable for the OIDC JWKS (%s)", method)
        return None


def _jwks_download() -> dict[str, Any]:
    timeout = settings.OIDC_TIMEOUT
    # ``timeout`` bounds each socket operation; the deadline bounds a provider that drips.
    deadline = time.monotonic() + 2 * timeout
    body = bytearray()
    with requests.get(
        settings.OIDC_OP_JWKS_ENDPOINT,
        timeout=timeout,
        verify=settings.OIDC_VERIFY_SSL,
        proxies=getattr(settings, "OIDC_PROXY", None),
        headers={"Accept": "application/json"},
        allow_redirects=False,
        stream=True,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=16 * 1024):
            body += chunk
            if len(body) > JWKS_MAX_BYTES:
                raise ValueError("JWKS document too large")
            if time.monotonic() > deadline:
                raise requests.Timeout("JWKS download exceeded its deadline")
    jwks = json.loads(body)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    return jwks


def _jwks_fetch() -> dict[str, Any]:
    if _cache_call("get", _cache_key("jwks-down")):
        raise ProviderUnavailable()
    try:
        jwks = _jwks_download()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OIDC JWKS fetch failed: %s", exc.__class__.__name__)
        _cache_call("set", _cache_key("jwks-down"), True, JWKS_FAILURE_BACKOFF_SECONDS)
        raise ProviderUnavailable() from exc
    _cache_call("set", _cache_key("jwks"), jwks, settings.OIDC_JWKS_CACHE_SECONDS)
    return jwks


def _matching_jwk(jwks: dict[str, Any], *, kid: str, alg: str) -> dict[str, Any] | None:
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        if jwk.get("kty") != KEY_TYPES[alg]:
            continue
        if alg == "ES256" and jwk.get("crv") != "P-256":
            continue
        return jwk
    return None


def signing_key_find(*, kid: str, alg: str) -> jwt.PyJWK:
    """The provider's key for ``kid``: cached JWKS, refetched (bounded) when the kid is new."""
    jwks = _cache_call("get", _cache_key("jwks"))
    fetched_now = jwks is None
    if fetched_now:
        jwks = _jwks_fetch()
    jwk = _matching_jwk(jwks, kid=kid, alg=alg)
    if (
        jwk is None
        and not fetched_now
        and _cache_call("add", _cache_key("jwks-refetch"), True, JWKS_REFETCH_INTERVAL_SECONDS)
    ):
        jwk = _matching_jwk(_jwks_fetch(), kid=kid, alg=alg)
    if jwk is None:
        raise InvalidIdToken(f"no {alg} key with kid {kid[:64]!r} in the provider's JWKS")
    try:
        return jwt.PyJWK(jwk, algorithm=alg)
    except jwt.PyJWTError as exc:
        raise InvalidIdToken(f"unusable JWK {kid[:64]!r}: {exc}") from exc


# --- Token checks that mozilla-django-oidc leaves out


def _header(token: Any) -> dict[str, Any]:
    if not isinstance(token, str) or not token:
        raise InvalidIdToken("no token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidIdToken(f"malformed token: {exc}") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidIdToken(f"algorithm {str(header.get('alg'))[:16]!r} is not accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise InvalidIdToken("no kid in the token header")
    return header


def _numeric_date(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    # PyJWT would also take "1700000000" or true; a provider never sends those.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdToken(f"{name} is not a number")
    return int(value)


def _claims_check(claims: dict[str, Any]) -> None:
    """What PyJWT's decode does not cover: azp, token age, types of the identity claims."""
    client_id = settings.OIDC_RP_CLIENT_ID
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise InvalidIdToken("azp is another client")
    if len(audiences) > 1 and azp is None:
        raise InvalidIdToken("several audiences and no azp")

    now = time.time()
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            _numeric_date(claims, name)
    if now - claims["iat"] > settings.OIDC_MAX_TOKEN_AGE_SECONDS + CLOCK_LEEWAY_SECONDS:
        raise InvalidIdToken("issued too long ago")

    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX_LENGTH:
        raise InvalidIdToken("sub is not a usable identifier")


class StrictOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with complete id_token verification.

    Signature by a key from the provider's JWKS (RS256 or ES256 only), ``iss`` equal to
    ``OIDC_OP_ISSUER``, ``aud`` containing ``OIDC_RP_CLIENT_ID`` (``azp`` equal to it when
    present, required when there are several audiences), ``exp`` and ``iat`` present, ``exp``
    not past, ``nbf`` and ``iat`` not in the future, ``iat`` within
    ``OIDC_MAX_TOKEN_AGE_SECONDS``. Every failure is an ``InvalidIdToken`` (401); a provider
    that cannot be reached is ``ProviderUnavailable`` (503).
    """

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        key = self.retrieve_matching_jwk(token)
        claims = self.get_payload_data(token, key)
        # Only the browser flow has a nonce of its own to compare; API clients ran their own flow.
        if "nonce" in kwargs and self.get_settings("OIDC_USE_NONCE", True):
            expected = kwargs["nonce"]
            if not expected or claims.get("nonce") != expected:
                raise InvalidIdToken("nonce does not match")
        return claims

    def filter_users_by_claims(self, claims: dict[str, Any]):
        # The library's version matches email__iexact; nothing of ours calls it, and should
        # anything ever do, it gets the exact canonical match.
        try:
            return User.objects.filter(email=email_canonical(claims.get("email")))
        except UnusableEmail:
            return User.objects.none()

    def retrieve_matching_jwk(self, token: Any) -> jwt.PyJWK:
        header = _header(token)
        return signing_key_find(kid=header["kid"], alg=header["alg"])

    def get_payload_data(self, token: Any, key: jwt.PyJWK) -> dict[str, Any]:
        # Never the library's OIDC_ALLOW_UNSECURED_JWT shortcut.
        return self.claims_verify(token, key)

    def claims_verify(self, token: Any, key: jwt.PyJWK) -> dict[str, Any]:
        _header(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=settings.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_OP_ISSUER,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"{exc.__class__.__name__}: {exc}") from exc
        _claims_check(claims)
        return claims


def id_token_verify(*, id_token: str) -> dict[str, Any]:
    """The verified claims of an id_token from our provider, issued to our client."""
    if not oidc_configured():
        raise ProviderUnavailable("OIDC login is not configured on this server.")
    try:
        return StrictOIDCBackend().verify_token(id_token)
    except InvalidIdToken as exc:
        logger.info("OIDC id_token refused: %s", exc.reason)
        raise


# --- Users


def _user_by_verified_email(*, issuer: str, subject: str, claims: dict[str, Any]) -> User | None:
    """Link a pre-provisioned user who has no OIDC identity yet, on a verified email only."""
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or not email:
        return None
    try:
        # Exactly the stored canonical form: a look-alike (dotless i, long s, Kelvin sign,
        # fullwidth letters...) has none, or another one, and links nobody.
        canonical = email_canonical(email)
    except UnusableEmail:
        return None
    candidate = User.objects.filter(email=canonical).first()
    if candidate is None:
        return None
    try:
        with transaction.atomic():
            # Conditional: a user already bound to another identity is never re-bound.
            linked = User.objects.filter(
                pk=candidate.pk, oidc_subject__isnull=True, is_active=True
            ).update(oidc_issuer=issuer, oidc_subject=subject)
    except IntegrityError:  # the same identity was linked concurrently
        linked = 0
    if linked:
        logger.info("OIDC identity linked to user %s by verified email", candidate.pk)
    return User.objects.filter(oidc_issuer=issuer, oidc_subject=subject).first()


def oidc_user_find(*, claims: dict[str, Any]) -> User | None:
    """The user with this (issuer, subject), linking one by verified email on first login."""
    issuer, subject = claims["iss"], claims["sub"]
    user = User.objects.filter(oidc_issuer=issuer, oidc_subject=subject).first()
    if user is None:
        user = _user_by_verified_email(issuer=issuer, subject=subject, claims=claims)
    return user


def user_for_oidc_claims(*, claims: dict[str, Any]) -> User:
    """The active organisation member these verified claims identify, or 403."""
    user = oidc_user_find(claims=claims)
    if user is None or not user.is_active or user.org_id is None:
        raise NoAccount()
    return user


def oidc_login(*, id_token: str) -> User:
    """``POST /auth/login``: verify the token, find the user, note the login."""
    user = user_for_oidc_claims(claims=id_token_verify(id_token=id_token))
    user.last_login = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=user.last_login)
    return user


class AdminOIDCBackend(StrictOIDCBackend):
    """Admin login through the provider (``/oidc/authenticate/`` → ``/oidc/callback/``).

    Same verification and user lookup as the API; only active staff get in; never creates
    users. Inert unless OIDC is configured, so password login keeps working.
    """

    def authenticate(self, request, **kwargs):
        # The callback view passes exactly these; a password login passes username/password
        # and is ModelBackend's business.
        if request is None or set(kwargs) - {"nonce", "code_verifier"}:
            return None
        if not (oidc_configured() and settings.OIDC_OP_TOKEN_ENDPOINT):
            return None
        try:
            return super().authenticate(request, **kwargs)
        except InvalidIdToken as exc:
            logger.warning("OIDC admin login refused: %s", exc.reason)
        except (
            ApplicationError,
            SuspiciousOperation,
            requests.RequestException,
            ValueError,
        ) as exc:
            logger.warning("OIDC admin login failed: %s", exc.__class__.__name__)
        return None

    def get_or_create_user(self, access_token, id_token, payload):
        # Identity and email_verified come from the signed id_token, not from userinfo.
        user = oidc_user_find(claims=payload)
        if user is None or not user.is_active or not user.is_staff:
            logger.warning("OIDC admin login refused: no active staff user for this identity")
            return None
        return user

    def get_user(self, user_id):
        # The library's version skips the is_active check that ModelBackend makes.
        return ModelBackend.get_user(self, user_id)
