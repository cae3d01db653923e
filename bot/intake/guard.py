"""Requests to hosts a stranger named: which URLs the bot may ask for, and where it connects.

Shared by the short-link resolver (`bot.intake.shortlinks`) and the evidence capture
(`bot.evidence.fetch`); both request URLs that came from a report or a redirect. The rules:

- only `http`/`https`, no `user@` in the authority, ports 80 and 443 only;
- a host written as an IP address (in any of the forms browsers accept) is refused outright;
- a host must be allowed by the caller's `HostPolicy` (the supported marketplaces, by default);
- a host name is resolved first and refused when any of its addresses is private, loopback,
  link-local, reserved, multicast, unspecified or not globally routed. The request then goes to
  the checked address (with the name in `Host` and for TLS), so a second DNS answer cannot swap
  in another one.

Refusals are `Blocked`, with a `problem` code each caller turns into its own words.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from yarl import URL

from bot.core.listings import MAX_URL_LENGTH
from bot.core.listings import known_domain as _listings_domain_of

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

Problem = Literal[
    "too_long", "malformed", "scheme", "userinfo", "no_host", "ip", "host", "port",
    "not_found", "private",
]  # fmt: skip

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # whose Location a caller follows

_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # browsers read hosts ending so as IPv4


def is_platform_host(host: str) -> bool:
    """Whether `host` belongs to a marketplace the bot supports (exact labels, never substrings)."""
    return _listings_domain_of(host) is not None


def host_of(parts: SplitResult) -> str:
    """The host a URL names, as requested: lowercase, without the root's trailing dot."""
    return (parts.hostname or "").removesuffix(".")


def tls_name(parts: SplitResult, connect: URL) -> str | None:
    """The name TLS checks the certificate against when `connect` (from `pinned_url`) is an
    address: the URL's host over HTTPS; None over plain HTTP or to a test origin."""
    return host_of(parts) if parts.scheme.lower() == "https" and connect.scheme == "https" else None


def bare_host(host: str) -> str:
    return host.lower().removesuffix(".").removeprefix("www.")


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts may be requested (`is_target`: the supported marketplaces). The rest is for
    tests only: `rewrite` sends requests for a host to another origin
    (`{"www.amazon.de": "http://127.0.0.1:8080"}`) without resolving or checking it, `resolver`
    replaces the event loop's getaddrinfo, and `allow_private` accepts private and loopback
    addresses from the resolver."""

    is_target: Callable[[str], bool] = is_platform_host
    allow_private: bool = False
    rewrite: Mapping[str, str] = field(default_factory=dict)
    resolver: Resolver | None = None

    def allows(self, host: str) -> bool:
        return self.is_target(bare_host(host))


class Blocked(Exception):
    """A URL the bot must not request; `problem` says why, `subject` names the offending part."""

    def __init__(self, problem: Problem, subject: str = "") -> None:
        super().__init__(f"{problem}: {subject}")
        self.problem: Problem = problem
        self.subject = subject


def is_forbidden(address: IPAddress) -> bool:
    """Private, loopback, link-local, reserved, multicast, unspecified, or not globally routed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and is_forbidden(embedded):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ":" in host or bool(_NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]))
    return True


def check_url(url: str, allows: Callable[[str], bool]) -> SplitResult:
    """The parts of `url`, or Blocked when the bot must not request it (`allows(host)` false)."""
    if len(url) > MAX_URL_LENGTH:
        raise Blocked("too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Blocked("malformed") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Blocked("scheme", parts.scheme)
    if "@" in parts.netloc:
        raise Blocked("userinfo")
    host = host_of(parts)
    if not host:
        raise Blocked("no_host")
    if _ip_literal(host):
        raise Blocked("ip", host)
    if not _HOST.fullmatch(host) or not allows(host):
        raise Blocked("host", host)
    if port not in (None, 80, 443):
        raise Blocked("port", f"{port} of {host}")
    return parts


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def pinned_url(url: str, parts: SplitResult, policy: HostPolicy) -> URL:
    """Where to send the request for `url` (checked by `check_url`): a checked address of its
    host, or the test origin `policy.rewrite` names. Blocked("not_found" / "private")."""
    host = host_of(parts)
    target = URL(url, encoded=True)
    if (origin := policy.rewrite.get(host) or policy.rewrite.get(bare_host(host))) is not None:
        return URL(origin.rstrip("/") + target.raw_path_qs, encoded=True)
    port = target.port or (443 if parts.scheme.lower() == "https" else 80)
    resolve = policy.resolver or _system_resolver
    try:
        found = list(await resolve(host, port))
    except OSError:
        raise Blocked("not_found", host) from None
    addresses: list[IPAddress] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise Blocked("not_found", host)
    if not policy.allow_private and any(is_forbidden(address) for address in addresses):
        raise Blocked("private", host)
    return target.with_host(str(addresses[0]))
