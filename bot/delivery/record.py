"""A delivery's outcome, written: a notice recorded sent, awaiting a person, back to `pending`,
failed or held; with its events and thread replies, in the caller's transaction.

Each write begins with the notice's guarded move (`bot.delivery.states`), whose UPDATE locks the
notice's row; a person's action on the notice takes the same lock first
(`storage.notices.lock_notice`), so the two run one after the other. The notice's listings are then
read afresh. A withdrawal pressed while the notice was on its way to the platform could not stop
it, but left its listings `withdrawn`; the outcome honours it:
- the platform has the notice (sent): said in the thread, with how to ask the platform to withdraw
  it; the listings stay withdrawn and nothing polls them;
- the platform does not have it (back to `pending`, refused, a portal guide not posted yet): the
  notice is withdrawn and never sent;
- nobody knows (held): held still, and its message says the withdrawal waits on the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import ListingStatus, NoticeState
from bot.delivery.adapters.base import Adapter, ListingDecision, OutgoingNotice, Receipt
from bot.delivery.copies import guide_copy, keep_sent
from bot.delivery.decisions import apply_decisions
from bot.delivery.evidence_text import upload_field, upload_files
from bot.delivery.notices import notice_fields
from bot.delivery.plan import LOOKUP_EVERY, enqueue_lookup, enqueue_poll
from bot.delivery.states import move_notice
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.worker import JobContext
from bot.runtime import Runtime
from bot.slack_ui.notice_blocks import (
    notice_failed,
    notice_held,
    portal_guide,
    portal_not_filed,
    tracking_buttons,
)
from bot.slack_ui.notice_outcomes import arrived_after_withdrawal, withdrawn_unsent
from bot.slack_ui.upload_blocks import files_to_upload
from storage.events import add_event
from storage.models import Case, Listing, Notice
from storage.notices import NoticeBundle, notice_bundles

log = logging.getLogger("takedown.delivery")

N = NoticeState


def withdrawal_asked(listings: Sequence[Listing]) -> bool:
    """Was the notice's withdrawal asked for while it was on its way? Its listings say so: a
    person's Withdraw on a notice it could not stop withdrew them."""
    return any(item.status == ListingStatus.WITHDRAWN for item in listings)


async def fresh(session: AsyncSession, notice_id: int) -> NoticeBundle:
    """The notice, its case and listings as they stand now, in the caller's transaction."""
    return (await notice_bundles(session, [notice_id]))[notice_id]


def _open(listings: Sequence[Listing]) -> list[Listing]:
    return [item for item in listings if ListingStatus(item.status).is_open]


async def record_sent(
    rt: Runtime,
    session: AsyncSession,
    notice: Notice,
    receipt: Receipt,
    adapter: Adapter,
    *,
    only_from: Collection[NoticeState],
    context: str,
) -> bool:
    """The platform has the notice: sent, its open listings submitted (or what the channel
    decided), the thread told. False, and nothing written, if the notice is no longer in
    `only_from`."""
    assert notice.id is not None
    if not await move_notice(
        session,
        notice.id,
        N.SENT,
        only_from=only_from,
        reference=receipt.reference,
        sent_at=rt.clock(),
        last_error=None,
    ):
        return False
    now = await fresh(session, notice.id)
    case, listings = now.case, now.listings
    assert case.id is not None
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
    if withdrawal_asked(listings):
        await _arrived_after_withdrawal(session, notice, case, receipt.reference, sent)
        return True
    await apply_decisions(
        session,
        case=case,
        listings=listings,
        decisions=_sent_decisions(_open(listings), receipt),
        actor="bot",
        context=context,
        extra_blocks=[tracking_buttons(notice.id)],
        events=[sent],
    )
    if adapter.can_check:
        await enqueue_poll(session, notice, config=rt.config)
    return True


async def _arrived_after_withdrawal(
    session: AsyncSession,
    notice: Notice,
    case: Case,
    reference: str | None,
    sent: dict[str, Any],
) -> None:
    assert notice.id is not None and case.id is not None
    await add_event(session, **sent)
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot",
        kind="notice_arrived_after_withdrawal",
        detail={"reference": reference},
    )
    text, blocks = arrived_after_withdrawal(platform=notice.platform, reference=reference)
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)


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


async def record_awaiting_person(
    session: AsyncSession, notice: Notice, out: OutgoingNotice, receipt: Receipt, adapter: Adapter
) -> bool:
    """A portal: the thread gets the guide a person files the notice with, kept as it is shown
    (or, if its withdrawal was asked meanwhile, the notice is withdrawn and no guide is posted)."""
    assert notice.id is not None
    if not await move_notice(
        session, notice.id, N.AWAITING_PERSON, only_from={N.SENDING}, last_error=None
    ):
        return False
    now = await fresh(session, notice.id)
    case = now.case
    assert case.id is not None
    if withdrawal_asked(now.listings):
        await withdraw_unsent(
            session, notice, case, was=N.AWAITING_PERSON, why="nobody has filed it on the portal"
        )
        return True
    portal = str(receipt.detail.get("portal") or notice.platform)
    url = str(receipt.detail.get("url") or "")
    fields = notice_fields(out)  # one reading for the guide and its kept copy
    text, guide = portal_guide(
        notice_id=out.notice_id,
        platform=out.platform,
        listings=len(out.listings),
        fields=fields,
        portal=portal,
        url=url,
    )
    guide = guide[:-1] + files_to_upload(upload_files(out)) + guide[-1:]  # before the buttons
    fields = fields + upload_field(out.evidence_items)
    # The parent message then shows its listings as awaiting you.
    await enqueue_thread_reply(
        session, case_id=case.id, text=text, blocks=guide, refresh_parent=True
    )
    await keep_sent(
        session,
        case_id=case.id,
        out=out,
        adapter=adapter,
        copy=guide_copy(out, fields, portal=portal, url=url),
        outcome=N.AWAITING_PERSON,
    )
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot",
        kind="portal_guide_posted",
        detail={"portal": portal},
    )
    return True


async def withdraw_unsent(
    session: AsyncSession, notice: Notice, case: Case, *, was: NoticeState, why: str
) -> bool:
    """Withdraw a notice the platform does not have, whose withdrawal was asked for while it was
    on its way (its listings are withdrawn already); said in the thread."""
    assert notice.id is not None and case.id is not None
    source = was
    if was == N.SENDING:  # not a move of its own: it never left, so it is pending again first
        if not await move_notice(session, notice.id, N.PENDING, only_from={N.SENDING}):
            return False
        source = N.PENDING
    if not await move_notice(session, notice.id, N.WITHDRAWN, only_from={source}):
        return False
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot",
        kind="notice_withdrawn",
        detail={"from": str(was), "why": why},
    )
    text, blocks = withdrawn_unsent(platform=notice.platform, why=why)
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)
    return True


async def record_not_taken(rt: Runtime, notice: Notice, error: str) -> bool:
    """The channel did not take the notice: `pending` again, for the job's next try; True if it
    should be tried again. Not if another writer moved it meanwhile (theirs now), nor if its
    withdrawal was asked meanwhile (then it is withdrawn, never sent)."""
    assert notice.id is not None
    async with rt.db.transaction() as session:
        if not await move_notice(
            session,
            notice.id,
            N.PENDING,
            only_from={N.SENDING},
            last_error=rt.scrub(error)[:2000],
        ):
            log.info("notice %s: moved by another writer while being sent; not retrying", notice.id)
            return False
        now = await fresh(session, notice.id)
        if withdrawal_asked(now.listings):
            why = f"it never reached {notice.platform}"
            await withdraw_unsent(session, notice, now.case, was=N.PENDING, why=why)
            return False
    return True


async def fail_notice(
    rt: Runtime,
    ctx: JobContext | None,
    notice: Notice,
    error: str,
    *,
    only_from: Collection[NoticeState],
) -> bool:
    """The notice cannot be delivered as it is: listings `failed`, the error and a Retry button
    in the thread (withdrawn instead, if its withdrawal was asked for meanwhile). Only from
    `only_from`: False, and nothing written, if it moved on meanwhile."""
    async with rt.db.transaction() as session:
        failed = await fail_in(rt, session, notice, error, only_from=only_from)
        if ctx is not None:
            await ctx.complete(session)
    return failed


async def fail_in(
    rt: Runtime,
    session: AsyncSession,
    notice: Notice,
    error: str,
    *,
    only_from: Collection[NoticeState],
    not_filed: NotFiled | None = None,
) -> bool:
    """`fail_notice` in the caller's transaction. With `not_filed`, a person could not file a
    portal notice and said why: the event is theirs, with the reason, and so is the reply."""
    error = rt.scrub(error)
    assert notice.id is not None
    if not await move_notice(
        session, notice.id, N.FAILED, only_from=only_from, last_error=error[:2000]
    ):
        return False
    rt.metrics.submissions.labels(notice.platform, N.FAILED).inc()
    now = await fresh(session, notice.id)
    if withdrawal_asked(now.listings):
        why = f"{notice.platform} did not take it ({error[:300]})"
        await withdraw_unsent(session, notice, now.case, was=N.FAILED, why=why)
    else:
        await _announce_failure(session, notice, now.case, now.listings, error, not_filed)
    return True


@dataclass(frozen=True)
class NotFiled:
    """Who could not file a portal notice on the platform's form, and why."""

    actor: str
    reason: str


async def _announce_failure(
    session: AsyncSession,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    error: str,
    not_filed: NotFiled | None = None,
) -> None:
    assert notice.id is not None and case.id is not None
    await apply_decisions(
        session,
        case=case,
        listings=listings,
        decisions=[
            ListingDecision(item.id or 0, ListingStatus.FAILED, error[:500])
            for item in _open(listings)
        ],
        actor="bot",
        announce=False,  # the failure message below says it, with its Retry button
    )
    detail = {"error": error[:2000]}
    if not_filed is not None:
        detail["reason"] = not_filed.reason
    # After its listings' changes: the case's last act is the failure, and who said it.
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor="bot" if not_filed is None else not_filed.actor,
        kind="notice_failed",
        detail=detail,
    )
    if not_filed is not None:
        text, failure = portal_not_filed(
            notice_id=notice.id,
            platform=notice.platform,
            actor=not_filed.actor,
            reason=not_filed.reason,
            reporter_id=case.reporter_id,
        )
    else:
        text, failure = notice_failed(
            notice_id=notice.id,
            platform=notice.platform,
            channel=notice.channel,
            error=error,
            reporter_id=case.reporter_id,
        )
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=failure)


async def hold(
    rt: Runtime, ctx: JobContext | None, notice: Notice, error: str, *, look_up: bool
) -> bool:
    """The notice may have arrived and nobody can tell yet: held, for a person to settle. With
    `look_up` (the platform could not be asked), the platform is asked again every LOOKUP_EVERY
    (`bot.delivery.lookup`), which settles the hold when it answers. Only from `sending`."""
    error = rt.scrub(error)
    assert notice.id is not None
    async with rt.db.transaction() as session:
        held = await move_notice(
            session, notice.id, N.HELD, only_from={N.SENDING}, last_error=error[:2000]
        )
        if held:
            rt.metrics.submissions.labels(notice.platform, N.HELD).inc()
            now = await fresh(session, notice.id)
            assert now.case.id is not None
            await add_event(
                session,
                case_id=now.case.id,
                notice_id=notice.id,
                actor="bot",
                kind="notice_held",
                detail={"error": error[:2000], "look_up": look_up},
            )
            text, blocks = notice_held(
                notice_id=notice.id,
                platform=notice.platform,
                error=error,
                look_every=LOOKUP_EVERY if look_up else None,
                withdrawal_asked=withdrawal_asked(now.listings),
            )
            await enqueue_thread_reply(session, case_id=now.case.id, text=text, blocks=blocks)
            if look_up:
                await enqueue_lookup(session, now.notice, attempt=now.notice.attempts)
        if ctx is not None:
            await ctx.complete(session)
    return held
