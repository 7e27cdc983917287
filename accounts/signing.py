"""The keys that sign and verify API tokens: rotation without logging anyone out.

- Tokens are signed with the current ``SigningKey`` (EdDSA by default; RS256 for verifiers
  without Ed25519), whose ``kid`` is in the token's header. Verification picks the key by
  ``kid`` and accepts only that key's algorithm, so ``alg: none``, HS256 signed with a
  public key, or a ``kid`` we never made are refused.
- Keys live in the database, so every process shares them and rotation needs no deploy.
  Each process keeps them in memory and re-reads them every ``JWT_KEYS_REFRESH_SECONDS``,
  or at once (at most once a second) when a token names a ``kid`` it does not know yet.
- The first key is made on first use; its private half never leaves the database
  unencrypted (Fernet, with a key derived from ``JWT_SIGNING_KEY``).
- Tokens from before signing keys existed (HS256 with ``JWT_SIGNING_KEY``, no ``kid``)
  keep verifying until the last of them has expired: the first key's creation + a day for
  processes still running the old code + the longest token lifetime. Setting
  ``JWT_LEGACY_HS256=false`` refuses them at once.
"""

from __future__ import annotations

import base64
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwt.algorithms import get_default_algorithms
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from accounts.models import SigningKey

logger = logging.getLogger(__name__)

LEGACY_ALGORITHM = "HS256"
# Processes still running the code from before signing keys may issue legacy tokens for a
# while after the first key exists (a rolling deploy).
LEGACY_ISSUING_GRACE = timedelta(days=1)
UNKNOWN_KID_REFRESH_SECONDS = 1.0


def longest_token_lifetime() -> timedelta:
    return max(settings.DEVICE_TOKEN_LIFETIME, settings.USER_TOKEN_LIFETIME)


# --- private halves at rest


def _fernet() -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"imaging signing keys at rest"
    ).derive(settings.JWT_SIGNING_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _private_key_new(algorithm: str) -> Any:
    if algorithm == SigningKey.Algorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == SigningKey.Algorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def _kid_new() -> str:
    return f"{timezone.now():%Y%m%d}-{secrets.token_hex(4)}"


# --- rotation (writes)


def signing_key_rotate(
    *, algorithm: str | None = None, revoke_previous: bool = False
) -> SigningKey:
    """Make a new current key; the previous one retires and keeps verifying its tokens
    until they expire, or, with ``revoke_previous``, every older key stops verifying now
    (a key that leaked: every token it signed must stop working, at the cost of logins)."""
    algorithm = algorithm or settings.JWT_ALGORITHM
    private = _private_key_new(algorithm)
    now = timezone.now()
    with transaction.atomic():
        previous = list(SigningKey.objects.select_for_update().filter(is_current=True))
        SigningKey.objects.filter(is_current=True).update(
            is_current=None,
            retired_at=now,
            verify_until=now + longest_token_lifetime(),
            private_key_encrypted="",  # a retired key never signs again
        )
        if revoke_previous:
            still_verifying = Q(verify_until__isnull=True) | Q(verify_until__gt=now)
            SigningKey.objects.filter(still_verifying).update(verify_until=now)
        key = SigningKey.objects.create(
            kid=_kid_new(),
            algorithm=algorithm,
            public_key=private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            private_key_encrypted=_fernet()
            .encrypt(
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            .decode(),
            is_current=True,
            created_at=now,
        )
    logger.info(
        "signing key rotated: %s current, retired %s%s",
        key.kid,
        [k.kid for k in previous] or "none",
        " (older keys revoked)" if revoke_previous else "",
    )
    keyring_reset()
    return key


def _first_key_create() -> None:
    """The first key, on first use (development, tests, a fresh deployment)."""
    try:
        with transaction.atomic():
            if not SigningKey.objects.filter(is_current=True).exists():
                signing_key_rotate()
    except IntegrityError:  # another process made it at the same moment: use theirs
        pass


# --- the per-process keyring (reads)


@dataclass(frozen=True)
class _Verifier:
    kid: str
    algorithm: str
    public_key: Any
    until: float  # epoch seconds (inf while the key is current): checked on every request

    def trusted(self) -> bool:
        return time.time() < self.until


def _epoch(moment: datetime | None) -> float:
    return math.inf if moment is None else moment.timestamp()


@dataclass
class _Keyring:
    loaded_at: float = 0.0
    max_age: float = 0.0
    current_kid: str | None = None
    current_private: Any = None
    verifiers: dict[str, _Verifier] = field(default_factory=dict)
    legacy_until: float = -math.inf


# Re-entrant: loading may make the first key, which resets the keyring.
_lock = threading.RLock()
_keyring = _Keyring()


def keyring_reset() -> None:
    """Forget the keys this process holds: the next use reads them again."""
    global _keyring
    with _lock:
        _keyring = _Keyring()


def _load() -> _Keyring:
    now = timezone.now()
    rows = list(
        SigningKey.objects.filter(
            Q(is_current=True) | Q(verify_until__isnull=True) | Q(verify_until__gt=now)
        ).order_by("created_at")
    )
    if not any(row.is_current for row in rows):
        _first_key_create()
        return _load()
    ring = _Keyring(loaded_at=time.monotonic(), max_age=settings.JWT_KEYS_REFRESH_SECONDS)
    for row in rows:
        ring.verifiers[row.kid] = _Verifier(
            kid=row.kid,
            algorithm=row.algorithm,
            public_key=serialization.load_pem_public_key(row.public_key.encode()),
            until=_epoch(row.verify_until),
        )
        if row.is_current:
            ring.current_kid = row.kid
            ring.current_private = row.private_key_encrypted
    first = SigningKey.objects.order_by("created_at").values_list("created_at", flat=True).first()
    if settings.JWT_LEGACY_HS256 and first is not None:
        ring.legacy_until = _epoch(first + LEGACY_ISSUING_GRACE + longest_token_lifetime())
    return ring


def keyring(*, unknown_kid: bool = False) -> _Keyring:
    """This process's keys, re-read when older than ``JWT_KEYS_REFRESH_SECONDS`` (or than
    a second, when a token names a kid we do not know: a key another process just made)."""
    global _keyring
    ring = _keyring
    max_age = UNKNOWN_KID_REFRESH_SECONDS if unknown_kid else ring.max_age
    if ring.loaded_at and time.monotonic() - ring.loaded_at < max_age:
        return ring
    with _lock:
        if _keyring is ring:
            _keyring = _load()
        return _keyring


def _current_signer() -> tuple[str, str, Any]:
    ring = keyring()
    private = ring.current_private
    if isinstance(private, str):  # decrypted on first use only
        try:
            pem = _fernet().decrypt(private.encode())
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                "The current signing key cannot be decrypted with JWT_SIGNING_KEY: restore "
                "it, or run `manage.py signing_key_rotate` to make a new key."
            ) from exc
        private = serialization.load_pem_private_key(pem, password=None)
        ring.current_private = private
    assert ring.current_kid is not None
    return ring.current_kid, ring.verifiers[ring.current_kid].algorithm, private


# --- tokens


def token_sign(payload: dict[str, Any]) -> str:
    kid, algorithm, private = _current_signer()
    return jwt.encode(payload, private, algorithm=algorithm, headers={"kid": kid})


def token_verify(raw: str) -> tuple[dict[str, Any], str | None]:
    """The claims of a token signed by a key we trust, and that key's kid (None: legacy).

    Raises TokenBackendError (TokenBackendExpiredToken when only its time is up).
    """
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.InvalidTokenError as exc:
        raise TokenBackendError("Token is invalid") from exc
    kid = header.get("kid")
    options = {"require": ["exp"]}
    try:
        if kid is None:
            secret = _legacy_secret()
            return jwt.decode(raw, secret, algorithms=[LEGACY_ALGORITHM], options=options), None
        verifier = _verifier(kid)
        public, algorithms = verifier.public_key, [verifier.algorithm]
        return jwt.decode(raw, public, algorithms=algorithms, options=options), kid
    except jwt.ExpiredSignatureError as exc:
        raise TokenBackendExpiredToken("Token is expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenBackendError("Token is invalid") from exc


def _verifier(kid: Any) -> _Verifier:
    if not isinstance(kid, str):
        raise TokenBackendError("Token is invalid")
    verifier = keyring().verifiers.get(kid)
    if verifier is None:
        verifier = keyring(unknown_kid=True).verifiers.get(kid)
    if verifier is None or not verifier.trusted():
        raise TokenBackendError("Token is invalid")
    return verifier


def _legacy_secret() -> str:
    if time.time() >= keyring().legacy_until:
        raise TokenBackendError("Token is invalid")
    return settings.JWT_SIGNING_KEY


def still_trusted(kid: str | None) -> bool:
    """Whether the key that signed an already-verified token is still trusted (a revoked
    or expired key stops its tokens, even those this process verified before)."""
    ring = keyring()
    if kid is None:
        return time.time() < ring.legacy_until
    verifier = ring.verifiers.get(kid)
    return verifier is not None and verifier.trusted()


def jwks() -> dict[str, list[dict[str, Any]]]:
    """The public halves of every key that still verifies, as a JSON Web Key Set."""
    keys = []
    for verifier in keyring().verifiers.values():
        if not verifier.trusted():
            continue
        algorithm = get_default_algorithms()[verifier.algorithm]
        jwk = algorithm.to_jwk(verifier.public_key, as_dict=True)
        keys.append({**jwk, "kid": verifier.kid, "alg": verifier.algorithm, "use": "sig"})
    return {"keys": keys}


class KeyringTokenBackend:
    """What simplejwt's ``Token`` asks to sign and read tokens, backed by the keyring."""

    def encode(self, payload: dict[str, Any]) -> str:
        return token_sign(payload)

    def get_leeway(self) -> timedelta:
        return timedelta(0)

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        if not verify:
            return jwt.decode(str(token), options={"verify_signature": False})
        claims, _kid = token_verify(str(token))
        return claims


token_backend = KeyringTokenBackend()
