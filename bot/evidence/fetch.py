"""Fetching a listing's page once, as evidence, under the same guard as short links.

Every URL requested (the listing, and each redirect it answers with) must be on a supported
marketplace host and resolve to public addresses only; the connection goes to the checked address
(`bot.intake.guard`). At most `MAX_REDIRECTS` redirects, `max_bytes` of body (the rest is cut and
the capture says so) and `timeout` seconds in all. The bot says who it is in `User-Agent` (with the
usual browser tokens, so pages answer as they would a browser, but never claiming to be a
person's browser) and asks for pages in the usual languages.

What comes back is kept as it arrived (`Exchange`: the request sent, the response's status line,
headers and body bytes, content-encoded as sent), for the WARC (`bot.evidence.warc`).
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urljoin

import aiohttp

from bot.intake.guard import (
    REDIRECT_STATUSES,
    Blocked,
    HostPolicy,
    check_url,
    host_of,
    pinned_url,
    tls_name,
)

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 15.0
MAX_REDIRECTS = 5


def _version() -> str:
    try:
        return version("takedown-bot")
    except PackageNotFoundError:  # pragma: no cover (run from a checkout without installing)
        return "dev"


USER_AGENT = (
    f"Mozilla/5.0 (compatible; takedown-bot/{_version()}; +evidence capture of a reported "
    "listing) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9,de;q=0.8,zh-CN;q=0.7,es;q=0.6",
    "Accept-Encoding": "gzip, deflate",
}


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as sent and received."""

    url: str  # the URL asked for (its host as named, not the address)
    address: str  # the address the connection went to
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes  # as received (still gzip'd if the server sent it so)
    truncated: bool = False  # the body was cut at max_bytes
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class PageFetch:
    """A fetch's exchanges in order; `problem` says why it stopped short, if it did."""

    requested_url: str
    exchanges: list[Exchange]
    problem: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def final_url(self) -> str:
        return self.exchanges[-1].url if self.exchanges else self.requested_url

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


_BLOCKED = {
    "not_found": "its host name was not found",
    "private": "its host has a private or local network address",
}


def _blocked_text(blocked: Blocked, url: str) -> str:
    if blocked.problem in _BLOCKED:
        return f"{url}: {_BLOCKED[blocked.problem]}"
    if blocked.problem in ("host", "ip"):
        return f"redirected off the marketplace, to {blocked.subject}: not followed"
    return f"{url}: not a URL the bot may request ({blocked.problem})"


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


async def _exchange(
    http: aiohttp.ClientSession, url: str, policy: HostPolicy, max_bytes: int
) -> Exchange:
    parts = check_url(url, policy.allows)
    connect = await pinned_url(url, parts, policy)
    host = host_of(parts)
    headers = {"Host": host, **HEADERS}
    async with http.get(
        connect,
        headers=headers,
        allow_redirects=False,
        auto_decompress=False,
        server_hostname=tls_name(parts, connect),
    ) as response:
        body, truncated = await _read_capped(response, max_bytes)
        sent = [(k, v) for k, v in response.request_info.headers.items()]
        return Exchange(
            url=url,
            address=connect.host or "",
            request_headers=sent,
            status=response.status,
            reason=response.reason or "",
            response_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
            ],
            body=body,
            truncated=truncated,
        )


async def fetch_page(
    url: str,
    *,
    http: aiohttp.ClientSession,
    policy: HostPolicy,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT,  # noqa: ASYNC109 (a budget that becomes the capture's note)
) -> PageFetch:
    """The listing page at `url`, following its redirects under the guard. Never raises for
    what the page or the network does: a fetch that stops short says why in `problem`."""
    exchanges: list[Exchange] = []
    current = url
    started = datetime.now(UTC)

    def stopped(problem: str) -> PageFetch:
        return PageFetch(url, exchanges, problem=problem, started=started)

    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                exchange = await _exchange(http, current, policy, max_bytes)
                exchanges.append(exchange)
                location = dict((k.lower(), v) for k, v in exchange.response_headers).get(
                    "location"
                )
                if exchange.status not in REDIRECT_STATUSES or not location:
                    return PageFetch(url, exchanges, started=started)
                current = urljoin(current, location.strip())
            return stopped(f"more than {MAX_REDIRECTS} redirects")
    except Blocked as blocked:
        return stopped(_blocked_text(blocked, current))
    except TimeoutError:
        return stopped(f"no complete answer within {timeout:g} s")
    except aiohttp.ClientError as exc:
        return stopped(f"the connection failed ({type(exc).__name__})")


def decoded_body(exchange: Exchange, *, limit: int = MAX_BYTES) -> bytes:
    """The body content-decoded (gzip, deflate; at most `limit` bytes out), for judging and
    rendering it. A body that cannot be decoded reads as empty."""
    headers = {k.lower(): v.lower() for k, v in exchange.response_headers}
    body = exchange.body
    encoding = headers.get("content-encoding", "").strip()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(wbits=31).decompress(body, limit)
        if encoding == "deflate":
            try:
                return zlib.decompressobj().decompress(body, limit)
            except zlib.error:
                return zlib.decompressobj(wbits=-15).decompress(body, limit)
    except zlib.error:
        return b""
    return body if encoding in ("", "identity") else b""


def decoded_text(exchange: Exchange) -> str:
    """The body as text for judging it (UTF-8, leniently: the markers are ASCII or UTF-8)."""
    return decoded_body(exchange).decode("utf-8", errors="replace")
