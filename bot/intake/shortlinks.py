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
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import aiohttp
from yarl import URL

from bot.core.listings import MAX_URL_LENGTH, ListingURLError, excerpt, parse_listing_url

# bot.core.listings keeps its shortener table private for now; only this one is used.
from bot.core.listings import SHORT_LINK_HOSTS as _LISTINGS_SHORTENERS
from bot.core.pasted import tidy_link
from bot.intake.guard import (
    REDIRECT_STATUSES,
    Blocked,
    HostPolicy,
    Resolver,
    bare_host,
    check_url,
    host_of,
    is_platform_host,
    pinned_url,
    tls_name,
)

log = logging.getLogger("takedown.shortlinks")

__all__ = ["Resolver", "ShortLinkPolicy", "is_platform_host"]  # Resolver: tests type resolvers

DEFAULT_TIMEOUT = 3.0
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_CONCURRENCY = 8
USER_AGENT = "takedown-bot (short-link check)"

_SCHEMELESS = re.compile(r"^(?://)?([A-Za-z0-9.-]+)(?=[/?#]|$)")


SHORTENER_HOSTS: frozenset[str] = frozenset(_LISTINGS_SHORTENERS)


@dataclass(frozen=True)
class ShortLinkPolicy(HostPolicy):
    """Which hosts a short link may start on and pass through.

    `shorteners` are the hosts whose links are followed; a hop may also land on any host for which
    `is_target` is true (the supported marketplaces). `rewrite`, `resolver` and `allow_private`
    are for tests only (`bot.intake.guard.HostPolicy`).
    """

    shorteners: frozenset[str] = SHORTENER_HOSTS

    def is_shortener(self, host: str) -> bool:
        return bare_host(host) in self.shorteners

    def allows_hop(self, host: str) -> bool:
        return self.is_shortener(host) or self.allows(host)


DEFAULT_POLICY = ShortLinkPolicy()


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
    return bare_host(host)


class _Refused(Exception):
    """Why the chain stops; becomes a ListingURLError naming the short link the reporter gave."""


_NOT_A_LISTING = "short link did not lead to a listing on a supported platform"


def _check_hop(url: str, policy: ShortLinkPolicy) -> SplitResult:
    """The parts of a hop's URL, or _Refused when the bot must not request it."""
    try:
        return check_url(url, policy.allows_hop)
    except Blocked as blocked:
        raise _Refused(_refusal(blocked)) from None


def _refusal(blocked: Blocked) -> str:
    """What the reporter is told about a hop the guard refused."""
    subject = excerpt(blocked.subject, 60)
    return {
        "too_long": f"{_NOT_A_LISTING} (a redirect was too long)",
        "malformed": f"{_NOT_A_LISTING} (a redirect was malformed)",
        "scheme": f"{_NOT_A_LISTING} (it redirects to a '{excerpt(blocked.subject, 20)}:' link)",
        "userinfo": f"{_NOT_A_LISTING} (a redirect hides its host behind '@')",
        "no_host": f"{_NOT_A_LISTING} (a redirect has no host)",
        "ip": f"short link redirects to an IP address ({excerpt(blocked.subject, 40)}), "
        "not to a marketplace",
        "host": f"{_NOT_A_LISTING} (it redirects to {subject})",
        "port": f"{_NOT_A_LISTING} (it redirects to port {subject})",
        "not_found": f"could not follow the short link ({subject} was not found)",
        "private": f"short link leads to {subject}, which has a private or local network address",
    }[blocked.problem]


async def _connect_url(url: str, parts: SplitResult, policy: ShortLinkPolicy) -> URL:
    """Where to send the request for `url`: a checked address of its host (or the test origin)."""
    try:
        return await pinned_url(url, parts, policy)
    except Blocked as blocked:
        raise _Refused(_refusal(blocked)) from None


async def _ask(
    http: aiohttp.ClientSession, method: str, connect: URL, *, host: str, tls: str | None
) -> tuple[int, str | None]:
    headers = {"Host": host, "User-Agent": USER_AGENT, "Accept": "*/*"}
    async with http.request(
        method,
        connect,
        headers=headers,
        allow_redirects=False,
        server_hostname=tls,
    ) as response:
        return response.status, response.headers.get("Location")


async def _next_hop(
    http: aiohttp.ClientSession, url: str, parts: SplitResult, policy: ShortLinkPolicy
) -> str | None:
    """The Location this URL redirects to (HEAD first, then GET), or None when it does not."""
    connect = await _connect_url(url, parts, policy)
    host = host_of(parts)
    tls = tls_name(parts, connect)
    status, location = await _ask(http, "HEAD", connect, host=host, tls=tls)
    if status not in REDIRECT_STATUSES or not location:
        # Some shorteners answer HEAD with 405 or 200 and redirect only a GET.
        status, location = await _ask(http, "GET", connect, host=host, tls=tls)
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
