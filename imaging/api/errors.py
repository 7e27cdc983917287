"""The one error envelope of the API and the exception handler that produces it.

Every error — validation, auth, not found, rate limit, unhandled — leaves as
``{"error": {"code", "message", "details"}, "request_id"}`` and never leaks internals.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business-rule failure with its HTTP status and machine-readable code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.details = details or {}


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "SERVICE_UNAVAILABLE"
    default_detail = "A service this request depends on is unavailable; try again shortly."


_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "MALFORMED_REQUEST",
    exceptions.ValidationError: "VALIDATION_ERROR",
    exceptions.AuthenticationFailed: "UNAUTHORIZED",
    exceptions.NotAuthenticated: "UNAUTHORIZED",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "RATE_LIMITED",
}

_MESSAGES = {
    400: "The request is not valid.",
    401: "Authentication credentials were missing or invalid.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    415: "Unsupported media type: send application/json.",
    429: "Rate limit exceeded.",
    500: "Internal server error.",
    503: "Service unavailable.",
}


def current_request_id(request: Any) -> str | None:
    return getattr(request, "request_id", None) or getattr(
        getattr(request, "_request", None), "request_id", None
    )


def envelope(
    request: Any,
    status_code: int,
    code: str,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message or _MESSAGES.get(status_code, "Error."),
            "details": details or {},
        },
        "request_id": current_request_id(request),
    }


def error_response(
    request: Any, status_code: int, code: str, message: str | None = None, details=None
) -> JsonResponse:
    """For plain Django views and middleware (outside DRF)."""
    return JsonResponse(envelope(request, status_code, code, message, details), status=status_code)


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [detail]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    headers: dict[str, str] = {}

    if isinstance(exc, ApplicationError):
        body = envelope(request, exc.status_code, exc.code, exc.message, exc.details)
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        exc = ServiceUnavailable()
        headers["Retry-After"] = "5"

    if not isinstance(exc, exceptions.APIException):
        if isinstance(exc, DatabaseError):
            logger.exception("database error")
        else:
            logger.exception("unhandled error")
        return Response(envelope(request, 500, "INTERNAL_ERROR"), status=500)

    code = _CODES.get(type(exc)) or str(getattr(exc, "default_code", "ERROR")).upper()
    for cls, mapped in _CODES.items():
        if isinstance(exc, cls):
            code = mapped
            break
    details: dict[str, Any] = {}
    message = None
    if isinstance(exc, exceptions.ValidationError):
        details = _validation_details(exc.detail)
        message = "The request is not valid."
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 60)
        headers["Retry-After"] = str(max(wait, 1))
        details = {"retry_after": max(wait, 1)}
        message = "Rate limit exceeded; retry later."
    elif isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        # A fixed message: never echo which token classes or checks were tried.
        message = str(exc.detail) if getattr(exc, "safe_message", False) else None
    elif isinstance(exc.detail, str):
        message = str(exc.detail)

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    response = Response(
        envelope(request, exc.status_code, code, message, details),
        status=exc.status_code,
        headers=headers,
    )
    return response
