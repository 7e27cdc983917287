"""Request ids and body-size limits, applied before any view runs."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
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


def _too_large(request: HttpRequest) -> HttpResponse:
    return error_response(
        request,
        413,
        "PAYLOAD_TOO_LARGE",
        f"Request body over {settings.API_MAX_BODY_BYTES} bytes.",
        {"max_bytes": settings.API_MAX_BODY_BYTES},
    )


def _read_chunked_body(request: HttpRequest) -> HttpResponse | None:
    """Reads a chunked API body (one the server de-chunks: ``wsgi.input_terminated``) into
    the request, at most one byte past the limit; an error response instead when it cannot.

    Django only reads a body by its Content-Length, so without this a chunked body reached
    the view empty. Nothing past the limit is read: a bigger body is a 413 at that point.
    """
    if not request.environ.get("wsgi.input_terminated"):
        # The server hands over the raw stream, whose end this app cannot find.
        return error_response(
            request, 411, "LENGTH_REQUIRED", "Send the body with a Content-Length."
        )
    limit = settings.API_MAX_BODY_BYTES
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    received = 0
    try:
        while received <= limit:
            part = stream.read(limit + 1 - received)
            if not part:
                break
            parts.append(part)
            received += len(part)
    except Exception:  # the server's error for a malformed chunk, or a client gone mid-body
        return error_response(request, 400, "MALFORMED_REQUEST", "Malformed chunked body.")
    if received > limit:
        return _too_large(request)
    body = b"".join(parts)
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._stream = LimitedStream(io.BytesIO(body), len(body))
    return None


class BodySizeLimitMiddleware:
    """Refuses an oversized API body from its Content-Length, before anything reads it; a
    chunked body (no Content-Length) is read here, up to the same limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/v1/"):
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                refused = _read_chunked_body(request)
                return refused or self.get_response(request)
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(request, 400, "MALFORMED_REQUEST", "Bad Content-Length.")
            if length > settings.API_MAX_BODY_BYTES:
                return _too_large(request)
        return self.get_response(request)
