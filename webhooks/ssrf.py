"""Where a webhook may be sent: https only, to public addresses only.

Checked when an endpoint is saved (the name resolved) and again at every delivery, on the
addresses the name resolves to then; the delivery connects to the address it checked
(``transport.py``), so a DNS answer that changes in between cannot get through.

Refused: private, loopback, link-local (169.254.169.254, the cloud metadata service),
multicast, reserved, unspecified and shared (100.64/10) addresses, any other address that
is not globally routable, and IPv6 forms that carry an IPv4 address (IPv4-mapped, 6to4,
NAT64 64:ff9b::/96, Teredo) are judged by that IPv4 address. ``WEBHOOKS_ALLOW_INSECURE``
(development and tests only) also allows ``http`` and loopback addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Named metadata addresses, refused even if a rule above changed (Alibaba's is in 100.64/10,
# AWS's IPv6 one in fd00::/8).
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254")
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL may not receive webhooks; ``str()`` says why, for the caller."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, lowercased (IPv6 without brackets)
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _insecure() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_INSECURE)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: Address) -> str | None:
    """Why ``ip`` may not receive a webhook, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped IPv6 address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = address_refusal(inner)
            return f"{reason} (inside {ip})" if reason else None
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if _insecure() else "a loopback address"
    for test, what in (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
    ):
        if test:
            return what
    if not ip.is_global:
        return "an address that is not public"
    return None


def target_of(url: str) -> Target:
    """The URL's parts, refused unless https (http too when insecure) with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("Not a valid URL.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if _insecure() else ("https",)
    if scheme not in allowed:
        raise UnsafeUrl("Must be an https URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Must not carry a user name or password.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeUrl("Must name a host.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address: itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {host} does not resolve.") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def addresses_checked(target: Target) -> list[str]:
    """The addresses to connect to; refused if ANY address of the name is refused (a name
    answering both a public and a private address must not reach the private one)."""
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise UnsafeUrl(f"The host {target.host} does not resolve.")
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if "%" in text:
            raise UnsafeUrl(f"The host {target.host} resolves to a scoped address.")
        reason = address_refusal(ip)
        if reason:
            raise UnsafeUrl(f"The host {target.host} resolves to {reason} ({ip}).")
    return addresses


def url_check(url: str) -> Target:
    """Refuse ``url`` (UnsafeUrl, its message for the caller) unless it may receive webhooks."""
    target = target_of(url)
    addresses_checked(target)
    return target
