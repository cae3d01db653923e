"""The `sandbox` channel: a simulated platform for demos and trials, with no network at all.

A submission is accepted at once with a reference `SBX-<unix time>-<hash of the idempotency
key>`. The submission time lives in the reference itself, so decisions survive a restart of
the bot: nothing is kept in memory that a check needs. Until `decide_after` has passed every
listing is in review; then each listing gets a decision that depends only on its key (removed
for about `removal_rate` of keys, needs_info for about `needs_info_rate`, rejected for the rest),
so a demo tells the same story every time it is replayed.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from bot.config.schema import parse_duration
from bot.core.states import ListingStatus
from bot.delivery.adapters.base import (
    Adapter,
    AdapterOptions,
    ListingDecision,
    OutgoingNotice,
    PermanentError,
    Receipt,
    SentCopy,
)

if TYPE_CHECKING:
    import aiohttp

_REFERENCE = re.compile(r"^SBX-(\d{1,12})-([0-9a-f]{12})$")
_REASONS: dict[ListingStatus, str] = {
    ListingStatus.REMOVED: "Sandbox: the listing was removed (simulated decision).",
    ListingStatus.REJECTED: "Sandbox: the platform found no infringement (simulated decision).",
    ListingStatus.NEEDS_INFO: "Sandbox: the platform asks for proof of the registration (simulated decision).",
}


class SandboxOptions(AdapterOptions):
    decide_after: timedelta = timedelta(seconds=30)
    removal_rate: float = Field(default=0.8, ge=0, le=1)
    needs_info_rate: float = Field(default=0.05, ge=0, le=1)

    @field_validator("decide_after", mode="before")
    @classmethod
    def _decide_after(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @model_validator(mode="after")
    def _rates(self) -> SandboxOptions:
        if self.removal_rate + self.needs_info_rate > 1:
            raise ValueError("removal_rate + needs_info_rate must not exceed 1")
        return self


def listing_draw(key: str) -> float:
    """A number in [0, 1) fixed by the listing key: the sandbox's dice, the same on every run."""
    digest = hashlib.sha256(f"sandbox:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SandboxAdapter(Adapter):
    name = "sandbox"
    max_batch = 100
    idempotent = True  # the same key gives the same reference within a run; nothing leaves the bot
    can_check = True
    Options: ClassVar[type[AdapterOptions]] = SandboxOptions

    def __init__(
        self, options: AdapterOptions, *, platform: str, http: aiohttp.ClientSession
    ) -> None:
        super().__init__(options, platform=platform, http=http)
        self.clock: Callable[[], float] = time.time  # seconds since the epoch; tests move it
        self._references: dict[str, str] = {}

    @property
    def settings(self) -> SandboxOptions:
        assert isinstance(self.options, SandboxOptions)
        return self.options

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        reference = self._references.get(notice.idempotency_key)
        if reference is None:
            digest = hashlib.sha256(notice.idempotency_key.encode()).hexdigest()[:12]
            reference = f"SBX-{int(self.clock())}-{digest}"
            self._references[notice.idempotency_key] = reference
        submitted = _submitted_at(reference) or self.clock()
        decide_at = datetime.fromtimestamp(submitted, UTC) + self.settings.decide_after
        decisions = tuple(
            ListingDecision(
                listing_id=listing.listing_id, status=ListingStatus.IN_REVIEW, reference=reference
            )
            for listing in notice.listings
        )
        return Receipt(
            reference=reference,
            decisions=decisions,
            detail={"simulated": True, "decide_at": decide_at.isoformat(timespec="seconds")},
            # Nothing leaves the bot: what is kept is the notice a platform would have been sent.
            copy=SentCopy("text/plain", f"Subject: {notice.subject}\n\n{notice.text}".encode()),
        )

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:
        if not notice.reference:
            raise PermanentError("this notice has no sandbox reference to check")
        submitted = _submitted_at(notice.reference)
        # A reference this adapter did not write (hand-edited, older format): decide at once.
        due = submitted is None or (
            self.clock() - submitted >= self.settings.decide_after.total_seconds()
        )
        return [
            self._decision(listing.listing_id, listing.key, due=due) for listing in notice.listings
        ]

    def _decision(self, listing_id: int, key: str, *, due: bool) -> ListingDecision:
        if not due:
            return ListingDecision(listing_id=listing_id, status=ListingStatus.IN_REVIEW)
        draw = listing_draw(key)
        opts = self.settings
        if draw < opts.removal_rate:
            status = ListingStatus.REMOVED
        elif draw < opts.removal_rate + opts.needs_info_rate:
            status = ListingStatus.NEEDS_INFO
        else:
            status = ListingStatus.REJECTED
        return ListingDecision(listing_id=listing_id, status=status, reason=_REASONS[status])


def _submitted_at(reference: str) -> float | None:
    match = _REFERENCE.match(reference)
    return float(match.group(1)) if match else None
