"""One POST to a webhook endpoint, connected to the address ``ssrf`` checked.

The name is resolved and every address checked at each delivery; the connection goes to
the checked address (urllib3 pool on the IP) with the original name as TLS server name and
certificate host, and as ``Host``. Connect timeout 5 s, the whole request 15 s, at most
64 KB of the response read, redirects never followed, connections kept alive per endpoint
(a small pool per endpoint and address in each worker process).
"""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import certifi
import urllib3
from django.conf import settings

from webhooks import ssrf

MAX_POOLS = 256
_pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: no HTTP answer (refused, timeout, connection error)
    body: bytes = b""
    retry_after: float | None = None  # seconds, from Retry-After
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pool(key: tuple, target: ssrf.Target, address: str) -> urllib3.HTTPConnectionPool:
    with _lock:
        pool = _pools.get(key)
        if pool is not None:
            _pools.move_to_end(key)
            return pool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                maxsize=2,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:  # development only (WEBHOOKS_ALLOW_INSECURE)
            pool = urllib3.HTTPConnectionPool(address, target.port, maxsize=2, retries=False)
        _pools[key] = pool
        while len(_pools) > MAX_POOLS:
            _, old = _pools.popitem(last=False)
            old.close()
        return pool


def pools_clear() -> None:
    with _lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def post(*, endpoint_key: str, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body``; never raises for the endpoint's faults (they are the Outcome)."""
    try:
        target = ssrf.target_of(url)
        address = ssrf.addresses_checked(target)[0]
    except ssrf.UnsafeUrl as exc:
        return Outcome(None, error=f"refused: {exc}")
    pool = _pool((endpoint_key, target.scheme, address, target.port, target.host), target, address)
    connect = settings.WEBHOOK_CONNECT_TIMEOUT
    total = settings.WEBHOOK_REQUEST_TIMEOUT
    cap = settings.WEBHOOK_RESPONSE_MAX_BYTES
    deadline = time.monotonic() + total
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            timeout=urllib3.Timeout(connect=connect, read=total, total=total),
            assert_same_host=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(None, error=_error_text(exc))
    chunks: list[bytes] = []
    read = 0
    complete = False
    try:
        while read < cap:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the response took over {total:g} s")
            chunk = response.read(min(8192, cap - read), decode_content=False)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
            read += len(chunk)
        else:
            complete = response.read(1, decode_content=False) == b""
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        response.release_conn()
        return Outcome(response.status, b"".join(chunks), error=_error_text(exc))
    if not complete:
        response.close()  # capped: the rest is not read, the connection not reused
    response.release_conn()
    error = ""
    if 300 <= response.status < 400:
        location = response.headers.get("Location", "")[:200]
        error = f"redirect not followed (Location: {location})"
    return Outcome(
        response.status,
        b"".join(chunks),
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        error=error,
    )


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:500]
