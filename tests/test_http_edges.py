"""HTTP edges through the real server (gunicorn as the image runs it, DEBUG off): chunked
request bodies, and which errors leave in the API's JSON envelope.

gunicorn answers some malformed requests itself, before the app sees them; those are the
only errors that are not JSON (the last test lists them).
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Iterator

import pytest

from devtools.seaweed import free_ports
from tests.test_deploy import Role, entrypoint, production_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runstack")]

BODY_LIMIT = 4096


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[int]:
    """A migrated production-shaped web (gunicorn) on a free port; yields the port."""
    tmp_path = tmp_path_factory.mktemp("web")
    (port,) = free_ports(1)
    env = production_env(
        tmp_path,
        PORT=str(port),
        WEB_BIND="127.0.0.1",
        WEB_CONCURRENCY="1",
        API_MAX_BODY_BYTES=str(BODY_LIMIT),
    )
    migrated = entrypoint("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    role = Role("web", env)
    try:
        role.wait_for(lambda: exchange(port, b"GET /healthz HTTP/1.1\r\n")[0], "web to answer")
        yield port
    finally:
        role.stop()


def exchange(port: int, head: bytes, body: bytes = b"", *, host: str = "127.0.0.1"):
    """Sends ``head`` (request line and headers, without the blank line) and ``body`` as
    they are, and reads the answer: (status, headers, body); (0, {}, b"") if none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + f"Host: {host}\r\nConnection: close\r\n\r\n".encode() + body)
            response = http.client.HTTPResponse(sock)
            response.begin()
            return response.status, dict(response.getheaders()), response.read()
    except OSError:
        return 0, {}, b""


def chunked(*parts: bytes, end: bool = True) -> bytes:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return framed + (b"0\r\n\r\n" if end else b"")


def post_chunked(port: int, path: str, body: bytes) -> tuple[int, dict, bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    ).encode()
    return exchange(port, head, body)


def envelope(status: int, headers: dict, body: bytes, expected: tuple[int, str]) -> dict:
    assert (status, headers.get("Content-Type")) == (expected[0], "application/json"), body
    parsed = json.loads(body)
    assert set(parsed) == {"error", "request_id"}
    assert parsed["error"]["code"] == expected[1]
    assert parsed["request_id"] == headers["X-Request-ID"]
    return parsed


# --- chunked request bodies -------------------------------------------------------------------


def test_a_chunked_json_body_reaches_the_view_as_sent(web):
    sent = {"org_id": "not-a-uuid", "platform": "ios", "model": "Pixel", "app_version": "1.0"}
    raw = json.dumps(sent).encode()

    answer = post_chunked(web, "/v1/auth/device", chunked(raw[:10], raw[10:]))

    refused = envelope(*answer, expected=(400, "VALIDATION_ERROR"))
    # Only the bad field is named: the others arrived (an empty body would name all four).
    assert set(refused["error"]["details"]) == {"org_id"}


def test_a_chunked_body_within_the_limit_is_parsed_like_any_other(web):
    raw = b'{"model": "Pixel"' + b" " * (BODY_LIMIT - 100) + b"}"

    answer = post_chunked(
        web, "/v1/auth/device", chunked(*(raw[i : i + 500] for i in range(0, len(raw), 500)))
    )

    refused = envelope(*answer, expected=(400, "VALIDATION_ERROR"))
    assert set(refused["error"]["details"]) == {"org_id", "platform", "app_version"}


def test_a_chunked_body_over_the_limit_is_a_413_without_waiting_for_its_end(web):
    # The body never ends: the answer can only come from reading no further than the limit.
    endless = chunked(b"x" * (BODY_LIMIT + 1), end=False)

    answer = post_chunked(web, "/v1/auth/device", endless)

    refused = envelope(*answer, expected=(413, "PAYLOAD_TOO_LARGE"))
    assert refused["error"]["details"] == {"max_bytes": BODY_LIMIT}


def test_a_chunked_body_with_a_malformed_chunk_is_a_400_envelope(web):
    answer = post_chunked(web, "/v1/auth/device", b"5\r\n{}\r\nzz\r\n0\r\n\r\n")

    envelope(*answer, expected=(400, "MALFORMED_REQUEST"))


# --- errors the app answers: JSON everywhere ---------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/sessions", "/admin/login/", "/healthz"])
def test_a_host_outside_allowed_hosts_is_a_400_envelope(web, path):
    answer = exchange(web, f"GET {path} HTTP/1.1\r\n".encode(), host="evil.example")

    envelope(*answer, expected=(400, "MALFORMED_REQUEST"))


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/nothing-here", "/static/nothing.css"])
def test_an_unknown_path_is_a_404_envelope_inside_and_outside_the_api(web, path):
    answer = exchange(web, f"GET {path} HTTP/1.1\r\n".encode())

    envelope(*answer, expected=(404, "NOT_FOUND"))


def test_a_bearer_post_under_v1_is_never_a_csrf_failure_even_with_a_session_cookie(web):
    head = (
        "POST /v1/sessions HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Cookie: sessionid={uuid.uuid4().hex}\r\nContent-Length: 2\r\n"
    ).encode()

    answer = exchange(web, head, b"{}")

    envelope(*answer, expected=(401, "UNAUTHORIZED"))


# --- the admin console in production ---------------------------------------------------------


def test_the_console_over_https_gets_hsts_secure_cookies_and_its_policy(web):
    status, headers, _ = exchange(
        web, b"GET /admin/login/ HTTP/1.1\r\nX-Forwarded-Proto: https\r\n"
    )

    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    csrf_cookie = headers["Set-Cookie"]
    assert "Secure" in csrf_cookie and "SameSite=Lax" in csrf_cookie
    assert "script-src 'self';" in headers["Content-Security-Policy"]


def test_the_console_over_plain_http_gets_no_hsts(web):
    status, headers, _ = exchange(web, b"GET /admin/login/ HTTP/1.1\r\n")

    assert status == 200
    assert "Strict-Transport-Security" not in headers


# --- errors gunicorn answers itself (HTML, before the app) -------------------------------------


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /v1/auth/device HTTP/1.1\r\nContent-Length: 12x\r\n", 400),
        (b"POST /v1/auth/device HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n", 400),
        (
            b"POST /v1/auth/device HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n",
            400,
        ),
        (b"POST /v1/auth/device HTTP/1.1\r\nTransfer-Encoding: br, chunked\r\n", 501),
        (b"GET /v1/" + b"a" * 5000 + b" HTTP/1.1\r\n", 414),
        (b"GET /v1/sessions HTTP/1.1\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n", 431),
        (b"GET /v1/sessions HTTP/1.1\r\n" + b"X-A: 1\r\n" * 120, 431),
        (b"GET /v1/sessions HTTP/9.9\r\n", 400),
    ],
    ids=[
        "bad-content-length",
        "two-content-lengths",
        "content-length-and-chunked",
        "unsupported-transfer-coding",
        "request-line-too-long",
        "header-too-long",
        "too-many-headers",
        "bad-http-version",
    ],
)
def test_requests_the_server_cannot_frame_are_refused_before_the_app(web, head, status):
    answered, headers, _ = exchange(web, head, b"{}")

    # Not the envelope (gunicorn writes these), but a refusal, never a 5xx from the app.
    assert answered == status
    assert "X-Request-ID" not in headers
