"""What the fake HTTP services share: a real aiohttp server on loopback at an ephemeral port.

`FakeServer` starts and stops it (also as `async with`), gives its URL and keeps the log of the
requests it was sent (`requests`; each fake decides what a request's record holds and which
requests it logs). `FakePlatform` adds what the platforms' fakes (eBay, Mercado Libre, the
webhook receiver) script alike: the next requests are refused, or processed and then answered
slowly, with junk, with an oversized body, or not at all; and it keeps `strays`, the requests that
reached none of the platform's endpoints.

    class FakeThing(FakeServer[RecordedRequest]):
        def add_routes(self, router: web.UrlDispatcher) -> None:
            router.add_get("/things/{id}", self._get)

    async with FakeThing() as fake:
        fake.url                                   # http://127.0.0.1:<port>
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from aiohttp import web
from aiohttp.log import access_logger

RequestT = TypeVar("RequestT")


class FakeServer(Generic[RequestT]):
    """A real aiohttp server on 127.0.0.1 at a port the system picks, serving `add_routes`."""

    access_log = True  # False: the server logs no line per request

    def __init__(self) -> None:
        self.requests: list[RequestT] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()  # cuts `pause` short so stop() never waits on a delay

    @property
    def url(self) -> str:
        """The server's origin, `http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def add_fallback(self, router: web.UrlDispatcher) -> None:
        """Routes after the server's own (none here): what answers a request no route takes."""

    async def start(self) -> Self:
        app = web.Application()
        self.add_routes(app.router)
        self.add_fallback(app.router)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=access_logger if self.access_log else None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or until the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


@dataclass
class RecordedRequest:
    """A request to a JSON API, as the platforms' fakes log it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  # the parsed body, its text when it is not JSON, or None without a body
    body: bytes = b""  # the body's bytes as they arrived


async def recorded_request(request: web.Request) -> RecordedRequest:
    raw = await request.read() if request.can_read_body else b""
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:  # UnicodeDecodeError too
            body = raw.decode("utf-8", "replace")
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers=dict(request.headers),
        json=body,
        body=raw,
    )


@dataclass
class Scripted:
    """One scripted answer: a refusal, or a misbehaviour after the request is processed."""

    kind: str  # refuse | slow | malformed | oversized | drop
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    size: int = 0  # oversized: the body's length in bytes
    declared: bool = False  # oversized: with a Content-Length (else streamed in chunks)

    def refusal(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


class FakePlatform(FakeServer[RequestT]):
    """A platform's API whose next answers can be scripted, in order, whatever their path.

    "Processed" means the platform acted on the request (filed the notice, answered the read)
    before the misbehaviour: the request did arrive.
    """

    malformed_status = 200  # what `malformed_next` answers unless told

    def __init__(self) -> None:
        super().__init__()
        self._script: deque[Scripted] = deque()
        self.strays: list[str] = []  # "METHOD /raw/path" of requests no endpoint took

    def add_fallback(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/{tail:.*}", self._stray)

    async def _stray(self, request: web.Request) -> web.Response:
        self.strays.append(f"{request.method} {request.raw_path}")
        return web.json_response({"error": "no such endpoint"}, status=404)

    # --- scripting -------------------------------------------------------------------------------

    def refuse_next(
        self,
        *,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests are refused: `status`, `headers`, and `body` as JSON if any."""
        self._script.extend(
            Scripted("refuse", status=status, headers=headers or {}, body=body)
            for _ in range(times)
        )

    def slow_next(self, *, delay: float, times: int = 1) -> None:
        """The next `times` requests are processed, then answered only after `delay` seconds."""
        self._script.extend(Scripted("slow", delay=delay) for _ in range(times))

    def malformed_next(
        self, *, status: int | None = None, body: bytes = b"<html>oops", times: int = 1
    ) -> None:
        """The next `times` requests are processed, then answered with `body` (not JSON)."""
        status = self.malformed_status if status is None else status
        self._script.extend(Scripted("malformed", status=status, body=body) for _ in range(times))

    def oversized_next(
        self, *, size: int, status: int | None = None, declared: bool = False, times: int = 1
    ) -> None:
        """The next `times` requests are processed, then answered with their real answer padded
        with spaces to `size` bytes (still valid JSON), streamed in chunks or, if `declared`,
        with a Content-Length; with `status`, under that status instead of the real one."""
        self._script.extend(
            Scripted("oversized", status=status or 0, size=size, declared=declared)
            for _ in range(times)
        )

    def drop_next(self, *, times: int = 1) -> None:
        """The next `times` requests are processed, then the connection is cut without an answer."""
        self._script.extend(Scripted("drop") for _ in range(times))

    # --- answering -------------------------------------------------------------------------------

    def _next_scripted(self) -> tuple[web.Response | None, Scripted | None]:
        """A scripted refusal to answer now, else (None, the misbehaviour to apply later)."""
        scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.kind == "refuse":
            return scripted.refusal(), None
        return None, scripted

    async def _answer(
        self, request: web.Request, scripted: Scripted | None, response: web.Response
    ) -> web.StreamResponse:
        """`response`, after the scripted misbehaviour if there is one."""
        if scripted is None:
            return response
        if scripted.kind == "slow":
            await self.pause(scripted.delay)
            return response
        if scripted.kind == "malformed":
            assert isinstance(scripted.body, bytes)
            return web.Response(
                status=scripted.status, body=scripted.body, content_type="application/json"
            )
        if scripted.kind == "oversized":
            return await self._oversized(request, scripted, response)
        if scripted.kind == "drop":
            assert request.transport is not None
            request.transport.abort()
            return response
        raise AssertionError(scripted.kind)

    async def _oversized(
        self, request: web.Request, scripted: Scripted, response: web.Response
    ) -> web.StreamResponse:
        assert isinstance(response.body, bytes)
        body = response.body.ljust(scripted.size, b" ")
        stream = web.StreamResponse(status=scripted.status or response.status)
        stream.content_type = "application/json"
        if scripted.declared:
            stream.content_length = len(body)
        else:
            stream.enable_chunked_encoding()
        await stream.prepare(request)
        # The client may stop reading and close once it has seen enough: that ends the answer.
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(body), 64 * 1024):
                await stream.write(body[start : start + 64 * 1024])
            await stream.write_eof()
        return stream
