"""eBay's VeRO API v2: file a notice as one VeRO report and follow each reported item to a decision.

Only members of eBay's Verified Rights Owner programme can use it. One report holds up to 150
items, each with a VeRO reason code that names the kind of infringement. eBay reports are not
idempotent and the API takes no idempotency key, so a submission whose answer was lost is an
`AmbiguousError`, never a silent resend.

Everything that depends on eBay's wire format (request body, response parsing, status names,
error bodies) sits together under "Wire mapping" below. Several v2 shapes are carried over from
v1's documentation; docs/ebay_vero.md says which were confirmed and which were assumed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from pydantic import Field, field_validator

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
    TransientError,
    UnreadableAnswer,
    UnreadableReceipt,
    copy_when_unsure,
    entered_reference,
)
from bot.delivery.adapters.http import Reply, codes_by_type, json_body, path_part, refusal
from bot.delivery.adapters.oauth import OAuthAdapter, OAuthApiOptions, OAuthGrant
from bot.delivery.adapters.wording import clip, right_words

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.ebay.com/commerce/vero/v2"
MAX_ITEMS_PER_REPORT = 150
VERO_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.vero"


class EbayOAuthGrant(OAuthGrant):
    """`oauth:` for eBay: its token endpoint and the VeRO scope unless told otherwise."""

    token_url: str = "https://api.ebay.com/identity/v1/oauth2/token"  # noqa: S105 (a URL)
    scope: str | None = VERO_SCOPE


class EbayVeroOptions(OAuthApiOptions):
    """The `ebay_vero` keys of a `platforms:` entry: `token` (an access token, which expires) or
    `oauth` (a refresh token the adapter exchanges for access tokens as they expire)."""

    environment_name: ClassVar[str] = "EBAY_VERO_TOKEN"

    base_url: str = DEFAULT_BASE_URL
    oauth: EbayOAuthGrant | None = None  # a refresh token (or the app's own credentials)
    reason_codes: dict[str, str] = Field(default_factory=dict)  # infringement type -> reason code
    marketplace_id: str | None = Field(default=None, pattern=r"^EBAY_[A-Z_]+$")  # e.g. EBAY_DE

    @field_validator("reason_codes", mode="before")
    @classmethod
    def _reason_codes(cls, value: Any) -> Any:
        return codes_by_type(value, noun="reason code", kind_of_value="a code")


# --- Wire mapping: the only place that knows eBay's JSON ------------------------------------------

_BRAND_MAX = 50
_MESSAGE_MAX = 1000
_PATENT_MAX = 15
_REPORT_ID = re.compile(r"[0-9]{1,20}")  # veroReportId: a number, in ASCII digits

# Per-item statuses, compared after upper-casing and dropping underscores, so v1 REST's
# CLARIFICATION_REQUIRED and the Trading API's ClarificationRequired read the same.
_STATUS_MAP: dict[str, ListingStatus] = {
    "REMOVED": ListingStatus.REMOVED,
    "CLARIFICATIONREQUIRED": ListingStatus.NEEDS_INFO,
    "SUBMISSIONFAILED": ListingStatus.REJECTED,
    "RECEIVED": ListingStatus.IN_REVIEW,
    "SUBMITTED": ListingStatus.IN_REVIEW,
}


def _item_id(listing: NoticeListing) -> str:
    """`ebay:1234567890` -> `1234567890`."""
    platform, _, item_id = listing.key.partition(":")
    if platform != "ebay" or not item_id.isdigit():
        raise PermanentError(f"{listing.key!r} is not an eBay item (expected ebay:<item number>)")
    return item_id


def _right_statement(notice: OutgoingNotice) -> str:
    right = notice.right
    parts = [f"{notice.rights_holder.name} owns {right_words(notice)}"]
    if right.classes:
        parts.append("classes " + ", ".join(str(c) for c in right.classes))
    if right.jurisdiction:
        parts.append(f"in {right.jurisdiction}")
    if right.url:
        parts.append(right.url)
    return "; ".join(parts) + f". Case {notice.case_ref}."


def _report_body(notice: OutgoingNotice, options: EbayVeroOptions) -> dict[str, Any]:
    """createVeroReport's request body: one entry per listing, all with the notice's reason code."""
    code = options.reason_codes.get(notice.infringement)
    if not code:
        raise PermanentError(
            f"no eBay VeRO reason code is set for {notice.infringement!r}: add it under "
            "reason_codes in this platform's entry of app.yaml "
            "(eBay's getVeroReasonCodes lists them)"
        )
    message = clip(f"{notice.description} This infringes {right_words(notice)}.", _MESSAGE_MAX)
    detail = clip(f"{_right_statement(notice)} {notice.description}", _MESSAGE_MAX)
    items = []
    for listing in notice.listings:
        item: dict[str, Any] = {
            "itemId": _item_id(listing),
            "veroReasonCodeId": code,
            "brand": clip(notice.brand, _BRAND_MAX),
            "messageToSeller": message,
            "detailedMessage": detail,
        }
        if notice.right.kind == "patent" and notice.right.number:
            item["patent"] = notice.right.number[:_PATENT_MAX]
        items.append(item)
    return {"reportItems": items}


def _parse_created(data: Any, location: str | None) -> str | None:
    """The new report's id: `veroReportId` in the body, else the last segment of Location."""
    if isinstance(data, dict):
        report_id = data.get("veroReportId")
        if isinstance(report_id, str | int) and str(report_id).strip():
            return str(report_id).strip()
    if location:
        tail = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        if tail and tail != "vero_report":
            return tail
    return None


@dataclass(frozen=True, slots=True)
class _ItemStatus:
    item_id: str
    status: str
    reason: str | None


def _parse_items(rows: Any) -> list[_ItemStatus] | None:
    """Per-item statuses from a list of eBay's ReportedItem; None if any row is not one."""
    if not isinstance(rows, list):
        return None
    items = []
    for row in rows:
        if not isinstance(row, dict) or row.get("itemId") is None or not row.get("status"):
            return None
        reason = row.get("reasonForFailure")
        items.append(
            _ItemStatus(str(row["itemId"]), str(row["status"]), str(reason) if reason else None)
        )
    return items


def _parse_report(data: Any) -> list[_ItemStatus] | None:
    """getVeroReport (with includeItemDetails=true): each reported item's status."""
    if not isinstance(data, dict):
        return None
    return _parse_items(data.get("reportedItemDetails"))


def _parse_reported_items(data: Any) -> list[_ItemStatus] | None:
    """getVeroReportItems: the items this account has reported (v1's shape, assumed for v2).

    eBay leaves empty arrays out, so `{"total": 0}` is an empty answer; any other body without
    `reportedItems` is unreadable, never "none".
    """
    if not isinstance(data, dict):
        return None
    if "reportedItems" not in data:
        return [] if data.get("total") == 0 else None
    return _parse_items(data["reportedItems"])


def _decision(listing_id: int, item: _ItemStatus) -> ListingDecision:
    status = _STATUS_MAP.get(item.status.upper().replace("_", ""), ListingStatus.IN_REVIEW)
    wants_reason = status in (ListingStatus.NEEDS_INFO, ListingStatus.REJECTED)
    reason = item.reason if wants_reason else None
    if wants_reason and not reason:
        reason = f"eBay reports {item.status} without a reason"
    return ListingDecision(
        listing_id=listing_id, status=status, reason=reason, reference=item.item_id
    )


def _error_messages(data: Any) -> list[str]:
    """eBay's `errors[]` as `[errorId] message` lines."""
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return []
    lines = []
    for error in data["errors"]:
        if not isinstance(error, dict):
            continue
        text = error.get("message") or error.get("longMessage")
        if not text:
            continue
        error_id = error.get("errorId")
        lines.append(f"[{error_id}] {text}" if error_id is not None else str(text))
    return lines


def _refusal(reply: Reply, action: str) -> AdapterError:
    return refusal(reply, platform="eBay", action=action, messages=_error_messages, hints=_HINTS)


_HINTS = {
    401: "the access token was refused (expired or revoked?)",
    403: "this account may not use the VeRO API (is it a VeRO programme member?)",
    404: "not found",
}


class EbayVeroAdapter(OAuthAdapter):
    """Files notices through eBay's VeRO API v2 and polls the reported items' statuses."""

    name = "ebay_vero"
    platforms = ("ebay",)
    max_batch = MAX_ITEMS_PER_REPORT
    idempotent = False
    can_check = True
    Options: ClassVar[type[AdapterOptions]] = EbayVeroOptions
    company = "eBay"
    creates = "the report"

    @property
    def settings(self) -> EbayVeroOptions:
        assert isinstance(self.options, EbayVeroOptions)
        return self.options

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        """Create one VeRO report for the notice's listings; the report id is the reference."""
        if not notice.listings:
            raise PermanentError("the notice has no listings to report")
        if len(notice.listings) > MAX_ITEMS_PER_REPORT:
            raise PermanentError(f"eBay takes at most {MAX_ITEMS_PER_REPORT} items per report")
        path = "/vero_report"
        copy = SentCopy(
            "application/json", json_body(_report_body(notice, self.settings)), path=path
        )
        with copy_when_unsure(copy):
            receipt = await self._create(notice, path, copy.body)
        return replace(receipt, copy=copy)

    async def _create(self, notice: OutgoingNotice, path: str, body: bytes) -> Receipt:
        """createVeroReport with `body` as serialised; the new report's id as the reference."""
        reply = await self._call("POST", path, body=body, action="creating a report")
        if not 200 <= reply.status < 300:
            raise _refusal(reply, "creating a report")
        report_id = _parse_created(reply.json(), reply.headers.get("Location"))
        if report_id is None or not _REPORT_ID.fullmatch(report_id):
            log.warning(
                "eBay VeRO: unreadable answer for notice %s (HTTP %s): %r",
                notice.notice_id,
                reply.status,
                reply.body[:500],
            )
            raise UnreadableReceipt(
                "eBay",
                "creating a report",
                f"its report id {report_id[:40]!r} is not a number"
                if report_id
                else "no report id",
                then="; the report may exist: check eBay's VeRO portal before sending it again",
            )
        decisions = tuple(
            ListingDecision(
                listing_id=listing.listing_id,
                status=ListingStatus.IN_REVIEW,
                reference=_item_id(listing),
            )
            for listing in notice.listings
        )
        return Receipt(reference=report_id, decisions=decisions, detail={"items": len(decisions)})

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:
        """eBay's current status of each listing in the notice's report."""
        if not notice.reference:
            raise PermanentError("the notice has no eBay report id to check")
        try:
            report_id = self.parse_reference(notice.reference)
        except InvalidReference as exc:
            raise InvalidReference(
                f"this notice's reference {notice.reference[:40]!r} cannot be checked: {exc}"
            ) from None
        action = f"checking report {report_id}"
        reply = await self._call(
            "GET",
            f"/vero_report/{path_part(report_id)}",
            params={"includeItemDetails": "true"},
            action=action,
        )
        if not 200 <= reply.status < 300:
            raise _refusal(reply, action)
        items = _parse_report(reply.json())
        if items is None:
            log.warning("eBay VeRO: unexpected report body for %s: %r", report_id, reply.body[:500])
            raise UnreadableAnswer(
                "eBay", action, "no reportedItemDetails list of items with itemId and status"
            )
        by_item = {item.item_id: item for item in items}
        decisions = []
        for listing in notice.listings:
            item = by_item.get(_item_id(listing))
            if item is not None:
                decisions.append(_decision(listing.listing_id, item))
        return decisions

    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:
        """After an ambiguous submission: None if eBay has none of the items on record as reported.

        eBay offers no way to look a report id up, so if any item does show up as reported the
        notice stays ambiguous and a person confirms it in the VeRO portal. Only a clear "none
        reported" answer returns None: anything eBay could not answer stays ambiguous too, since
        guessing wrong here means filing the report twice.
        """
        portal = "check eBay's VeRO portal before sending this notice again"
        for listing in notice.listings:
            item_id = _item_id(listing)
            action = f"looking up item {item_id}"
            reply = await self._call(
                "GET", "/vero_report_items", params={"itemId": item_id}, action=action
            )
            if reply.status == 204:
                continue
            if not 200 <= reply.status < 300:
                refusal = _refusal(reply, action)
                if isinstance(refusal, TransientError):
                    raise refusal
                raise AmbiguousError(f"{refusal}; {portal}")
            items = _parse_reported_items(reply.json())
            if items is None:
                log.warning(
                    "eBay VeRO: unexpected items body for %s: %r", item_id, reply.body[:500]
                )
                raise UnreadableReceipt(
                    "eBay", action, "no reportedItems list and no total of 0", then=f"; {portal}"
                )
            if any(item.item_id == item_id for item in items):
                raise AmbiguousError(
                    f"eBay has item {item_id} on record as reported (by this notice or an earlier "
                    f"one) but cannot say by which report; {portal}"
                )
        return None

    @classmethod
    def parse_reference(cls, text: str) -> str:
        """A VeRO report id: eBay's are numbers."""
        text = entered_reference(text)
        if not _REPORT_ID.fullmatch(text):
            raise InvalidReference(
                "An eBay VeRO report id is digits only, as eBay shows it (for example 5069012345)."
            )
        return text

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.settings.marketplace_id:
            headers["X-EBAY-C-MARKETPLACE-ID"] = self.settings.marketplace_id
        return headers
