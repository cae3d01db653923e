"""A fake webhook receiver on loopback: a real aiohttp server that keeps docs/webhook.md's contract.

    async with FakeWebhookReceiver(secret="s3cret-s3cret-s3cret") as fake:
        options = {"base_url": fake.base_url, "secret": fake.secret}
        fake.fail_next(status=500)                  # the next request answers 500
        fake.rate_limit_next(retry_after="7")       # … 429 with Retry-After: 7
        fake.error_next(status=400, error="...")    # … 400 with {"error": "..."}
        fake.slow_next(delay=2.0)                   # … processed, then answered after 2 s
        fake.malformed_next()                       # … processed, then answered 200 with junk
        fake.drop_next()                            # … processed, then the connection is cut
        fake.decide("ebay:123456789012", "removed", "counterfeit confirmed")
        fake.requests[-1].json                      # what the adapter sent
        fake.notices[reference]                     # the notice filed under a reference
        fake.duplicates                             # idempotency keys that arrived again

Every request's signature is verified with `bot.delivery.adapters.webhook.verify_signature`; a bad or
stale one is answered 401 `{"error": "invalid signature"}` (and recorded with
`signature_ok=False`). A repeated `Idempotency-Key` gets the first reference back and is listed
in `duplicates`; no second notice is filed. Scripted behaviours apply to the next requests in
order, whatever their path; "processed" means the notice was filed (or the read answered)
before the misbehaviour: the request did arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.delivery.adapters.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    signature_ok: bool


@dataclass
class FakeNotice:
    reference: str
    idempotency_key: str
    body: dict[str, Any]
    deliveries: int = 1  # how many times this key arrived


@dataclass
class _Scripted:
    kind: str  # refuse | slow | malformed | drop
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0


class FakeWebhookReceiver:
    """`POST /notices` and `GET /notices/{reference}`, scriptable, with per-listing decisions."""

    def __init__(self, *, secret: str, tolerance: float = 300) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.requests: list[RecordedRequest] = []
        self.notices: dict[str, FakeNotice] = {}  # reference -> notice
        self.by_key: dict[str, str] = {}  # idempotency key -> reference
        self.duplicates: list[str] = []  # idempotency keys received again
        self.decisions: dict[str, tuple[str, str | None]] = {}  # listing key -> (status, reason)
        self._script: deque[_Scripted] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()  # cuts scripted delays short so stop() never waits on them
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hooks/notices", self._create)
        app.router.add_get("/hooks/notices/{reference}", self._read)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, *, status: int = 500, times: int = 1) -> None:
        """The next `times` requests are refused with `status` and `{"error": "server error"}`."""
        body = {"error": "server error"}
        self._script.extend(_Scripted("refuse", status=status, body=body) for _ in range(times))

    def rate_limit_next(self, *, retry_after: str = "5", times: int = 1) -> None:
        """The next `times` requests are answered 429 with `Retry-After`."""
        headers = {"Retry-After": retry_after}
        body = {"error": "too many requests"}
        self._script.extend(
            _Scripted("refuse", status=429, headers=headers, body=body) for _ in range(times)
        )

    def error_next(
        self, *, status: int = 400, error: str | None = None, message: str | None = None
    ) -> None:
        """The next request is refused with `status` and `{"error": …}` and/or `{"message": …}`."""
        body = {k: v for k, v in (("error", error), ("message", message)) if v is not None}
        self._script.append(_Scripted("refuse", status=status, body=body))

    def slow_next(self, *, delay: float, times: int = 1) -> None:
        """The next `times` requests are processed, then answered only after `delay` seconds."""
        self._script.extend(_Scripted("slow", delay=delay) for _ in range(times))

    def malformed_next(
        self, *, status: int = 200, body: bytes = b"<html>oops", times: int = 1
    ) -> None:
        """The next `times` requests are processed, then answered with `body` (not JSON)."""
        self._script.extend(_Scripted("malformed", status=status, body=body) for _ in range(times))

    def drop_next(self, *, times: int = 1) -> None:
        """The next `times` requests are processed, then the connection is cut without an answer."""
        self._script.extend(_Scripted("drop") for _ in range(times))

    def decide(self, listing_key: str, status: str, reason: str | None = None) -> None:
        """Every notice's listing with this key now reports `status` (removed, rejected, …)."""
        self.decisions[listing_key] = (status, reason)

    # --- handlers ------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            body=body,
            json=parsed,
            signature_ok=verify_signature(
                self.secret,
                request.headers.get(TIMESTAMP_HEADER),
                body,
                request.headers.get(SIGNATURE_HEADER),
                tolerance=self.tolerance,
            ),
        )
        self.requests.append(recorded)
        return recorded

    def _refuse_first(
        self, recorded: RecordedRequest
    ) -> tuple[web.Response | None, _Scripted | None]:
        """A scripted refusal, a signature refusal, or (None, the misbehaviour for later)."""
        scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.kind == "refuse":
            response = web.json_response(
                scripted.body, status=scripted.status, headers=scripted.headers
            )
            return response, None
        if not recorded.signature_ok:
            return web.json_response({"error": "invalid signature"}, status=401), None
        return None, scripted

    async def _answer(
        self, request: web.Request, scripted: _Scripted | None, response: web.Response
    ) -> web.StreamResponse:
        if scripted is None:
            return response
        if scripted.kind == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), scripted.delay)
            return response
        if scripted.kind == "malformed":
            assert isinstance(scripted.body, bytes)
            return web.Response(
                status=scripted.status, body=scripted.body, content_type="application/json"
            )
        if scripted.kind == "drop":
            assert request.transport is not None
            request.transport.abort()
            return response
        raise AssertionError(scripted.kind)

    def _listings(self, notice: FakeNotice) -> list[dict[str, Any]]:
        out = []
        for listing in notice.body.get("listings", []):
            status, reason = self.decisions.get(listing["key"], ("in_review", None))
            item = {"listing_id": listing["listing_id"], "key": listing["key"], "status": status}
            if reason is not None:
                item["reason"] = reason
            out.append(item)
        return out

    async def _create(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        refusal, scripted = self._refuse_first(recorded)
        if refusal is not None:
            return refusal
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not key:
            return web.json_response({"error": "Idempotency-Key header is required"}, status=400)
        if not isinstance(recorded.json, dict) or not recorded.json.get("listings"):
            return web.json_response({"error": "a notice needs listings"}, status=422)
        reference = self.by_key.get(key)
        if reference is None:
            reference = f"WH-{next(self._ids)}"
            self.by_key[key] = reference
            self.notices[reference] = FakeNotice(reference, key, recorded.json)
            status = 201
        else:
            self.duplicates.append(key)
            self.notices[reference].deliveries += 1
            status = 200
        notice = self.notices[reference]
        body = {"reference": reference, "listings": self._listings(notice)}
        return await self._answer(request, scripted, web.json_response(body, status=status))

    async def _read(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        refusal, scripted = self._refuse_first(recorded)
        if refusal is not None:
            return refusal
        notice = self.notices.get(request.match_info["reference"])
        if notice is None:
            return web.json_response({"error": "no such notice"}, status=404)
        body = {"reference": notice.reference, "listings": self._listings(notice)}
        return await self._answer(request, scripted, web.json_response(body))
