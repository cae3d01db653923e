"""A fake short-link service on loopback: a real aiohttp server that answers redirects as scripted.

    async with FakeRedirects() as fake:
        fake.redirect("/abc", "https://a.co/d/xyz")          # 301 with that Location
        fake.redirect("/d/xyz", "https://www.amazon.de/dp/B0ABCDEFGH", status=302)
        fake.redirect("/get-only", "...", head=405)         # HEAD answers 405; GET redirects
        fake.page("/landing")                               # 200, no redirect
        fake.slow("/stuck", delay=5)                        # answers after 5 s
        fake.chain("/hop", hops=6, host="amzn.to", final="https://www.amazon.de/dp/…")
        policy = fake.policy("amzn.to", "a.co")             # those hosts are served here
        fake.requests                                       # (method, Host header, path) seen

Paths are matched whatever the Host header says: one server stands in for every shortener host
a test rewrites to it. A path nobody scripted answers 404. `in_flight_max` is the most requests
that were being answered at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.intake.shortlinks import ShortLinkPolicy
from fakes.server import FakeServer


@dataclass(frozen=True)
class SeenRequest:
    method: str
    host: str
    path: str


@dataclass(frozen=True)
class _Route:
    status: int
    location: str | None = None
    head_status: int | None = None  # HEAD answers this instead (e.g. 405), without a Location
    delay: float = 0.0


class FakeRedirects(FakeServer[SeenRequest]):
    access_log = False

    def __init__(self) -> None:
        super().__init__()
        self.in_flight_max = 0
        self._in_flight = 0
        self._routes: dict[str, _Route] = {}

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/{tail:.*}", self._answer)

    # -- scripting --------------------------------------------------------------------------------

    def policy(self, *hosts: str, **options: Any) -> ShortLinkPolicy:
        """The default policy, with requests for `hosts` sent to this server instead."""
        return ShortLinkPolicy(rewrite=dict.fromkeys(hosts, self.url), **options)

    def redirect(
        self, path: str, location: str, *, status: int = 301, head: int | None = None
    ) -> None:
        self._routes[path] = _Route(status=status, location=location, head_status=head)

    def page(self, path: str, *, status: int = 200) -> None:
        self._routes[path] = _Route(status=status)

    def slow(self, path: str, *, delay: float, location: str = "/") -> None:
        self._routes[path] = _Route(status=302, location=location, delay=delay)

    def chain(self, path: str, *, hops: int, host: str, final: str, delay: float = 0.0) -> str:
        """`hops` redirects: `path` → `https://{host}{path}/1` → … → `final`; returns the start."""
        steps = [f"{path}/{i}" if i else path for i in range(hops)]
        for i, step in enumerate(steps):
            location = f"https://{host}{steps[i + 1]}" if i + 1 < hops else final
            self._routes[step] = _Route(status=302, location=location, delay=delay)
        return f"https://{host}{path}"

    # -- serving ----------------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.method, request.host, request.path))
        self._in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self._in_flight)
        try:
            route = self._routes.get(request.path)
            if route is None:
                return web.Response(status=404, text="no such short link")
            if route.delay:
                await self.pause(route.delay)
            if request.method == "HEAD" and route.head_status is not None:
                return web.Response(status=route.head_status)
            headers = {"Location": route.location} if route.location else {}
            return web.Response(status=route.status, headers=headers, text="redirecting")
        finally:
            self._in_flight -= 1
