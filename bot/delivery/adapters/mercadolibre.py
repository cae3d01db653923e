"""Mercado Libre's Brand Protection Program API: one denounce per listing, then poll its status.

Only members of the Brand Protection Program (BPP, "PPPI" in the API's paths) can use it. A
denounce names one item, a report reason enabled for the member (`PPPI1`, `PPPI2`…, listed by
`GET /moderations/pppi/denounces/{SITE_ID}/ITM/options`) and a comment. Denounces are not
idempotent, so a submission whose answer was lost is an `AmbiguousError`.

Everything that depends on Mercado Libre's wire format sits together under "Wire mapping" below.
The create call is documented; the response body, the status endpoint and its status names are
assumed (docs/mercadolibre.md has the table).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from bot.core.states import ListingStatus
from bot.delivery.adapters.base import (
    AdapterError,
    AdapterOptions,
    AmbiguousError,
    InvalidReference,
    ListingDecision,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
    Receipt,
    SentCopy,
    UnreadableAnswer,
    UnreadableReceipt,
    copy_when_unsure,
    entered_reference,
)
from bot.delivery.adapters.http import Reply, codes_by_type, json_body, path_part, refusal
from bot.delivery.adapters.oauth import OAuthAdapter, OAuthApiOptions, OAuthGrant
from bot.delivery.adapters.wording import clip, right_words

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.mercadolibre.com"


class MercadoLibreGrant(OAuthGrant):
    """`oauth:` for Mercado Libre: its token endpoint, the client's id and secret in the form,
    and a refresh token that works once (each refresh hands out the next; `storage.tokens`
    keeps it)."""

    credentials_in: ClassVar[str] = "body"
    rotates: ClassVar[bool] = True

    token_url: str = "https://api.mercadolibre.com/oauth/token"  # noqa: S105 (a URL)
    refresh_token: SecretStr  # required: the BPP member's grant


class MercadoLibreOptions(OAuthApiOptions):
    """The `mercadolibre` keys of a `platforms:` entry: `token` (an access token, which expires)
    or `oauth` (a refresh token the adapter exchanges for access tokens as they expire)."""

    environment_name: ClassVar[str] = "MELI_TOKEN"

    base_url: str = DEFAULT_BASE_URL
    oauth: MercadoLibreGrant | None = None
    report_reasons: dict[str, str] = Field(default_factory=dict)  # infringement -> report_reason_id

    @field_validator("report_reasons", mode="before")
    @classmethod
    def _report_reasons(cls, value: Any) -> Any:
        return codes_by_type(value, noun="report reason", kind_of_value="an id")


# --- Wire mapping: the only place that knows Mercado Libre's JSON ---------------------------------

_ITEM_ID = re.compile(r"^[A-Z]{3}\d+$")
# A denounce id (assumed: numeric in every example seen; letters, `-` and `_` are let through in
# case Mercado Libre's ids are not) is one URL path segment: nothing else may reach the path.
_DENOUNCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COMMENT_MAX = 1000  # no limit is documented; kept short so a limit we do not know is unlikely hit

# Denounce statuses. CREATED … DOCUMENTATION_NOT_PRESENTED are the states Mercado Libre documents
# for the seller's side of a denounce; the member-side names are assumed to match.
_STATUS_MAP: dict[str, ListingStatus] = {
    "CREATED": ListingStatus.IN_REVIEW,
    "PENDING": ListingStatus.IN_REVIEW,
    "PENDING_MODERATION": ListingStatus.IN_REVIEW,
    "IN_REVIEW": ListingStatus.IN_REVIEW,
    "WAITING_DOCUMENTATION": ListingStatus.IN_REVIEW,  # the seller was asked to prove the listing is lawful
    "DOCUMENTATION_PRESENTED": ListingStatus.IN_REVIEW,
    "WAITING_MEMBER_RESPONSE": ListingStatus.NEEDS_INFO,  # the member must answer the seller's documentation
    "DOCUMENTATION_NOT_PRESENTED": ListingStatus.REMOVED,
    "DOCUMENTATION_NOT_APPROVED": ListingStatus.REMOVED,
    "ITEM_REMOVED": ListingStatus.REMOVED,
    "REMOVED": ListingStatus.REMOVED,
    "ACCEPTED": ListingStatus.REMOVED,
    "DOCUMENTATION_APPROVED": ListingStatus.REJECTED,  # the seller proved the listing lawful
    "MEMBER_NOT_RESPONDED": ListingStatus.REJECTED,
    "REJECTED": ListingStatus.REJECTED,
    "DENIED": ListingStatus.REJECTED,
    "ROLLBACK": ListingStatus.REJECTED,
}


def _item_id(listing: NoticeListing) -> str:
    """`mercadolibre:MLA123456789` -> `MLA123456789`."""
    platform, _, item_id = listing.key.partition(":")
    if platform != "mercadolibre" or not _ITEM_ID.match(item_id):
        raise PermanentError(
            f"{listing.key!r} is not a Mercado Libre item (expected mercadolibre:MLA123456789)"
        )
    return item_id


def _denounce_body(notice: OutgoingNotice, options: MercadoLibreOptions) -> dict[str, Any]:
    """The create-denounce request body."""
    reason = options.report_reasons.get(notice.infringement)
    if not reason:
        raise PermanentError(
            f"no Mercado Libre report reason is set for {notice.infringement!r}: add it under "
            "report_reasons in this platform's entry of app.yaml (GET "
            "/moderations/pppi/denounces/<SITE_ID>/ITM/options lists the reasons enabled for you)"
        )
    holder = notice.rights_holder.name
    comment = f"{notice.description} {holder} owns {right_words(notice)}. Case {notice.case_ref}."
    return {"report_reason_id": reason, "comment": clip(comment, _COMMENT_MAX)}


def _parse_created(data: Any) -> str | None:
    """The new denounce's id (assumed: `id`, or `denounce_id`)."""
    if not isinstance(data, dict):
        return None
    for key in ("id", "denounce_id"):
        value = data.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
    return None


def _parse_status(data: Any) -> tuple[str, str | None] | None:
    """A denounce's status and any explanation (assumed field names); None if unreadable."""
    if not isinstance(data, dict):
        return None
    status = data.get("status") or data.get("current_status")
    if not isinstance(status, str) or not status.strip():
        return None
    reason = data.get("status_detail") or data.get("reason")
    return status.strip(), str(reason) if reason else None


def _decision(
    listing: NoticeListing, item_id: str, status: str, reason: str | None
) -> ListingDecision:
    mapped = _STATUS_MAP.get(status.upper(), ListingStatus.IN_REVIEW)
    if mapped in (ListingStatus.IN_REVIEW, ListingStatus.REMOVED):
        reason = None
    elif not reason:
        reason = f"Mercado Libre reports {status}"
    return ListingDecision(
        listing_id=listing.listing_id, status=mapped, reason=reason, reference=item_id
    )


def _error_messages(data: Any) -> list[str]:
    """Mercado Libre's error body (`message`, `error`, `cause[]`) as readable lines."""
    if not isinstance(data, dict):
        return []
    lines = []
    if data.get("message") or data.get("error"):
        lines.append(str(data.get("message") or data.get("error")))
    causes = data.get("cause")
    for cause in causes if isinstance(causes, list) else []:
        if isinstance(cause, dict) and cause.get("message"):
            code = cause.get("code")
            lines.append(f"[{code}] {cause['message']}" if code else str(cause["message"]))
        elif isinstance(cause, str) and cause:
            lines.append(cause)
    return lines


def _refusal(reply: Reply, action: str) -> AdapterError:
    return refusal(
        reply, platform="Mercado Libre", action=action, messages=_error_messages, hints=_HINTS
    )


_HINTS = {
    401: "the access token was refused (expired or revoked?)",
    403: "this account may not denounce (is it a Brand Protection Program member?)",
    404: "not found",
}


class MercadoLibreAdapter(OAuthAdapter):
    """Files one Brand Protection Program denounce per listing and polls its status."""

    name = "mercadolibre"
    platforms = ("mercadolibre",)
    max_batch = 1  # the create call takes one item (it is in the path)
    idempotent = False
    can_check = True
    Options: ClassVar[type[AdapterOptions]] = MercadoLibreOptions
    company = "Mercado Libre"
    creates = "the denounce"

    @property
    def settings(self) -> MercadoLibreOptions:
        assert isinstance(self.options, MercadoLibreOptions)
        return self.options

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        """Denounce the notice's one listing; the denounce id is the reference."""
        if len(notice.listings) != 1:
            raise PermanentError(
                "a Mercado Libre denounce covers exactly one listing, "
                f"this notice has {len(notice.listings)}"
            )
        item_id = _item_id(notice.listings[0])
        path = f"/moderations/pppi/denounces/items/{path_part(item_id)}"
        body = json_body(_denounce_body(notice, self.settings))
        copy = SentCopy("application/json", body, path=path)
        with copy_when_unsure(copy):
            receipt = await self._denounce(notice, path, body)
        return replace(receipt, copy=copy)

    async def _denounce(self, notice: OutgoingNotice, path: str, body: bytes) -> Receipt:
        """The create-denounce call with `body` as serialised; the denounce id as the reference."""
        listing = notice.listings[0]
        item_id = _item_id(listing)
        action = f"denouncing {item_id}"
        reply = await self._call("POST", path, body=body, action=action)
        if not 200 <= reply.status < 300:
            raise _refusal(reply, action)
        denounce_id = _parse_created(reply.json())
        if denounce_id is None or not _DENOUNCE_ID.fullmatch(denounce_id):
            log.warning(
                "Mercado Libre: unreadable answer for notice %s (HTTP %s): %r",
                notice.notice_id,
                reply.status,
                reply.body[:500],
            )
            raise UnreadableReceipt(
                "Mercado Libre",
                action,
                f"its denounce id {denounce_id[:40]!r} is not one"
                if denounce_id
                else "no denounce id",
                then="; the denounce may exist: check the Brand Protection portal before sending "
                "it again",
            )
        decision = ListingDecision(
            listing_id=listing.listing_id, status=ListingStatus.IN_REVIEW, reference=item_id
        )
        return Receipt(reference=denounce_id, decisions=(decision,))

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:
        """The denounce's current status, as the decision for its listing."""
        if not notice.reference:
            raise PermanentError("the notice has no Mercado Libre denounce id to check")
        if not notice.listings:
            return []
        try:
            denounce_id = self.parse_reference(notice.reference)
        except InvalidReference as exc:
            raise InvalidReference(
                f"this notice's reference {notice.reference[:40]!r} cannot be checked: {exc}"
            ) from None
        action = f"checking denounce {denounce_id}"
        reply = await self._call(
            "GET", f"/moderations/pppi/denounces/{path_part(denounce_id)}", action=action
        )
        if not 200 <= reply.status < 300:
            raise _refusal(reply, action)
        parsed = _parse_status(reply.json())
        if parsed is None:
            log.warning(
                "Mercado Libre: unexpected denounce body for %s: %r", denounce_id, reply.body[:500]
            )
            raise UnreadableAnswer("Mercado Libre", action, "no status in it")
        status, reason = parsed
        listing = notice.listings[0]
        return [_decision(listing, _item_id(listing), status, reason)]

    @classmethod
    def parse_reference(cls, text: str) -> str:
        """A denounce id, as the Brand Protection portal shows it."""
        text = entered_reference(text)
        if not _DENOUNCE_ID.fullmatch(text):
            raise InvalidReference(
                "A Mercado Libre denounce id is letters, digits, - or _ (at most 64), as the "
                "Brand Protection portal shows it."
            )
        return text

    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:
        """Mercado Libre documents no way to look a member's denounces up: a person must confirm."""
        keys = ", ".join(listing.key for listing in notice.listings)
        raise AmbiguousError(
            f"Mercado Libre cannot be asked whether the denounce of {keys} arrived; "
            "check the Brand Protection portal before sending it again"
        )
