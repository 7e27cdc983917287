"""Request ids and body-size limits, applied before any view runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from imaging.api.errors import error_response


def _well_formed_request_id(value: str | None) -> str | None:
    if not value or len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class RequestIdMiddleware:
    """Gives every request an id (a well-formed incoming X-Request-ID is kept) and echoes it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = _well_formed_request_id(request.headers.get("X-Request-ID")) or str(
            uuid.uuid4()
        )
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class BodySizeLimitMiddleware:
    """Refuses an oversized API body from its Content-Length, before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/v1/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(request, 400, "MALFORMED_REQUEST", "Bad Content-Length.")
            if length > settings.API_MAX_BODY_BYTES:
                return error_response(
                    request,
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"Request body over {settings.API_MAX_BODY_BYTES} bytes.",
                    {"max_bytes": settings.API_MAX_BODY_BYTES},
                )
        return self.get_response(request)
