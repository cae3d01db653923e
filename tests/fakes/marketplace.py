"""A fake marketplace on loopback: listing pages (tests/pages/) served for any marketplace host.

    async with FakeMarketplace() as market:
        market.page("https://www.amazon.de/dp/B0ABCDEFGH", "amazon_listing.html")
        market.page(url, "amazon_not_found.html", status=404)
        market.page(url, "ebay_listing.html", gzip=True)            # Content-Encoding: gzip
        market.redirect(url, "https://www.ebay.com/")               # 302 to that Location
        market.big(url, size=6 * 1024 * 1024)                       # a page of that many bytes
        market.latency = 0.05                                       # every answer waits so long
        policy = market.policy()                                    # marketplace hosts → here
        market.requests                                             # (Host, path?query, headers)

A page is found by its host (the `Host` header) and its path and query; one nobody scripted
answers 404. `in_flight_max` is the most requests that were being answered at the same moment.
The policy sends every host the tests name to this server (explicitly, host by host: the capture's
guard is otherwise the real one).
"""

from __future__ import annotations

import gzip as gzip_module
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from bot.intake.guard import HostPolicy
from fakes.server import FakeServer

PAGES = Path(__file__).resolve().parent.parent / "pages"


@dataclass(frozen=True)
class SeenRequest:
    host: str
    path_qs: str
    headers: dict[str, str]


@dataclass(frozen=True)
class _Route:
    status: int
    body: bytes = b""
    location: str | None = None
    gzip: bool = False


def _key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


class FakeMarketplace(FakeServer[SeenRequest]):
    access_log = False

    def __init__(self) -> None:
        super().__init__()
        self.latency = 0.0
        self.in_flight_max = 0
        self._in_flight = 0
        self._routes: dict[str, _Route] = {}
        self._hosts: set[str] = set()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/{tail:.*}", self._answer)

    # -- scripting --------------------------------------------------------------------------------

    def _add(self, url: str, route: _Route) -> None:
        self._hosts.add(urlsplit(url).hostname or "")
        self._routes[_key(url)] = route

    def page(self, url: str, name: str, *, status: int = 200, gzip: bool = False) -> None:
        self._add(url, _Route(status=status, body=(PAGES / name).read_bytes(), gzip=gzip))

    def redirect(self, url: str, location: str, *, status: int = 302) -> None:
        self._add(url, _Route(status=status, location=location))
        if (host := urlsplit(location).hostname) is not None:
            self._hosts.add(host)

    def big(self, url: str, *, size: int) -> None:
        self._add(url, _Route(status=200, body=b"<html>" + b"x" * size))

    def policy(self, *more_hosts: str) -> HostPolicy:
        """The real guard, with the scripted hosts (and `more_hosts`) served here."""
        return HostPolicy(rewrite=dict.fromkeys({*self._hosts, *more_hosts}, self.url))

    # -- serving ----------------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        self.requests.append(SeenRequest(host, request.path_qs, dict(request.headers)))
        self._in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self._in_flight)
        try:
            if self.latency:
                await self.pause(self.latency)
            route = self._routes.get(f"{host}{request.path_qs}")
            if route is None:
                return web.Response(status=404, text="no such page")
            if route.location is not None:
                return web.Response(status=route.status, headers={"Location": route.location})
            headers = {"Content-Type": "text/html; charset=utf-8"}
            body = route.body
            if route.gzip:
                body = gzip_module.compress(body, mtime=0)
                headers["Content-Encoding"] = "gzip"
            return web.Response(status=route.status, body=body, headers=headers)
        finally:
            self._in_flight -= 1
