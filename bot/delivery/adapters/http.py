"""The HTTP boundary shared by the API adapters (eBay VeRO, Mercado Libre; the webhook uses its
reading and Retry-After): one request with its failures typed, and the typed error for a refusal.

Typing rules: a failure to connect is transient (nothing was sent); a timeout or broken
connection after sending is ambiguous for a POST (the platform may have created the report) and
transient for a GET; 408, 429 and 5xx are transient, honouring Retry-After; any other refusal is
permanent, with the platform's own words. A successful answer over `MAX_ANSWER_BYTES` is not read:
an `UnreadableAnswer` (an `UnreadableReceipt`, outcome unknown, for a POST).

Everything from the platform is data: a path part built from it goes through `path_part`, and
Retry-After through `retry_after`, which never raises and never gives an absurd wait.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
from pydantic import Field, SecretStr, field_validator

from bot.config.schema import INFRINGEMENT_TYPES
from bot.delivery.adapters.base import (
    AdapterError,
    AdapterOptions,
    AmbiguousError,
    PermanentError,
    TransientError,
    UnreadableAnswer,
    UnreadableReceipt,
)

# The largest answer an adapter reads. The largest real ones (an eBay report of 150 items with
# every item's details, a webhook receiver's statuses for a 500-listing notice) are well under
# 200 KB; a server that sends more is broken or hostile, and the worker must not hold it all.
MAX_ANSWER_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024

# The longest wait passed on from a Retry-After: longer than any wait the worker honours (its own
# cap is configurable, 1 h by default), so the worker's setting decides, while an absurd header
# (a date in 9999) still becomes a plain, finite number.
MAX_RETRY_AFTER = 24 * 3600.0
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # RFC 9110's delay-seconds, and a fraction


class ApiOptions(AdapterOptions):
    """The keys every token-authenticated API adapter takes: `base_url`, `token`, `timeout`."""

    environment_name: ClassVar[str] = "TOKEN"  # named in the message when the token is empty

    base_url: str
    token: SecretStr
    timeout: float = Field(default=30.0, gt=0, le=300)  # seconds, per request

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(
                f"must not be empty (set it from the environment, e.g. ${{{cls.environment_name}}})"
            )
        return value


def codes_by_type(value: Any, *, noun: str, kind_of_value: str) -> Any:
    """Check a map of infringement type → platform code (reason codes, report reasons)."""
    if not isinstance(value, dict):
        return value  # pydantic reports the wrong type
    for kind, code in value.items():
        if kind not in INFRINGEMENT_TYPES:
            known = ", ".join(INFRINGEMENT_TYPES)
            raise ValueError(f"unknown infringement type {kind!r} (known: {known})")
        if isinstance(code, bool) or not isinstance(code, str | int) or not str(code).strip():
            raise ValueError(f"the {noun} for {kind!r} must be {kind_of_value}, got {code!r}")
    return {kind: str(code).strip() for kind, code in value.items()}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


def json_body(value: Any) -> bytes:
    """A request's JSON body, serialised once: these bytes are sent and kept (`SentCopy`)."""
    return json.dumps(value, ensure_ascii=False).encode()


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds to wait, from 0 to MAX_RETRY_AFTER: a number of seconds or an HTTP
    date (one in the past is 0). None when the header is missing or neither: a sign, an exponent,
    `inf`, `NaN` or a date that does not exist is not a wait. Never raises: the value is whatever
    a server sent."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)  # float() of 400 digits is inf: capped too
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):  # what the parser raises on junk
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def path_part(value: str) -> str:
    """`value` as one segment of a URL path: percent-encoded, so a `/`, `?`, `#` or `%` in it stays
    data; never `.` or `..`, which a URL library resolves against the path around it."""
    if value in ("", ".", ".."):
        raise PermanentError(f"{value!r} cannot be a part of a request's path")
    return quote(value, safe="")


async def read_answer(response: aiohttp.ClientResponse) -> bytes | None:
    """The answer's body, or None when it is longer than MAX_ANSWER_BYTES (then read no further,
    whether it declared its length or streams)."""
    if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            return None
    return bytes(body)


def too_large(*, platform: str, action: str, sent: bool, then: str = "") -> UnreadableAnswer:
    """The error for a successful answer over MAX_ANSWER_BYTES; `sent`: it answered a request
    that may have filed something (a POST), so whether it did is unknown."""
    problem = f"the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB"
    if sent:
        return UnreadableReceipt(platform, action, problem, then=then)
    return UnreadableAnswer(platform, action, problem)


def refusal(
    reply: Reply,
    *,
    platform: str,
    action: str,
    messages: Callable[[Any], list[str]],
    hints: Mapping[int, str],
) -> AdapterError:
    """The typed error for a non-2xx answer; `messages` reads the platform's error body and
    `hints` explain a bare status (401, 403, …) when the body says nothing."""
    wait = retry_after(reply.headers.get("Retry-After"))
    if reply.status == 429:
        return TransientError(f"{platform} is rate-limiting requests ({action})", retry_after=wait)
    if reply.status >= 500 or reply.status == 408:
        return TransientError(
            f"{platform} answered {reply.status} ({action}); it will be tried again",
            retry_after=wait,
        )
    said = messages(reply.json())
    detail = "; ".join(said) if said else hints.get(reply.status, "no reason given")
    return PermanentError(
        f"{platform} refused the request ({action}, HTTP {reply.status}): {detail}"
    )


async def request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    platform: str,
    action: str,
    created: str,
    headers: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 (each platform's own per-request limit, from app.yaml)
    body: bytes | None = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    idempotent: bool = False,
) -> Reply:
    """One request; transport failures become typed errors. `body` is JSON already serialised
    (`json_body`), sent exactly as given, so the bytes a notice keeps are the bytes that left;
    `form` is sent as a form. `created` names what a POST makes ("the report"), for the message
    when its outcome is unknown; an `idempotent` POST (asking again does no harm) is transient
    then. A successful answer over MAX_ANSWER_BYTES raises `too_large`; a refusal's is dropped
    (its status says enough)."""
    ambiguous = method == "POST" and not idempotent
    after_send: type[AdapterError] = AmbiguousError if ambiguous else TransientError
    suffix = f"; {created} may have been created" if ambiguous else ""
    headers = {**headers, "Content-Type": "application/json"} if body is not None else headers
    try:
        async with http.request(
            method,
            url,
            data=body if body is not None else (dict(form) if form is not None else None),
            params=params,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=method != "POST",
        ) as response:
            answer = await read_answer(response)
            if answer is None:
                if 200 <= response.status < 300:
                    then = f"; {created} may have been created" if ambiguous else ""
                    raise too_large(
                        platform=platform, action=action, sent=method == "POST", then=then
                    )
                answer = b""
            return Reply(response.status, response.headers, answer)
    except aiohttp.ConnectionTimeoutError as exc:  # raised before anything was sent
        raise TransientError(f"could not connect to {platform} in time ({action})") from exc
    except aiohttp.ClientConnectorError as exc:
        raise TransientError(f"could not connect to {platform} ({action}): {exc.os_error}") from exc
    except TimeoutError as exc:
        raise after_send(
            f"{platform} did not answer within {timeout:g}s ({action}){suffix}"
        ) from exc
    except aiohttp.ClientError as exc:
        raise after_send(f"the connection to {platform} broke ({action}){suffix}: {exc}") from exc
