"""A fake webhook receiver on loopback: a real aiohttp server that keeps docs/webhook.md's contract.

    async with FakeWebhookReceiver(secret="s3cret-s3cret-s3cret") as fake:
        options = {"base_url": fake.base_url, "secret": fake.secret}
        fake.fail_next(status=500)                  # the next request answers 500
        fake.rate_limit_next(retry_after="7")       # … 429 with Retry-After: 7
        fake.error_next(status=400, error="...")    # … 400 with {"error": "..."}
        fake.slow_next(delay=2.0)                   # … processed, then answered after 2 s
        fake.malformed_next()                       # … processed, then answered 200 with junk
        fake.drop_next()                            # … processed, then the connection is cut
        fake.oversized_next(size=2**21)             # … processed, then a 2 MB answer (padded JSON)
        fake.strays                                 # requests that reached no endpoint
        fake.decide("ebay:123456789012", "removed", "counterfeit confirmed")
        fake.requests[-1].json                      # what the adapter sent
        fake.notices[reference]                     # the notice filed under a reference
        fake.duplicates                             # idempotency keys that arrived again
        fake.messages[reference]                    # answers filed under a notice (POST …/messages)

Every request's v2 signature (method, path with query, timestamp, body) is verified with
`bot.delivery.adapters.webhook.verify_request`; a bad, missing or stale one is answered 401
`{"error": "invalid signature"}` (and recorded with `signature_ok=False`). Whether the deprecated
v1 signature alone would have passed is recorded as `signature_v1_ok`. A repeated `Idempotency-Key` gets the first reference back and is listed
in `duplicates`; no second notice is filed. Scripted behaviours apply to the next requests in
order, whatever their path; "processed" means the notice was filed (or the read answered)
before the misbehaviour: the request did arrive.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.delivery.adapters.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_request,
    verify_signature,
)
from fakes.server import FakePlatform, Scripted


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    signature_ok: bool  # v2
    target: str = ""  # the path with its query, as received (what v2 signs)
    signature_v1_ok: bool = False  # the deprecated v1, which covers timestamp and body only


@dataclass
class FakeNotice:
    reference: str
    idempotency_key: str
    body: dict[str, Any]
    deliveries: int = 1  # how many times this key arrived


class FakeWebhookReceiver(FakePlatform[RecordedRequest]):
    """`POST /notices`, `GET /notices/{reference}` and `POST /notices/{reference}/messages`,
    scriptable, with per-listing decisions."""

    def __init__(self, *, secret: str, tolerance: float = 300) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self.notices: dict[str, FakeNotice] = {}  # reference -> notice
        self.by_key: dict[str, str] = {}  # idempotency key -> reference
        self.duplicates: list[str] = []  # idempotency keys received again
        # reference -> the answers (messages) filed under that notice, each once per key
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.message_keys: dict[str, str] = {}  # a message's idempotency key -> its reference
        self.decisions: dict[str, tuple[str, str | None]] = {}  # listing key -> (status, reason)
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.url}/hooks"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/hooks/notices", self._create)
        router.add_get("/hooks/notices/{reference}", self._read)
        router.add_post("/hooks/notices/{reference}/messages", self._message)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, *, status: int = 500, times: int = 1) -> None:
        """The next `times` requests are refused with `status` and `{"error": "server error"}`."""
        self.refuse_next(status=status, body={"error": "server error"}, times=times)

    def rate_limit_next(self, *, retry_after: str = "5", times: int = 1) -> None:
        """The next `times` requests are answered 429 with `Retry-After`."""
        self.refuse_next(
            status=429,
            headers={"Retry-After": retry_after},
            body={"error": "too many requests"},
            times=times,
        )

    def error_next(
        self, *, status: int = 400, error: str | None = None, message: str | None = None
    ) -> None:
        """The next request is refused with `status` and `{"error": …}` and/or `{"message": …}`."""
        body = {k: v for k, v in (("error", error), ("message", message)) if v is not None}
        self.refuse_next(status=status, body=body)

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
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        header = request.headers.get(SIGNATURE_HEADER)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            body=body,
            json=parsed,
            signature_ok=verify_request(
                self.secret,
                method=request.method,
                target=request.raw_path,
                timestamp=timestamp,
                body=body,
                header=header,
                tolerance=self.tolerance,
            ),
            target=request.raw_path,
            signature_v1_ok=verify_signature(
                self.secret, timestamp, body, header, tolerance=self.tolerance
            ),
        )
        self.requests.append(recorded)
        return recorded

    def _refuse_first(
        self, recorded: RecordedRequest
    ) -> tuple[web.Response | None, Scripted | None]:
        """A scripted refusal, a signature refusal, or (None, the misbehaviour for later)."""
        refusal, scripted = self._next_scripted()
        if refusal is not None:
            return refusal, None
        if not recorded.signature_ok:
            return web.json_response({"error": "invalid signature"}, status=401), None
        return None, scripted

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

    async def _message(self, request: web.Request) -> web.StreamResponse:
        """`POST /notices/{reference}/messages`: an answer to the receiver's request for
        information, filed once per `Idempotency-Key`."""
        recorded = await self._record(request)
        refusal, scripted = self._refuse_first(recorded)
        if refusal is not None:
            return refusal
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not key:
            return web.json_response({"error": "Idempotency-Key header is required"}, status=400)
        notice = self.notices.get(request.match_info["reference"])
        if notice is None:
            return web.json_response({"error": "no such notice"}, status=404)
        if not isinstance(recorded.json, dict) or not recorded.json.get("message"):
            return web.json_response({"error": "a message needs its text"}, status=422)
        reference = self.message_keys.get(key)
        status = 200
        if reference is None:
            filed = self.messages.setdefault(notice.reference, [])
            reference = f"{notice.reference}-M{len(filed) + 1}"
            self.message_keys[key] = reference
            filed.append(recorded.json)
            status = 201
        else:
            self.duplicates.append(key)
        body = {"reference": reference}
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
