"""The `submit` job: one notice delivered through its channel's adapter, exactly once.

Nothing is lost or sent twice:
- a notice is marked `sending` (committed) before its adapter is called; a run that finds a notice
  already `sending` knows an earlier run died mid-call. An idempotent channel is simply sent again;
  a non-idempotent one is reconciled with the platform (`find_existing`) or held for a person;
- a run sends only a notice it could mark `sending`: one withdrawn (or delivered by another run)
  since the job read it is left alone. Every status write is guarded (`bot.delivery.states`);
- transient errors are retried inside the run (tenacity), then by the job's durable backoff; after
  the last attempt the listings are `failed` and the thread offers a Retry button;
- the result, its events, its thread replies and the job's completion commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import NOTICE_TRANSITIONS, ListingStatus, NoticeState, sources
from bot.delivery.adapters.base import (
    Adapter,
    ListingDecision,
    OutgoingNotice,
    PermanentError,
    Receipt,
    TransientError,
)
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.decisions import apply_decisions
from bot.delivery.elements import MissingElementError
from bot.delivery.notices import notice_fields
from bot.delivery.plan import enqueue_poll
from bot.delivery.states import move_notice
from bot.jobs.coalesce import Missing
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import SubmitNotice
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.notice_blocks import (
    notice_failed,
    notice_held,
    portal_guide,
    tracking_buttons,
)
from storage.events import add_event
from storage.jobs import ClaimedJob
from storage.models import Case, Listing, Notice
from storage.notices import NoticeBundle, notice_bundles

log = logging.getLogger("takedown.delivery")

N = NoticeState
# A submit job acts on a notice only while it waits to be sent, or was being sent when a run died.
SENDABLE = sources(NOTICE_TRANSITIONS, N.SENDING)


class _Settled(Exception):
    """This run is over: the notice was held or failed, or another writer moved it."""


async def load_for_job(rt: Runtime, notice_id: int) -> NoticeBundle:
    """The notice of a `submit` or `poll` job, read together with the other jobs' notices."""
    try:
        return await rt.loads.notice(notice_id)
    except Missing:
        raise JobFailed(f"notice {notice_id} does not exist") from None


async def run_submit(rt: Runtime, ctx: JobContext[SubmitNotice]) -> None:
    """The `submit` job: deliver one notice through its channel, exactly once."""
    notice, case, listings = await _bundle(rt, ctx.args.notice_id)
    if notice.status not in SENDABLE:
        return  # already delivered, held, failed or withdrawn: a duplicate job has nothing to do
    adapter = adapter_for(rt, notice)
    try:
        out = outgoing(rt, notice, case, listings)
    except (MissingElementError, PermanentError) as exc:
        await fail_notice(rt, ctx, notice, case, listings, str(exc), only_from=SENDABLE)
        return
    try:
        receipt = await _deliver(rt, ctx, notice, case, listings, out, adapter)
    except _Settled:
        return
    await _record_receipt(rt, ctx, notice, case, listings, out, receipt, adapter)


async def _bundle(rt: Runtime, notice_id: int) -> tuple[Notice, Case, list[Listing]]:
    found = await load_for_job(rt, notice_id)
    return found.notice, found.case, found.listings


async def _deliver(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    out: OutgoingNotice,
    adapter: Adapter,
) -> Receipt:
    """The channel's receipt for the notice: found after a run that died mid-call, or sent now."""
    assert notice.id is not None
    if notice.status == N.SENDING and not adapter.idempotent:
        # An earlier run died after calling the channel: ask it before sending anything again.
        found = await _reconcile(rt, ctx, notice, case, out, adapter)
        if found is not None:
            return found
    if not await rt.loads.mark_sending(notice.id):  # committed before the channel is called
        log.info("notice %s: no longer waiting to be sent; not sending it", notice.id)
        raise _Settled
    try:
        return await call_channel(rt, notice, lambda: adapter.submit(out), cap=30.0)
    except TransientError as exc:
        await _back_to_pending(rt, notice, str(exc))
        raise RetryLater(f"{notice.platform}: {exc}", delay=exc.retry_after) from None
    except PermanentError as exc:
        await fail_notice(rt, ctx, notice, case, listings, str(exc), only_from={N.SENDING})
        raise _Settled from None
    except Exception as exc:  # AmbiguousError, or a failure we cannot classify
        return await _after_ambiguous(rt, ctx, notice, case, out, adapter, exc)


async def _reconcile(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    case: Case,
    out: OutgoingNotice,
    adapter: Adapter,
) -> Receipt | None:
    """Ask the channel whether it already has the notice; hold it when the channel cannot tell."""
    try:
        return await call_channel(rt, notice, lambda: adapter.find_existing(out))
    except TransientError as exc:
        raise RetryLater(
            f"reconciling with {notice.platform}: {exc}", delay=exc.retry_after
        ) from None
    except Exception as exc:
        await _hold(rt, ctx, notice, case, str(exc))
        raise _Settled from None


async def _after_ambiguous(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    case: Case,
    out: OutgoingNotice,
    adapter: Adapter,
    exc: Exception,
) -> Receipt:
    """The send may have reached the channel: send again where that is harmless, else ask."""
    if adapter.idempotent:
        await _back_to_pending(rt, notice, str(exc))
        raise RetryLater(f"{notice.platform}: {exc}") from None
    log.warning("notice %s: outcome unknown (%s)", notice.id, exc)
    try:
        receipt = await call_channel(rt, notice, lambda: adapter.find_existing(out))
    except Exception as reconcile_error:
        await _hold(rt, ctx, notice, case, f"{exc} ({reconcile_error})")
        raise _Settled from None
    if receipt is None:  # the platform says it never got it: safe to send again
        await _back_to_pending(rt, notice, str(exc))
        raise RetryLater(
            f"{notice.platform}: {exc}; not received, sending again", delay=5
        ) from None
    return receipt


async def _back_to_pending(rt: Runtime, notice: Notice, error: str) -> None:
    """The channel did not take the notice: `pending` again, for the job's next try. A notice
    another writer moved meanwhile is theirs: this run ends without a retry."""
    assert notice.id is not None
    async with rt.db.transaction() as session:
        moved = await move_notice(
            session,
            notice.id,
            N.PENDING,
            only_from={N.SENDING},
            last_error=rt.scrub(error)[:2000],
        )
    if not moved:
        log.info("notice %s: moved by another writer while being sent; not retrying", notice.id)
        raise _Settled


async def _record_receipt(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    out: OutgoingNotice,
    receipt: Receipt,
    adapter: Adapter,
) -> None:
    """The channel has the notice: record it (sent, or awaiting a person on a portal)."""
    outcome = N.AWAITING_PERSON if receipt.awaiting_person else N.SENT
    async with rt.db.transaction() as session:
        rt.metrics.submissions.labels(notice.platform, outcome).inc()
        if receipt.awaiting_person:
            recorded = await _record_awaiting_person(session, notice, case, out, receipt)
        else:
            recorded = await _record_sent(rt, session, notice, case, listings, receipt, adapter)
        if not recorded:
            log.warning(
                "notice %s: the channel has it (reference %s) but another writer moved it meanwhile",
                notice.id,
                receipt.reference,
            )
        await ctx.complete(session)


async def _record_awaiting_person(
    session: AsyncSession, notice: Notice, case: Case, out: OutgoingNotice, receipt: Receipt
) -> bool:
    """A portal: the thread gets the guide a person files the notice with."""
    assert notice.id is not None and case.id is not None
    if not await move_notice(
        session, notice.id, N.AWAITING_PERSON, only_from={N.SENDING}, last_error=None
    ):
        return False
    portal = str(receipt.detail.get("portal") or notice.platform)
    text, guide = blocks_for_portal(out, portal=portal, url=str(receipt.detail.get("url") or ""))
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=guide)
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot",
        kind="portal_guide_posted",
        detail={"portal": portal},
    )
    return True


async def _record_sent(
    rt: Runtime,
    session: AsyncSession,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    receipt: Receipt,
    adapter: Adapter,
) -> bool:
    """The platform has the notice: its listings are submitted (or what the channel decided)."""
    assert notice.id is not None and case.id is not None
    if not await move_notice(
        session,
        notice.id,
        N.SENT,
        only_from={N.SENDING},
        reference=receipt.reference,
        sent_at=rt.clock(),
        last_error=None,
    ):
        return False
    sent = {
        "case_id": case.id,
        "notice_id": notice.id,
        "actor": "bot",
        "kind": "notice_sent",
        "detail": {
            "channel": notice.channel,
            "adapter": notice.adapter,
            "reference": receipt.reference,
            "listings": len(listings),
        },
    }
    await apply_decisions(
        session,
        case=case,
        listings=listings,
        decisions=_sent_decisions(listings, receipt),
        actor="bot",
        context=f"Notice sent through {adapter.name}",
        extra_blocks=[tracking_buttons(notice.id)],
        events=[sent],
    )
    if adapter.can_check:
        await enqueue_poll(session, notice, config=rt.config, now=rt.clock())
    return True


def _sent_decisions(listings: list[Listing], receipt: Receipt) -> list[ListingDecision]:
    """Each listing's decision on delivery: the channel's, else `submitted`; all under the notice's
    reference (report id, complaint number), which is what people look up."""
    decided = {d.listing_id: d for d in receipt.decisions}
    decisions = [
        decided.get(item.id or 0)
        or ListingDecision(item.id or 0, ListingStatus.SUBMITTED, reference=receipt.reference)
        for item in listings
    ]
    return [
        ListingDecision(d.listing_id, d.status, d.reason, receipt.reference or d.reference)
        for d in decisions
    ]


def blocks_for_portal(
    out: OutgoingNotice, *, portal: str, url: str
) -> tuple[str, list[dict[str, Any]]]:
    return portal_guide(
        notice_id=out.notice_id,
        platform=out.platform,
        listings=len(out.listings),
        fields=notice_fields(out),
        portal=portal,
        url=url,
    )


async def fail_notice(
    rt: Runtime,
    ctx: JobContext | None,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    error: str,
    *,
    only_from: Collection[NoticeState],
) -> bool:
    """The notice cannot be delivered as it is: listings `failed`, the error and a Retry button
    in the thread. Only from `only_from`: False, and nothing written, if it moved on meanwhile."""
    error = rt.scrub(error)
    assert notice.id is not None and case.id is not None
    async with rt.db.transaction() as session:
        failed = await move_notice(
            session, notice.id, N.FAILED, only_from=only_from, last_error=error[:2000]
        )
        if failed:
            rt.metrics.submissions.labels(notice.platform, N.FAILED).inc()
            await _announce_failure(session, notice, case, listings, error)
        if ctx is not None:
            await ctx.complete(session)
    return failed


async def _announce_failure(
    session: AsyncSession, notice: Notice, case: Case, listings: list[Listing], error: str
) -> None:
    assert notice.id is not None and case.id is not None
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot",
        kind="notice_failed",
        detail={"error": error[:2000]},
    )
    await apply_decisions(
        session,
        case=case,
        listings=listings,
        decisions=[
            ListingDecision(item.id or 0, ListingStatus.FAILED, error[:500])
            for item in listings
            if ListingStatus(item.status).is_open
        ],
        actor="bot",
        announce=False,  # the failure message below says it, with its Retry button
    )
    text, failure = notice_failed(
        notice_id=notice.id,
        platform=notice.platform,
        channel=notice.channel,
        error=error,
        reporter_id=case.reporter_id,
    )
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=failure)


async def _hold(rt: Runtime, ctx: JobContext, notice: Notice, case: Case, error: str) -> None:
    """The notice may have arrived and the channel cannot tell: a person decides."""
    error = rt.scrub(error)
    assert notice.id is not None and case.id is not None
    async with rt.db.transaction() as session:
        if await move_notice(
            session, notice.id, N.HELD, only_from={N.SENDING}, last_error=error[:2000]
        ):
            rt.metrics.submissions.labels(notice.platform, N.HELD).inc()
            await add_event(
                session,
                case_id=case.id,
                notice_id=notice.id,
                actor="bot",
                kind="notice_held",
                detail={"error": error[:2000]},
            )
            text, held = notice_held(notice_id=notice.id, platform=notice.platform, error=error)
            await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=held)
        await ctx.complete(session)


async def on_submit_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """After the last attempt: the listings fail, with the platform's last error and a Retry button."""
    notice_id = int(job.payload["notice_id"])
    async with rt.db.sessions() as session:
        found = (await notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        log.warning("submit job %s died for notice %s, which does not exist", job.id, notice_id)
        return
    notice = found.notice
    if notice.status in SENDABLE:
        await fail_notice(
            rt,
            None,
            notice,
            found.case,
            found.listings,
            notice.last_error or error,
            only_from=SENDABLE,
        )
