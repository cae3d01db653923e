"""Follow marketplace short links (amzn.to, ebay.us, s.click.aliexpress.com…) to their listings.

A short link is a redirect someone else controls, so following one is a request the bot makes on
a stranger's say-so. The rules keep that request harmless:

- only links on a known shortener host are followed, one redirect at a time (never by the HTTP
  client), at most `max_redirects` of them, within one short total `timeout`;
- every hop must be on a shortener host or a supported marketplace host; the chain stops at the
  first URL that `bot.core.listings.parse_listing_url` recognises, which is never requested;
- a hop naming an IP address is refused outright; a host name is resolved first and refused when
  any of its addresses is private, loopback, link-local, reserved, multicast or unspecified. The
  request then goes to the checked address (with the name in `Host` and for TLS), so a second DNS
  answer cannot swap in another one.

Every refusal is a `ListingURLError` whose reason the reporter sees beside the line.
`ShortLinkPolicy` carries the host lists; its `rewrite` and `resolver` exist for tests, which
serve short links from loopback without DNS or the internet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urljoin, urlsplit

import aiohttp
from yarl import URL

from bot.core.listings import MAX_URL_LENGTH, ListingURLError, excerpt, parse_listing_url

# bot.core.listings keeps its shortener table and host lookup private for now; only these two are used.
from bot.core.listings import SHORT_LINK_HOSTS as _LISTINGS_SHORTENERS
from bot.core.listings import known_domain as _listings_domain_of
from bot.core.pasted import tidy_link

log = logging.getLogger("takedown.shortlinks")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEOUT = 3.0
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_CONCURRENCY = 8
USER_AGENT = "takedown-bot (short-link check)"

_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # browsers read hosts ending so as IPv4
_SCHEMELESS = re.compile(r"^(?://)?([A-Za-z0-9.-]+)(?=[/?#]|$)")


def is_platform_host(host: str) -> bool:
    """Whether `host` belongs to a marketplace the bot supports (exact labels, never substrings)."""
    return _listings_domain_of(host) is not None


SHORTENER_HOSTS: frozenset[str] = frozenset(_LISTINGS_SHORTENERS)


@dataclass(frozen=True)
class ShortLinkPolicy:
    """Which hosts a short link may start on and pass through.

    `shorteners` are the hosts whose links are followed; a hop may also land on any host for which
    `is_target` is true (the supported marketplaces). The rest is for tests only:
    `rewrite` sends requests for a host to another origin (`{"amzn.to": "http://127.0.0.1:8080"}`)
    without resolving or checking it, `resolver` replaces the event loop's getaddrinfo, and
    `allow_private` accepts private and loopback addresses from the resolver.
    """

    shorteners: frozenset[str] = SHORTENER_HOSTS
    is_target: Callable[[str], bool] = is_platform_host
    allow_private: bool = False
    rewrite: Mapping[str, str] = field(default_factory=dict)
    resolver: Resolver | None = None

    def is_shortener(self, host: str) -> bool:
        return _bare(host) in self.shorteners

    def allows_hop(self, host: str) -> bool:
        return self.is_shortener(host) or self.is_target(_bare(host))


DEFAULT_POLICY = ShortLinkPolicy()


def _bare(host: str) -> str:
    return host.lower().removesuffix(".").removeprefix("www.")


def as_url(text: str) -> str:
    """A line as the reporter pasted it, as a URL: what surrounds the link taken away
    (`bot.core.pasted`: quotes, punctuation, invisible marks, Slack's `<url|label>` wrapping and
    `&amp;` escapes), `https://` added to a bare host (`amzn.to/abc`)."""
    url = tidy_link(text)
    if "://" not in url and (bare := _SCHEMELESS.match(url)) and "." in bare[1]:
        url = "https://" + url.removeprefix("//")
    return url


def short_link_host(text: str, *, hosts: ShortLinkPolicy | None = None) -> str | None:
    """The shortener host of a line that is a short link (`amzn.to`), else None."""
    policy = hosts or DEFAULT_POLICY
    url = as_url(text)
    if len(url) > MAX_URL_LENGTH or any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not policy.is_shortener(host):
        return None
    return _bare(host)


class _Refused(Exception):
    """Why the chain stops; becomes a ListingURLError naming the short link the reporter gave."""


def _is_forbidden(address: IPAddress) -> bool:
    """Private, loopback, link-local, reserved, multicast, unspecified, or not globally routed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and _is_forbidden(embedded):
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


_NOT_A_LISTING = "short link did not lead to a listing on a supported platform"


def _check_hop(url: str, policy: ShortLinkPolicy) -> SplitResult:
    """The parts of a hop's URL, or _Refused when the bot must not request it."""
    if len(url) > MAX_URL_LENGTH:
        raise _Refused(f"{_NOT_A_LISTING} (a redirect was too long)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _Refused(f"{_NOT_A_LISTING} (a redirect was malformed)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _Refused(f"{_NOT_A_LISTING} (it redirects to a '{excerpt(parts.scheme, 20)}:' link)")
    if "@" in parts.netloc:
        raise _Refused(f"{_NOT_A_LISTING} (a redirect hides its host behind '@')")
    host = (parts.hostname or "").removesuffix(".")
    if not host:
        raise _Refused(f"{_NOT_A_LISTING} (a redirect has no host)")
    if _ip_literal(host):
        raise _Refused(
            f"short link redirects to an IP address ({excerpt(host, 40)}), not to a marketplace"
        )
    if not _HOST.fullmatch(host) or not policy.allows_hop(host):
        raise _Refused(f"{_NOT_A_LISTING} (it redirects to {excerpt(host, 60)})")
    if port not in (None, 80, 443):
        raise _Refused(f"{_NOT_A_LISTING} (it redirects to port {port} of {excerpt(host, 60)})")
    return parts


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def _connect_url(url: str, parts: SplitResult, policy: ShortLinkPolicy) -> URL:
    """Where to send the request for `url`: a checked address of its host (or the test origin)."""
    host = (parts.hostname or "").removesuffix(".")
    target = URL(url, encoded=True)
    if (origin := policy.rewrite.get(host) or policy.rewrite.get(_bare(host))) is not None:
        return URL(origin.rstrip("/") + target.raw_path_qs, encoded=True)
    port = target.port or (443 if parts.scheme.lower() == "https" else 80)
    resolve = policy.resolver or _system_resolver
    try:
        found = list(await resolve(host, port))
    except OSError:
        raise _Refused(
            f"could not follow the short link ({excerpt(host, 60)} was not found)"
        ) from None
    addresses: list[IPAddress] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise _Refused(f"could not follow the short link ({excerpt(host, 60)} was not found)")
    if not policy.allow_private and any(_is_forbidden(address) for address in addresses):
        raise _Refused(
            f"short link leads to {excerpt(host, 60)}, which has a private or local network address"
        )
    return target.with_host(str(addresses[0]))


async def _ask(
    http: aiohttp.ClientSession, method: str, connect: URL, *, host: str, https: bool
) -> tuple[int, str | None]:
    headers = {"Host": host, "User-Agent": USER_AGENT, "Accept": "*/*"}
    async with http.request(
        method,
        connect,
        headers=headers,
        allow_redirects=False,
        server_hostname=host if https and connect.scheme == "https" else None,
    ) as response:
        return response.status, response.headers.get("Location")


async def _next_hop(
    http: aiohttp.ClientSession, url: str, parts: SplitResult, policy: ShortLinkPolicy
) -> str | None:
    """The Location this URL redirects to (HEAD first, then GET), or None when it does not."""
    connect = await _connect_url(url, parts, policy)
    host = (parts.hostname or "").removesuffix(".")
    https = parts.scheme.lower() == "https"
    status, location = await _ask(http, "HEAD", connect, host=host, https=https)
    if status not in REDIRECT_STATUSES or not location:
        # Some shorteners answer HEAD with 405 or 200 and redirect only a GET.
        status, location = await _ask(http, "GET", connect, host=host, https=https)
    if status in REDIRECT_STATUSES and location:
        return urljoin(url, location.strip())
    if status >= 400:
        raise _Refused(
            f"could not follow the short link ({excerpt(host, 60)} answered HTTP {status})"
        )
    return None


async def _follow(
    http: aiohttp.ClientSession, start: str, policy: ShortLinkPolicy, max_redirects: int
) -> str:
    url = start
    last_problem = ""
    for hops in range(max_redirects + 1):
        if hops:
            try:
                parse_listing_url(url)
            except ListingURLError as exc:
                last_problem = exc.reason
            else:
                return url  # a listing: the chain ends here, without requesting it
        parts = _check_hop(url, policy)
        if hops == max_redirects:
            raise _Refused(f"too many redirects (more than {max_redirects})")
        following = await _next_hop(http, url, parts, policy)
        if following is None:
            stop = last_problem or f"{excerpt(url)} is not a listing"
            raise _Refused(f"{_NOT_A_LISTING} ({stop})")
        url = following
    raise AssertionError("unreachable")


async def resolve_short_link(
    url: str,
    *,
    http: aiohttp.ClientSession,
    hosts: ShortLinkPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a budget that becomes a typed, user-facing error)
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
) -> str:
    """The listing URL a short link leads to, following at most `max_redirects` redirects.

    `url` must be on a shortener host of the policy (default: the shorteners bot.core.listings knows).
    Raises ListingURLError with the reason to show the reporter: the chain left the supported
    platforms, reached a private address or an IP, took too many redirects, or timed out.
    """
    policy = hosts or DEFAULT_POLICY
    given = url
    url = as_url(url)
    if short_link_host(url, hosts=policy) is None:
        raise ListingURLError(
            f"{excerpt(given)} is not a short link of a supported platform.", given
        )
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            final = await _follow(http, url, policy, max_redirects)
    except _Refused as refused:
        raise ListingURLError(f"{excerpt(given)}: {refused}; {_ADVICE}", given) from None
    except TimeoutError:
        raise ListingURLError(
            f"{excerpt(given)}: could not follow the short link (timeout); {_ADVICE}",
            given,
        ) from None
    except aiohttp.ClientError as exc:
        log.info("short link %s: %s: %s", given, type(exc).__name__, exc)
        raise ListingURLError(
            f"{excerpt(given)}: could not follow the short link ({_connection_problem(exc)}); "
            f"{_ADVICE}",
            given,
        ) from None
    log.info("short link %s resolved to %s in %.2fs", given, final, time.monotonic() - started)
    return final


_ADVICE = "open it in a browser and paste the listing's own URL"


def _connection_problem(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientSSLError):
        return "its certificate was not trusted"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "could not connect"
    return "the connection failed"


async def resolve_short_links(
    lines: Iterable[str],
    *,
    http: aiohttp.ClientSession,
    hosts: ShortLinkPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a budget that becomes a typed, user-facing error)
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, str | ListingURLError]:
    """Each distinct short link among `lines` → its listing URL, or the error saying why not.

    Lines that are not short links are not in the answer. At most `concurrency` links are
    followed at once, all within `timeout` seconds in total.
    """
    policy = hosts or DEFAULT_POLICY
    short = list(
        dict.fromkeys(line.strip() for line in lines if short_link_host(line, hosts=policy))
    )
    if not short:
        return {}
    gate = asyncio.Semaphore(max(1, concurrency))
    deadline = time.monotonic() + timeout

    async def one(link: str) -> str | ListingURLError:
        async with gate:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                return await resolve_short_link(
                    link, http=http, hosts=policy, timeout=remaining, max_redirects=max_redirects
                )
            except ListingURLError as exc:
                return exc

    results = await asyncio.gather(*(one(link) for link in short))
    return dict(zip(short, results, strict=True))


async def expand_short_links(
    lines: list[str],
    *,
    http: aiohttp.ClientSession,
    hosts: ShortLinkPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a budget that becomes a typed, user-facing error)
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[str]:
    """`lines` with every short link replaced by the listing URL it leads to.

    Other lines are returned untouched, and so is a short link that cannot be followed: the
    listing parser then refuses it with its own hint. `resolve_short_links` gives the reasons.
    """
    resolved = await resolve_short_links(
        lines,
        http=http,
        hosts=hosts,
        timeout=timeout,
        max_redirects=max_redirects,
        concurrency=concurrency,
    )
    out = []
    for line in lines:
        found = resolved.get(line.strip())
        out.append(found if isinstance(found, str) else line)
    return out
