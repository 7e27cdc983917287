"""Content-Security-Policy for the admin console (Django 5.2 has none built in).

The console's pages load only their own scripts and styles (Django's admin and
sessions_app/static; no inline script, style element or style attribute), so an injected
``<script>`` or ``style=`` does nothing. Photos come from presigned S3 URLs: the public S3
endpoint's origin is allowed as an image source, read from the settings on each request
(tests point them at their own store).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


@functools.lru_cache(maxsize=8)
def console_policy(s3_public_endpoint: str) -> str:
    parts = urlsplit(s3_public_endpoint)
    s3_origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' {s3_origin}".strip(),
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Sets the console's policy on responses under ``CSP_PATH_PREFIXES``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(tuple(settings.CSP_PATH_PREFIXES)) and HEADER not in response:
            response[HEADER] = console_policy(settings.S3_PUBLIC_ENDPOINT_URL)
        return response
