"""Secrets and signatures (Standard Webhooks, with the ``standardwebhooks`` package)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_new() -> str:
    """``whsec_`` + base64 of 32 random bytes: what ``Webhook(secret)`` takes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def msg_id_new() -> str:
    return "msg_" + secrets.token_urlsafe(18)


class Signer:
    """Signs with an endpoint's secrets (decoded once, for a batch of its messages)."""

    def __init__(self, signing_secrets: Iterable[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in signing_secrets]

    def header(self, *, msg_id: str, timestamp: datetime, body: bytes) -> str:
        """``v1,<base64>`` per secret, space-separated (the new secret's first)."""
        return " ".join(
            webhook.sign(msg_id=msg_id, timestamp=timestamp, data=body)
            for webhook in self._webhooks
        )
