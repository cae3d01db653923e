"""An answer's outcome, written: sent (by the channel, or passed on by a person), shown to a
person to pass on, failed, uncertain or not needed; with its event, its kept record and its
thread reply, in one transaction under the notice's row lock.

An answer that reached the platform moves the listings it answers from `needs_info` back to
`in_review` (guarded, `bot.delivery.decisions`), and the parent message is refreshed. Polling
goes on where the channel polls (it never stopped: a listing needing information is open), and
a platform that still reports the request the answer went to, in the same words, has not read it
yet: that report does not take the listing back to `needs_info` (`drop_answered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import ListingStatus
from bot.delivery.adapters.base import Adapter, ListingDecision, OutgoingAnswer, OutgoingNotice
from bot.delivery.adapters.base import SentCopy as Copy
from bot.delivery.answers.trail import (
    FAILED,
    GUIDED,
    NOT_NEEDED,
    SENT,
    UNCERTAIN,
    Answer,
    answered,
    outcome,
)
from bot.delivery.copies import keep_sent
from bot.delivery.decisions import Change, apply_decisions
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.worker import JobContext
from bot.runtime import Runtime
from bot.slack_ui import answer_form as ui
from storage.answers import answer_events
from storage.events import add_event
from storage.models import Case, Listing, Notice
from storage.notices import lock_notice, notice_bundles

L = ListingStatus


def answer_facts(out: OutgoingNotice, ans: OutgoingAnswer) -> dict[str, Any]:
    """The answer's parts as they went, JSON-ready (a kept record's `facts`)."""
    return {
        "case": out.case_ref,
        "notice_id": out.notice_id,
        "platform": out.platform,
        "channel": out.channel,
        "reference": out.reference,
        "answer_id": ans.answer_id,
        "message": ans.message,
        "evidence": list(ans.evidence),
        "listings": [asdict(item) for item in ans.listings],
        "files": [
            {"name": f.name, "media_type": f.media_type, "size": len(f.data)} for f in ans.files
        ],
        "subject": ans.subject,
        "in_reply_to": ans.in_reply_to,
        "text": ans.text,
    }


async def keep_answer(
    session: AsyncSession,
    *,
    out: OutgoingNotice,
    ans: OutgoingAnswer,
    answer: Answer,
    adapter: Adapter,
    copy: Copy,
    outcome: str,
) -> None:
    """Keep the answer as it went (or may have gone, or was shown) to the platform: write-once,
    like the notice (`storage.notice_records`), kind "answer"."""
    await keep_sent(
        session,
        case_id=answer.case_id,
        out=out,
        adapter=adapter,
        copy=copy,
        outcome=outcome,
        kind="answer",
        facts=answer_facts(out, ans),
        actor=answer.actor,
    )


async def record_answered(
    session: AsyncSession,
    *,
    notice: Notice,
    case: Case,
    listings: Sequence[Listing],
    answer: Answer,
    passed_on_by: str | None = None,
    reference: str | None = None,
    via: str = "",
) -> list[Change]:
    """The answer reached the platform: said, and its listings still needing information are in
    review again. Returns the listings moved."""
    assert case.id is not None and notice.id is not None
    await add_event(
        session,
        case_id=case.id,
        notice_id=notice.id,
        actor=passed_on_by or "bot",
        kind=SENT,
        detail={"answer": answer.id, "passed_on": passed_on_by is not None, "reference": reference},
    )
    wanted = set(answer.listing_ids)
    chosen = [item for item in listings if item.id in wanted and item.status == L.NEEDS_INFO]
    changes = await apply_decisions(
        session,
        case=case,
        listings=chosen,
        decisions=[ListingDecision(item.id or 0, L.IN_REVIEW) for item in chosen],
        actor=passed_on_by or answer.actor,
        announce=False,  # the reply below says it, with the answer (and refreshes the parent)
    )
    text, blocks = ui.answer_sent(
        actor=answer.actor,
        platform=notice.platform,
        message=answer.message,
        evidence=answer.evidence,
        files=[item.name for item in answer.files],
        back_in_review=[(change.listing.url, change.listing.key) for change in changes],
        passed_on_by=passed_on_by,
        via=via,
    )
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)
    return changes


async def _unsettled(
    session: AsyncSession, answer: Answer
) -> tuple[Notice, Case, list[Listing]] | None:
    """The answer's notice, case and listings under the notice's lock; None once the answer has
    an outcome (another writer settled it)."""
    await lock_notice(session, answer.notice_id)
    found = (await notice_bundles(session, [answer.notice_id]))[answer.notice_id]
    events = await answer_events(session, case_id=answer.case_id, notice_id=answer.notice_id)
    if outcome(answer.id, events) is not None:
        return None
    return found.notice, found.case, found.listings


async def record_sent(
    rt: Runtime,
    ctx: JobContext,
    *,
    answer: Answer,
    out: OutgoingNotice,
    ans: OutgoingAnswer,
    adapter: Adapter,
    copy: Copy | None,
    reference: str | None,
) -> None:
    async with rt.db.transaction() as session:
        if copy is not None:  # kept whatever else happened meanwhile: it did go out
            await keep_answer(
                session, out=out, ans=ans, answer=answer, adapter=adapter, copy=copy, outcome="sent"
            )
        now = await _unsettled(session, answer)
        if now is not None:
            notice, case, listings = now
            await record_answered(
                session,
                notice=notice,
                case=case,
                listings=listings,
                answer=answer,
                reference=reference,
                via=adapter.name,
            )
        await ctx.complete(session)


async def _settle(
    rt: Runtime,
    ctx: JobContext | None,
    answer: Answer,
    *,
    kind: str,
    detail: dict[str, Any],
    said: tuple[str, list[dict[str, Any]]],
) -> bool:
    """Write an outcome other than sent (once): its event and its thread reply."""
    async with rt.db.transaction() as session:
        now = await _unsettled(session, answer)
        if now is not None:
            await add_event(
                session,
                case_id=answer.case_id,
                notice_id=answer.notice_id,
                actor="bot",
                kind=kind,
                detail={"answer": answer.id, **detail},
            )
            text, blocks = said
            await enqueue_thread_reply(session, case_id=answer.case_id, text=text, blocks=blocks)
        if ctx is not None:
            await ctx.complete(session)
    return now is not None


async def record_failed(
    rt: Runtime, ctx: JobContext | None, answer: Answer, *, platform: str, error: str
) -> bool:
    error = rt.scrub(error)[:2000]
    said = ui.answer_failed(
        actor=answer.actor, platform=platform, error=error, notice_id=answer.notice_id
    )
    return await _settle(rt, ctx, answer, kind=FAILED, detail={"error": error}, said=said)


async def record_uncertain(
    rt: Runtime,
    ctx: JobContext | None,
    answer: Answer,
    *,
    platform: str,
    channel: str,
    error: str,
) -> bool:
    error = rt.scrub(error)[:2000]
    said = ui.answer_uncertain(actor=answer.actor, platform=platform, error=error, channel=channel)
    return await _settle(rt, ctx, answer, kind=UNCERTAIN, detail={"error": error}, said=said)


async def record_not_needed(rt: Runtime, ctx: JobContext, answer: Answer, *, platform: str) -> None:
    said = ui.answer_not_needed(actor=answer.actor, platform=platform)
    await _settle(rt, ctx, answer, kind=NOT_NEEDED, detail={}, said=said)


async def record_guided(
    rt: Runtime,
    ctx: JobContext,
    *,
    answer: Answer,
    out: OutgoingNotice,
    ans: OutgoingAnswer,
    adapter: Adapter,
    where: tuple[str, str],
) -> None:
    """The channel cannot send answers: the thread shows it for a person to pass on (kept as
    shown, "awaiting_person"), with **I sent it**."""
    text, blocks = ui.answer_guide(
        notice_id=answer.notice_id,
        answer_id=answer.id,
        adapter=adapter.name,
        platform=out.platform,
        text=ans.text,
        where=where,
        files=[item.name for item in answer.files],
    )
    async with rt.db.transaction() as session:
        if await _unsettled(session, answer) is not None:
            copy = Copy("text/plain", ans.text.encode(), path=where[1] or None)
            await keep_answer(
                session,
                out=out,
                ans=ans,
                answer=answer,
                adapter=adapter,
                copy=copy,
                outcome="awaiting_person",
            )
            await add_event(
                session,
                case_id=answer.case_id,
                notice_id=answer.notice_id,
                actor="bot",
                kind=GUIDED,
                detail={"answer": answer.id, "portal": where[0], "url": where[1]},
            )
            await enqueue_thread_reply(session, case_id=answer.case_id, text=text, blocks=blocks)
        await ctx.complete(session)


async def drop_answered(
    session: AsyncSession,
    notice: Notice,
    listings: Sequence[Listing],
    decisions: Sequence[ListingDecision],
) -> list[ListingDecision]:
    """A platform's decisions without the requests for information already answered: one that
    still reports, in the same words, the request an answer went to has not read the answer, and
    the listing the answer put back in review stays there."""
    if not any(d.status == L.NEEDS_INFO for d in decisions) or notice.id is None:
        return list(decisions)
    asked = answered(await answer_events(session, case_id=notice.case_id, notice_id=notice.id))
    status = {item.id: item.status for item in listings}
    return [
        d
        for d in decisions
        if not (
            d.status == L.NEEDS_INFO
            and status.get(d.listing_id) == L.IN_REVIEW
            and d.listing_id in asked
            and asked[d.listing_id] == (d.reason or None)
        )
    ]
