"""A fake Mercado Libre Brand Protection Program API on loopback, recording what it is sent.

    async with FakeMercadoLibre(token="t0ken") as fake:
        options = {"base_url": fake.base_url, "token": "t0ken", ...}
        fake.fail_next(status=503)                     # the next request answers 503
        fake.rate_limit_next(retry_after="7")          # … 429 with Retry-After: 7
        fake.error_next(status=400, message="...", cause=[...])
        fake.slow_next(delay=2.0)                      # … processed, then answered after 2 s
        fake.malformed_next()                          # … processed, then answered with junk
        fake.drop_next()                               # … processed, then the connection is cut
        fake.oversized_next(size=2**21)                # … processed, then a 2 MB answer (padded JSON)
        fake.strays                                    # requests that reached no endpoint
        fake.decide(denounce_id, "DOCUMENTATION_NOT_PRESENTED")
        fake.requests[-1].json                         # what the adapter sent

With `oauth=OAuthApp(...)` it also runs Mercado Libre's token endpoint (`fake.token_url`, the
client's id and secret in the form): each refresh hands out an access token and a new refresh
token, and the refresh token used stops working, as Mercado Libre's do. `expire_tokens()` makes
the BPP endpoints refuse every access token handed out so far.

Scripted behaviours apply to the next requests in order, whatever their path. "Processed" means
the denounce is created (or the read answered) before the misbehaviour: the request did arrive.
The denounce's response body and the status endpoint are this project's assumption of
Mercado Libre's shapes (see docs/mercadolibre.md), kept in step with the adapter.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.server import FakePlatform, RecordedRequest, Scripted, recorded_request

TOKEN_PATH = "/oauth/token"


@dataclass
class OAuthApp:
    """The app Mercado Libre knows and the refresh token its user's consent gave it."""

    client_id: str
    client_secret: str
    refresh_token: str  # the current one; replaced at each refresh
    lifetime: int = 21600  # seconds, as Mercado Libre's `expires_in`


KNOWN_REASONS = frozenset({"PPPI1", "PPPI2", "PPPI3", "PPPI4", "PPPI5"})


@dataclass
class FakeDenounce:
    denounce_id: str
    item_id: str
    body: dict[str, Any]
    status: str = "CREATED"
    status_detail: str | None = None


def meli_error(
    status: int, message: str, *, error: str = "bad_request", cause: list[Any] | None = None
) -> dict[str, Any]:
    """Mercado Libre's usual error body."""
    return {"message": message, "error": error, "status": status, "cause": cause or []}


class FakeMercadoLibre(FakePlatform[RecordedRequest]):
    """The BPP endpoints the adapter uses, with scriptable failures and denounce decisions."""

    malformed_status = 201

    def __init__(self, *, token: str | None = None, oauth: OAuthApp | None = None) -> None:
        super().__init__()
        self.token = token
        self.oauth = oauth
        self.issued: list[str] = []  # access tokens handed out, oldest first
        self.valid: set[str] = set()  # those the BPP endpoints still accept
        self.token_requests: list[dict[str, str]] = []  # the token endpoint's forms
        self.token_delay = 0.0  # seconds the token endpoint takes to answer
        self.denounces: dict[str, FakeDenounce] = {}
        self._ids = itertools.count(900_001)

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def expire_tokens(self) -> None:
        """Every access token handed out so far is refused from now on (401)."""
        self.valid.clear()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/moderations/pppi/denounces/items/{item_id}", self._create)
        router.add_get("/moderations/pppi/denounces/{denounce_id}", self._get)
        router.add_post(TOKEN_PATH, self._token)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, *, status: int = 500, times: int = 1) -> None:
        body = meli_error(status, "internal error", error="internal_error")
        self.refuse_next(status=status, body=body, times=times)

    def rate_limit_next(self, *, retry_after: str = "5", times: int = 1) -> None:
        self.refuse_next(
            status=429,
            headers={"Retry-After": retry_after},
            body=meli_error(429, "too many requests", error="too_many_requests"),
            times=times,
        )

    def error_next(
        self,
        *,
        status: int,
        message: str | None = None,
        cause: list[Any] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests are refused: `status`, and an error body if `message`."""
        body = meli_error(status, message, cause=cause) if message is not None else None
        self.refuse_next(status=status, body=body, times=times)

    def decide(self, denounce_id: str, status: str, detail: str | None = None) -> None:
        """Set a denounce's status (`DOCUMENTATION_NOT_PRESENTED`, `REJECTED`, …) and its detail."""
        denounce = self.denounces[denounce_id]
        denounce.status = status
        denounce.status_detail = detail

    # --- handlers ------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        recorded = await recorded_request(request)
        self.requests.append(recorded)
        return recorded

    def _refuse_first(self, request: web.Request) -> tuple[web.Response | None, Scripted | None]:
        refusal, scripted = self._next_scripted()
        if refusal is not None:
            return refusal, None
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given != self.token and given not in self.valid:
            body = meli_error(401, "invalid access token", error="unauthorized")
            return web.json_response(body, status=401), None
        return None, scripted

    async def _token(self, request: web.Request) -> web.Response:
        """Mercado Libre's token endpoint, refresh_token grant: the refresh token works once."""
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.token_requests.append(form)
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        app = self.oauth
        if app is None or form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if (form.get("client_id"), form.get("client_secret")) != (
            app.client_id,
            app.client_secret,
        ):
            return web.json_response(
                {"error": "invalid_client", "message": "invalid client_id or client_secret"},
                status=401,
            )
        if form.get("refresh_token") != app.refresh_token:
            return web.json_response(
                {"error": "invalid_grant", "message": "Error validating grant.", "status": 400},
                status=400,
            )
        n = len(self.issued) + 1
        token = f"APP_USR-fake-access-{n}"
        app.refresh_token = f"TG-fake-refresh-{n}"
        self.issued.append(token)
        self.valid.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": app.lifetime,
                "scope": "offline_access read write",
                "user_id": 123456789,
                "refresh_token": app.refresh_token,
            }
        )

    async def _create(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        refusal, scripted = self._refuse_first(request)
        if refusal is not None:
            return refusal
        body = recorded.json
        if not isinstance(body, dict) or body.get("report_reason_id") not in KNOWN_REASONS:
            return web.json_response(meli_error(400, "invalid report_reason_id"), status=400)
        if not isinstance(body.get("comment"), str) or not body["comment"].strip():
            return web.json_response(meli_error(400, "comment is required"), status=400)
        denounce = FakeDenounce(
            denounce_id=str(next(self._ids)), item_id=request.match_info["item_id"], body=body
        )
        self.denounces[denounce.denounce_id] = denounce
        response = web.json_response(
            {"id": denounce.denounce_id, "item_id": denounce.item_id, "status": denounce.status},
            status=201,
        )
        return await self._answer(request, scripted, response)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        refusal, scripted = self._refuse_first(request)
        if refusal is not None:
            return refusal
        denounce = self.denounces.get(request.match_info["denounce_id"])
        if denounce is None:
            return web.json_response(
                meli_error(404, "denounce not found", error="not_found"), status=404
            )
        body: dict[str, Any] = {
            "id": denounce.denounce_id,
            "item_id": denounce.item_id,
            "status": denounce.status,
        }
        if denounce.status_detail:
            body["status_detail"] = denounce.status_detail
        return await self._answer(request, scripted, web.json_response(body))
