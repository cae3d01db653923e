"""The `webhook` channel: the notice as signed JSON to an enforcement vendor or in-house system.

`POST {base_url}/notices` files a notice; `GET {base_url}/notices/{reference}` asks for the
decisions; `POST {base_url}/notices/{reference}/messages` carries a person's answer to the
receiver's request for information. Every request is signed (`X-Takedown-Signature: v2=<hex HMAC-SHA256>` over the
timestamp, the method, the path with its query and the body; the deprecated v1, over timestamp and
body only, beside it until V1_SENT_UNTIL) and every submission carries an `Idempotency-Key`: the receiver keeps
one notice per key and answers a repeat with the same reference. That contract is what makes
this channel idempotent, and why a timeout after sending is a `TransientError` here: sending
again with the same key cannot create a second notice. docs/webhook.md is the receiver's guide.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
from pydantic import Field, SecretStr, field_validator
from typing_extensions import override
from yarl import URL

from bot.core.states import DECISIONS, ListingStatus
from bot.delivery.adapters.base import (
    Adapter,
    AdapterOptions,
    InvalidReference,
    ListingDecision,
    OutgoingAnswer,
    OutgoingNotice,
    PermanentError,
    Receipt,
    SentCopy,
    TransientError,
    UnreadableAnswer,
    UnreadableReceipt,
)
from bot.delivery.adapters.http import path_part, read_answer, too_large
from bot.delivery.adapters.http import retry_after as retry_after_seconds
from bot.delivery.adapters.webhook_answer import answer_payload
from bot.delivery.cleaning import clean_line

log = logging.getLogger(__name__)

SIGNATURE_VERSION = "v1"  # deprecated: timestamp and body only (`sign`, `verify_signature`)
SIGNATURE_V2 = "v2"  # timestamp, method, path with query, body (`sign_v2`, `verify_request`)
# The end of v1's deprecation period (docs/webhook.md, Signatures): until then the adapter sends
# v1 beside v2 unless `signature_v1: false`; releases after it send v2 only.
V1_SENT_UNTIL = "2027-06-30"
TIMESTAMP_HEADER = "X-Takedown-Timestamp"
SIGNATURE_HEADER = "X-Takedown-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "takedown-bot (webhook adapter)"
_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        TIMESTAMP_HEADER,
        SIGNATURE_HEADER,
        IDEMPOTENCY_HEADER,
        "Content-Type",
        "Content-Length",
        "Host",
    )
)
RECEIVER = "the webhook receiver"  # how messages name the other side
SENDING, ASKING = "sending the notice", "asking for decisions"  # what a request was doing


class WebhookOptions(AdapterOptions):
    base_url: str = Field(min_length=1)
    secret: SecretStr
    timeout: float = Field(default=15, gt=0, le=300)  # seconds, for the whole request
    # Extra static headers. Their values are kept as secrets (redacted from logs and threads): a
    # vendor's API key usually travels in one.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    # Also send the deprecated v1 signature (until V1_SENT_UNTIL), for receivers that check only
    # v1; false once the receiver checks v2, so no v1 signature can be replayed against it.
    signature_v1: bool = True

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL such as https://vendor.example/api")
        return value.rstrip("/")

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("the signing secret must be at least 16 characters")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, item in value.items():
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name} is set by the adapter and cannot be overridden")
            if any(ch in name + item.get_secret_value() for ch in "\r\n"):
                raise ValueError(f"header {name!r} contains a line break")
        return value


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The deprecated v1 signature, `v1=<hex HMAC-SHA256>` of `"{timestamp}." + body`: it does not
    cover the method or the path (see `sign_v2`)."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def sign_v2(
    secret: str | bytes, *, method: str, target: str, timestamp: int | str, body: bytes
) -> str:
    """`v2=<hex HMAC-SHA256>` of the lines `v2`, timestamp, method, and target (the path with its
    query, exactly as in the request line: `/api/notices/VND-1?x=1`), then the body.

    A signature is good for one request: the same timestamp and body sent with another method or
    to another path (a GET's empty body is everyone's) does not verify."""
    key = secret.encode() if isinstance(secret, str) else secret
    head = f"{SIGNATURE_V2}\n{timestamp}\n{method.upper()}\n{target}\n".encode()
    digest = hmac.new(key, head + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_V2}={digest}"


def signature_headers(
    secret: str, *, method: str, target: str, body: bytes, v1: bool = True, now: float | None = None
) -> dict[str, str]:
    """`X-Takedown-Timestamp` and `X-Takedown-Signature` for a request (v2, and v1 beside it
    during the deprecation period unless `v1` is false)."""
    timestamp = int(time.time() if now is None else now)
    signatures = [sign(secret, timestamp, body)] if v1 else []
    signatures.append(sign_v2(secret, method=method, target=target, timestamp=timestamp, body=body))
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: ",".join(signatures)}


def _fresh(timestamp: str | int | None, tolerance: float, now: float | None) -> int | None:
    """The timestamp, when it is one and within `tolerance` seconds of now."""
    if timestamp is None:
        return None
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return None
    current = time.time() if now is None else now
    return sent if abs(current - sent) <= tolerance else None


def _offered(header: str | None) -> list[bytes]:
    return [part.strip().encode() for part in (header or "").split(",") if part.strip()]


def verify_request(
    secret: str | bytes | SecretStr,
    *,
    method: str,
    target: str,
    timestamp: str | int | None,
    body: bytes | str,
    header: str | None,
    tolerance: float = 300,
    now: float | None = None,
    accept_v1: bool = False,
) -> bool:
    """Whether a request carries a good v2 signature with `secret` and is fresh (its timestamp
    within `tolerance` s). `target` is the path with its query as received (aiohttp:
    `request.raw_path`).

    `header` may hold several comma-separated signatures (v2 and v1 during the deprecation period;
    several of each while secrets rotate): one match is enough. v1 counts only with `accept_v1`,
    for a sender that does not sign v2 yet, until the deprecation period ends. Constant-time."""
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    sent = _fresh(timestamp, tolerance, now)
    if sent is None:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = [sign_v2(secret, method=method, target=target, timestamp=sent, body=raw).encode()]
    if accept_v1:
        expected.append(sign(secret, sent, raw).encode())
    return any(
        hmac.compare_digest(want, candidate) for want in expected for candidate in _offered(header)
    )


def verify_signature(
    secret: str | bytes | SecretStr,
    timestamp: str | int | None,
    body: bytes | str,
    header: str | None,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """Deprecated (v1): whether a request is signed over its timestamp and body with `secret`
    and fresh. It cannot tell one GET from another; use `verify_request` (v2).

    `header` may carry several comma-separated signatures (`v1=…,v1=…`), as a sender does while
    rotating secrets; one match is enough. Comparison is constant-time.
    """
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    sent = _fresh(timestamp, tolerance, now)
    if sent is None:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, sent, raw).encode()
    return any(hmac.compare_digest(expected, candidate) for candidate in _offered(header))


class WebhookAdapter(Adapter):
    name = "webhook"
    max_batch = 500
    idempotent = True  # the receiver dedupes by Idempotency-Key
    can_check = True
    can_answer = True  # POST /notices/{reference}/messages
    Options: ClassVar[type[AdapterOptions]] = WebhookOptions

    @property
    def settings(self) -> WebhookOptions:
        assert isinstance(self.options, WebhookOptions)
        return self.options

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        body = json.dumps(notice_payload(notice), ensure_ascii=False).encode()
        answer = await self._request(  # these bytes are signed, sent and kept (`SentCopy`)
            "POST",
            "/notices",
            body=body,
            extra={IDEMPOTENCY_HEADER: notice.idempotency_key, "Content-Type": "application/json"},
        )
        # Unreadable, it may still have been filed: sending again with the same key is safe and
        # should bring the reference back (the delivery layer resends on an idempotent channel).
        reference = answer.get("reference")
        if not isinstance(reference, str):
            raise UnreadableReceipt(RECEIVER, SENDING, "no reference in it")
        try:
            reference = self.parse_reference(reference)
        except InvalidReference as exc:
            raise UnreadableReceipt(RECEIVER, SENDING, f"its reference: {exc}") from None
        items = answer.get("listings")
        if items is not None and not isinstance(items, list):
            raise UnreadableReceipt(RECEIVER, SENDING, "its listings are not a list")
        decisions = _decisions(notice, items or [])
        return Receipt(
            reference=reference,
            decisions=tuple(decisions),
            detail={"response": answer},
            copy=SentCopy("application/json", body, path="/notices"),
        )

    @override
    async def answer(self, notice: OutgoingNotice, answer: OutgoingAnswer) -> Receipt:
        """`POST /notices/{reference}/messages`: the answer, under its own `Idempotency-Key`."""
        if not notice.reference:
            raise PermanentError("this notice has no webhook reference to answer under")
        path = f"/notices/{path_part(notice.reference)}/messages"
        body = json.dumps(answer_payload(notice, answer), ensure_ascii=False).encode()
        reply = await self._request(
            "POST",
            path,
            body=body,
            extra={IDEMPOTENCY_HEADER: answer.idempotency_key, "Content-Type": "application/json"},
        )
        given = reply.get("reference")
        reference = given if isinstance(given, str) and 0 < len(given) <= 200 else None
        target = URL(self.settings.base_url + path).raw_path
        return Receipt(
            reference=reference,
            detail={"response": reply},
            copy=SentCopy("application/json", body, path=target),
        )

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:
        if not notice.reference:
            raise PermanentError("this notice has no webhook reference to ask about")
        answer = await self._request("GET", f"/notices/{path_part(notice.reference)}")
        items = answer.get("listings")
        if items is not None and not isinstance(items, list):
            raise UnreadableAnswer(RECEIVER, ASKING, "its listings are not a list")
        return _decisions(notice, items or [])

    @override
    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:
        """Always None: "resend". The receiver dedupes by Idempotency-Key, so a resend is safe.

        The contract has no lookup by key; resending *is* the lookup (the answer to a repeated key
        is the original reference).
        """
        return None

    async def _request(
        self, method: str, path: str, *, body: bytes = b"", extra: dict[str, str] | None = None
    ) -> dict[str, Any]:
        opts = self.settings
        url = URL(opts.base_url + path)  # as sent: its request line is what v2 signs
        headers = {
            **{name: value.get_secret_value() for name, value in opts.headers.items()},
            **(extra or {}),
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **signature_headers(
                opts.secret.get_secret_value(),
                method=method,
                target=url.raw_path_qs,
                body=body,
                v1=opts.signature_v1,
            ),
        }
        try:
            async with self.http.request(
                method,
                url,
                data=body if method != "GET" else None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=opts.timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await read_answer(response)
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise TransientError(
                f"the webhook receiver did not answer within {opts.timeout:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"could not reach the webhook receiver: {_describe(exc)}") from exc

        if status in (200, 201, 202):
            # After a POST the notice may be filed: an unreadable answer leaves that unknown.
            unreadable = UnreadableReceipt if method == "POST" else UnreadableAnswer
            action = SENDING if method == "POST" else ASKING
            if raw is None:
                raise too_large(platform=RECEIVER, action=action, sent=method == "POST")
            try:
                data = json.loads(raw)
            except ValueError:  # UnicodeDecodeError too
                log.warning("webhook %s %s answered %s with %r", method, url, status, raw[:500])
                raise unreadable(
                    RECEIVER, action, f"HTTP {status} with a body that is not JSON"
                ) from None
            if not isinstance(data, dict):
                raise unreadable(RECEIVER, action, f"HTTP {status} without a JSON object")
            return data
        message = _receiver_message(raw or b"")  # a refusal over the size limit: its status
        text = f"the webhook receiver answered {status}" + (f": {message}" if message else "")
        log.warning("webhook %s %s answered %s: %s", method, url, status, message)
        if status == 429 or status >= 500 or status == 408:
            raise TransientError(text, retry_after=retry_after)
        raise PermanentError(text)


def notice_payload(notice: OutgoingNotice) -> dict[str, Any]:
    """The JSON body of `POST /notices` (documented in docs/webhook.md)."""
    right = notice.right
    holder = notice.rights_holder
    return {
        "notice_id": notice.notice_id,
        "idempotency_key": notice.idempotency_key,
        "case": notice.case_ref,
        "platform": notice.platform,
        "channel": notice.channel,
        "brand": notice.brand,
        "right": {
            "id": right.id,
            "kind": right.kind,
            "mark": right.mark,
            "number": right.number,
            "office": right.office,
            "classes": list(right.classes),
            "jurisdiction": right.jurisdiction,
            "work": right.work,
            "url": right.url,
            "owner": right.owner or holder.name,
        },
        "rights_holder": {
            "name": holder.name,
            "email": holder.email,
            "address": holder.address,
            "phone": holder.phone,
            "signatory": holder.signatory,
            "agent": holder.agent,
        },
        "infringement": notice.infringement,
        "description": notice.description,
        "evidence": list(notice.evidence),
        "evidence_items": [
            {
                "sha256": item.sha256,
                "media_type": item.media_type,
                "size": item.size,
                "name": item.name,
                "url": item.url,
                "expires_at": item.expires_at.isoformat() if item.expires_at else None,
            }
            for item in notice.evidence_items
        ],
        "listings": [
            {"listing_id": item.listing_id, "key": item.key, "url": item.url, "seller": item.seller}
            for item in notice.listings
        ],
        "eu": notice.eu,
        "subject": notice.subject,
        "text": notice.text,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _decisions(notice: OutgoingNotice, items: list[Any]) -> list[ListingDecision]:
    """The receiver's per-listing decisions, matched by listing_id or key; strays are ignored."""
    by_id = {listing.listing_id: listing for listing in notice.listings}
    by_key = {listing.key: listing for listing in notice.listings}
    out: list[ListingDecision] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        listing_id, key = item.get("listing_id"), item.get("key")
        listing = by_id.get(listing_id) if isinstance(listing_id, int) else None
        if listing is None and isinstance(key, str):
            listing = by_key.get(key)
        status = item.get("status")
        if listing is None or status not in DECISIONS:
            log.warning("webhook answer item ignored (unknown listing or status): %r", item)
            continue
        reason = item.get("reason")
        reference = item.get("reference")
        out.append(
            ListingDecision(
                listing_id=listing.listing_id,
                status=ListingStatus(status),
                reason=clean_line(reason)[:1000] if isinstance(reason, str) and reason else None,
                reference=reference if isinstance(reference, str) else None,
            )
        )
    return out


def _receiver_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return clean_line(value)[:500]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return clean_line(value["message"])[:500]
    return clean_line(raw.decode("utf-8", "replace"))[:300]


def _describe(exc: BaseException) -> str:
    return clean_line(str(exc)) or type(exc).__name__
