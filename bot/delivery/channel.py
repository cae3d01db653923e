"""A notice's channel: its adapter, the notice as the channel receives it, and calls to it under
the channel's concurrency and rate limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from bot.core.cases import case_ref
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import (
    Adapter,
    AdapterError,
    EvidenceRef,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
)
from bot.delivery.notices import build_notice
from bot.jobs.backoff import with_retries
from bot.runtime import Runtime
from storage.models import Case, Listing, Notice

T = TypeVar("T")


def adapter_for(rt: Runtime, notice: Notice) -> Adapter:
    """The configured adapter of the notice's channel (a portal guide when none is configured)."""
    if notice.channel in rt.adapters:
        return rt.adapters[notice.channel]
    cls = adapter_class(notice.adapter)
    return cls(cls.Options(), platform=notice.platform, http=rt.http)


def outgoing(
    rt: Runtime,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    *,
    evidence_items: Sequence[EvidenceRef] = (),
) -> OutgoingNotice:
    """The notice as the channel receives it (raises MissingElementError, PermanentError), with
    the evidence items that go with it when it is sent (`bot.delivery.sent_evidence`)."""
    assert notice.id is not None and case.id is not None
    found = rt.config.right(case.right_id)
    if found is None:
        raise PermanentError(
            f"the IP right {case.right_id!r} is no longer in app.yaml (brands[].rights)"
        )
    built = build_notice(
        notice_id=notice.id,
        case_ref=case_ref(case.id),
        platform=notice.platform,
        channel=notice.channel,
        idempotency_key=notice.idempotency_key,
        brand=case.brand,
        right=found[1],
        rights_holder=rt.config.rights_holder,
        infringement=case.infringement,
        description=case.description,
        evidence=case.evidence,
        listings=[
            NoticeListing(
                listing_id=item.id or 0,
                platform=item.platform,
                key=item.key,
                url=item.url,
                seller=item.seller,
                reference=item.reference,
            )
            for item in listings
        ],
        evidence_items=evidence_items,
    )
    return replace(built, reference=notice.reference)


async def call_channel(
    rt: Runtime, notice: Notice, call: Callable[[], Awaitable[T]], *, cap: float = 10.0
) -> T:
    """A platform call under the channel's concurrency and rate limits, with the short retries.

    A platform that echoes a credential in its error would put it in the thread and the database:
    the error's message is scrubbed of every secret before anything else sees it.
    """
    assert rt.limits is not None

    async def limited() -> T:
        assert rt.limits is not None
        async with rt.limits.slot(notice.channel):
            try:
                return await call()
            except AdapterError as exc:
                exc.args = (rt.scrub(str(exc)),)
                raise

    return await with_retries(limited, attempts=3, cap=cap)
