"""A fake eBay VeRO API v2 on loopback: a real aiohttp server that records what it is sent.

    async with FakeEbayVero(token="t0ken") as fake:
        options = {"base_url": fake.base_url, "token": "t0ken", ...}
        fake.fail_next(status=500)                     # the next request answers 500
        fake.rate_limit_next(retry_after="7")          # … 429 with Retry-After: 7
        fake.error_next(status=400, errors=[...])      # … 400 with an errors[] body
        fake.slow_next(delay=2.0)                      # … processed, then answered after 2 s
        fake.malformed_next()                          # … processed, then answered with junk
        fake.drop_next()                               # … processed, then the connection is cut
        fake.oversized_next(size=2**21)                # … processed, then a 2 MB answer (padded JSON)
        fake.strays                                    # requests that reached no endpoint
        fake.decide(report_id, "123456789012", "Removed")
        fake.requests[-1].json                         # what the adapter sent

With `oauth=OAuthClient(...)` it also runs eBay's token endpoint (`fake.token_url`): a refresh
token is exchanged for access tokens, which the VeRO endpoints accept until `expire_tokens()`;
`token_error_next(status, body)` scripts the token endpoint's next answers.

Scripted behaviours apply to the next requests in order, whatever their path. "Processed" means
the report is created (or the read answered) before the misbehaviour: the request did arrive.
"""

from __future__ import annotations

import base64
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes.server import FakePlatform, RecordedRequest, Scripted, recorded_request

BASE_PATH = "/commerce/vero/v2"
TOKEN_PATH = "/identity/v1/oauth2/token"
VERO_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.vero"


@dataclass(frozen=True)
class OAuthClient:
    """The app eBay knows (client id and secret) and the refresh token a user gave it."""

    client_id: str
    client_secret: str
    refresh_token: str
    lifetime: int = 7200  # seconds, as eBay's `expires_in`


@dataclass
class FakeReport:
    report_id: str
    body: dict[str, Any]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # itemId -> reportedItem


def ebay_errors(*errors: tuple[int, str]) -> dict[str, Any]:
    """An eBay error body: `ebay_errors((1001, "Invalid access token"))`."""
    return {
        "errors": [
            {"errorId": error_id, "domain": "API_VERO", "category": "REQUEST", "message": message}
            for error_id, message in errors
        ]
    }


class FakeEbayVero(FakePlatform[RecordedRequest]):
    """The VeRO v2 endpoints the adapter uses, with scriptable failures and per-item decisions."""

    malformed_status = 201

    def __init__(self, *, token: str | None = None, oauth: OAuthClient | None = None) -> None:
        super().__init__()
        self.token = token
        self.oauth = oauth
        self.issued: list[str] = []  # access tokens handed out, oldest first
        self.valid: set[str] = set()  # those the VeRO endpoints still accept
        self.token_requests: list[dict[str, str]] = []  # the token endpoint's forms
        self._token_script: deque[tuple[int, Any]] = deque()
        self.reports: dict[str, FakeReport] = {}
        self._ids = itertools.count(5_000_000_001)

    @property
    def base_url(self) -> str:
        return f"{self.url}{BASE_PATH}"

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post(f"{BASE_PATH}/vero_report", self._create)
        router.add_get(f"{BASE_PATH}/vero_report/{{report_id}}", self._get_report)
        router.add_get(f"{BASE_PATH}/vero_report_items", self._get_items)
        router.add_post(TOKEN_PATH, self._token)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, *, status: int = 500, times: int = 1) -> None:
        """The next `times` requests are refused with `status` and an errors[] body."""
        self.refuse_next(status=status, body=ebay_errors((10001, "System error")), times=times)

    def rate_limit_next(self, *, retry_after: str = "5", times: int = 1) -> None:
        self.refuse_next(
            status=429,
            headers={"Retry-After": retry_after},
            body=ebay_errors((2001, "Too many requests")),
            times=times,
        )

    def error_next(
        self, *, status: int, errors: list[dict[str, Any]] | None = None, times: int = 1
    ) -> None:
        """The next `times` requests are refused: `status`, and `{"errors": errors}` or no body."""
        body = {"errors": errors} if errors is not None else None
        self.refuse_next(status=status, body=body, times=times)

    def expire_tokens(self) -> None:
        """Every access token handed out so far is refused from now on (401)."""
        self.valid.clear()

    def token_error_next(self, status: int, body: Any = None, *, times: int = 1) -> None:
        """The token endpoint's next `times` answers: `status` with `body` (JSON) or none."""
        self._token_script.extend((status, body) for _ in range(times))

    def decide(self, report_id: str, item_id: str, status: str, reason: str | None = None) -> None:
        """Set one reported item's status (`Removed`, `CLARIFICATION_REQUIRED`, …) and reason."""
        item = self.reports[report_id].items[item_id]
        item["status"] = status
        if reason is None:
            item.pop("reasonForFailure", None)
        else:
            item["reasonForFailure"] = reason

    # --- handlers ------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        recorded = await recorded_request(request)
        self.requests.append(recorded)
        return recorded

    def _refuse_first(self, request: web.Request) -> tuple[web.Response | None, Scripted | None]:
        """A refusal (scripted or for the token), else (None, the misbehaviour to apply later)."""
        refusal, scripted = self._next_scripted()
        if refusal is not None:
            return refusal, None
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given != self.token and given not in self.valid:
            body = ebay_errors(
                (
                    1001,
                    "Invalid access token. Check the Authorization HTTP request header.",
                )
            )
            return web.json_response(body, status=401), None
        return None, scripted

    async def _token(self, request: web.Request) -> web.Response:
        """eBay's token endpoint: the refresh_token and client_credentials grants."""
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.token_requests.append(form)
        if self._token_script:
            status, body = self._token_script.popleft()
            if body is None:
                return web.Response(status=status)
            return web.json_response(body, status=status)
        client = self.oauth
        if client is None:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        pair = f"{client.client_id}:{client.client_secret}".encode()
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(pair).decode():
            return web.json_response(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                status=401,
            )
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "client_credentials"):
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if grant == "refresh_token" and form.get("refresh_token") != client.refresh_token:
            return web.json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "the provided authorization refresh token is invalid "
                    "or was issued to another client",
                },
                status=400,
            )
        if form.get("scope", VERO_SCOPE) != VERO_SCOPE:
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = f"v^1.1#i^1#fake-access-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return web.json_response(
            {
                "access_token": token,
                "expires_in": client.lifetime,
                "token_type": "User Access Token",
            }
        )

    async def _create(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        refusal, scripted = self._refuse_first(request)
        if refusal is not None:
            return refusal
        problem = _check_report_body(recorded.json)
        if problem:
            return web.json_response(ebay_errors((200000, problem)), status=400)
        report_id = str(next(self._ids))
        report = FakeReport(report_id=report_id, body=recorded.json)
        for entry in recorded.json["reportItems"]:
            report.items[str(entry["itemId"])] = {
                "itemId": str(entry["itemId"]),
                "status": "Received",
            }
        self.reports[report_id] = report
        response = web.json_response(
            {"veroReportId": report_id},
            status=201,
            headers={"Location": f"{self.base_url}/vero_report/{report_id}"},
        )
        return await self._answer(request, scripted, response)

    async def _get_report(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        refusal, scripted = self._refuse_first(request)
        if refusal is not None:
            return refusal
        report = self.reports.get(request.match_info["report_id"])
        if report is None:
            return web.json_response(
                ebay_errors((200001, "The VeRO report was not found.")), status=404
            )
        body: dict[str, Any] = {"veroReportId": report.report_id, "veroReportStatus": "Received"}
        if request.query.get("includeItemDetails") == "true":
            body["reportedItemDetails"] = [dict(item) for item in report.items.values()]
        return await self._answer(request, scripted, web.json_response(body))

    async def _get_items(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        refusal, scripted = self._refuse_first(request)
        if refusal is not None:
            return refusal
        wanted = request.query.get("itemId")
        items = [
            dict(item)
            for report in self.reports.values()
            for item in report.items.values()
            if wanted is None or item["itemId"] == wanted
        ]
        body: dict[str, Any] = {"total": len(items), "limit": 25, "offset": 0}
        if items:  # like eBay, leave an empty array out
            body["reportedItems"] = items
        return await self._answer(request, scripted, web.json_response(body))


def _check_report_body(body: Any) -> str | None:
    """What eBay would reject in a createVeroReport body (the checks this fake knows)."""
    if not isinstance(body, dict) or not isinstance(body.get("reportItems"), list):
        return "reportItems is required"
    items = body["reportItems"]
    if not 1 <= len(items) <= 150:
        return "a report holds 1 to 150 items"
    for entry in items:
        if (
            not isinstance(entry, dict)
            or not entry.get("itemId")
            or not entry.get("veroReasonCodeId")
        ):
            return "itemId and veroReasonCodeId are required for each reported item"
        if (
            len(entry.get("messageToSeller", "")) > 1000
            or len(entry.get("detailedMessage", "")) > 1000
        ):
            return "messageToSeller and detailedMessage hold at most 1000 characters"
        if len(entry.get("brand", "")) > 50:
            return "brand holds at most 50 characters"
    return None
