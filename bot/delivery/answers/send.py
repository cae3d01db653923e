"""The `answer` job: a person's answer to a platform's request for information, sent through the
notice's channel once, or shown for a person to pass on where the channel has no way to send it.

Exactly once, as a notice is (docs/architecture.md, "Exactly once"):
- before the channel is called, the answer is marked (`answer_sending`, committed under the
  notice's row lock). A run that finds its answer marked and never settled knows an earlier run
  died mid-call: on a channel that is not idempotent (email) it does not send again; the answer
  is recorded as uncertain and the thread says to check. An idempotent channel (the webhook's
  `Idempotency-Key`) is simply sent again;
- a temporary error (nothing left: the mail server refused before the message, the receiver
  answered 5xx) unmarks it (`answer_not_taken`) and the job's backoff tries again;
- a refusal fails it, said in the thread with the button to answer again; a job that runs out of
  tries says so too (`on_answer_dead`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.states import ListingStatus
from bot.delivery.adapters.base import (
    Adapter,
    AmbiguousError,
    OutgoingNotice,
    PermanentError,
    TransientError,
)
from bot.delivery.adapters.portal import PORTAL_LINKS, PortalAdapter
from bot.delivery.answers.files import fetch_files
from bot.delivery.answers.outgoing import AsSent, as_sent, outgoing_answer
from bot.delivery.answers.record import (
    keep_answer,
    record_failed,
    record_guided,
    record_not_needed,
    record_sent,
    record_uncertain,
)
from bot.delivery.answers.trail import NOT_TAKEN, SENDING, Answer, guided, in_flight, outcome
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.elements import MissingElementError
from bot.jobs.payloads import AnswerNotice
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from storage.answers import answer_events, answer_request
from storage.events import add_event
from storage.jobs import ClaimedJob
from storage.models import Case, Listing, Notice
from storage.notices import lock_notice, notice_bundles

log = logging.getLogger("takedown.delivery")


@dataclass(frozen=True, slots=True)
class _Loaded:
    answer: Answer
    notice: Notice
    case: Case
    listings: list[Listing]
    sent: AsSent  # the notice as the platform has it
    settled: bool  # it has an outcome, or was shown to a person to pass on
    flying: bool  # an earlier run handed it to the channel and never said how it went


async def _load(rt: Runtime, answer_id: int) -> _Loaded | None:
    async with rt.db.sessions() as session:
        request = await answer_request(session, answer_id)
        if request is None or request.notice_id is None:
            return None
        found = (await notice_bundles(session, [request.notice_id])).get(request.notice_id)
        if found is None:
            return None
        events = await answer_events(session, case_id=request.case_id, notice_id=request.notice_id)
        sent = await as_sent(session, request.notice_id)
    loaded = _Loaded(
        answer=Answer.of(request),
        notice=found.notice,
        case=found.case,
        listings=found.listings,
        sent=sent,
        settled=outcome(answer_id, events) is not None or guided(answer_id, events),
        flying=in_flight(answer_id, events),
    )
    return loaded


def where_to_answer(adapter: Adapter, platform: str) -> tuple[str, str]:
    """Where a person passes an answer on: the portal's name and address, when known."""
    if isinstance(adapter, PortalAdapter):
        return adapter.link()
    return PORTAL_LINKS.get(platform, (f"{platform}'s rights-owner programme", ""))


async def run_answer(rt: Runtime, ctx: JobContext[AnswerNotice]) -> None:
    """The `answer` job: send the answer once, or show it for a person to pass on."""
    loaded = await _load(rt, ctx.args.answer_id)
    if loaded is None:
        raise JobFailed(f"answer {ctx.args.answer_id} does not exist")
    if loaded.settled:
        return  # a duplicate job: its answer was sent, shown or settled already
    answer, notice = loaded.answer, loaded.notice
    wanted = set(answer.listing_ids)
    if not loaded.flying and not any(
        item.id in wanted and item.status == ListingStatus.NEEDS_INFO for item in loaded.listings
    ):  # decided before it left (one that may have left is settled by `_mark`)
        await record_not_needed(rt, ctx, answer, platform=notice.platform)
        return
    adapter = adapter_for(rt, notice)
    try:
        out = outgoing(rt, notice, loaded.case, loaded.listings)
    except (MissingElementError, PermanentError) as exc:
        await record_failed(rt, ctx, answer, platform=notice.platform, error=str(exc))
        return
    if not adapter.can_answer:
        ans = outgoing_answer(out, answer, sent=loaded.sent, attached=False)
        where = where_to_answer(adapter, notice.platform)
        await record_guided(rt, ctx, answer=answer, out=out, ans=ans, adapter=adapter, where=where)
        return
    await _send(rt, ctx, loaded, out, adapter)


async def _send(
    rt: Runtime,
    ctx: JobContext[AnswerNotice],
    loaded: _Loaded,
    out: OutgoingNotice,
    adapter: Adapter,
) -> None:
    answer, notice = loaded.answer, loaded.notice
    if not await _mark(rt, ctx, answer, adapter, platform=notice.platform):
        return
    try:
        files = await fetch_files(answer.files, slack=rt.slack, http=rt.http)
    except TransientError as exc:
        await _unmark(rt, answer, str(exc))
        raise RetryLater(f"answer {answer.id}: {exc}") from None
    except PermanentError as exc:
        await record_failed(rt, ctx, answer, platform=notice.platform, error=str(exc))
        return
    ans = outgoing_answer(out, answer, sent=loaded.sent, files=files)
    try:
        receipt = await call_channel(rt, notice, lambda: adapter.answer(out, ans), cap=30.0)
    except TransientError as exc:
        await _unmark(rt, answer, str(exc))
        raise RetryLater(f"answering {notice.platform}: {exc}", delay=exc.retry_after) from None
    except PermanentError as exc:
        await record_failed(rt, ctx, answer, platform=notice.platform, error=str(exc))
        return
    except Exception as exc:  # AmbiguousError, or a failure we cannot classify
        if adapter.idempotent:  # sending again under the same key cannot make a second answer
            await _unmark(rt, answer, str(exc))
            raise RetryLater(f"answering {notice.platform}: {exc}") from None
        log.warning("answer %s: outcome unknown (%s)", answer.id, exc)
        if isinstance(exc, AmbiguousError) and exc.copy is not None:
            async with rt.db.transaction() as session:  # what may have reached the platform
                await keep_answer(
                    session,
                    out=out,
                    ans=ans,
                    answer=answer,
                    adapter=adapter,
                    copy=exc.copy,
                    outcome="uncertain",
                )
        await record_uncertain(
            rt, ctx, answer, platform=notice.platform, channel=adapter.name, error=str(exc)
        )
        return
    await record_sent(
        rt,
        ctx,
        answer=answer,
        out=out,
        ans=ans,
        adapter=adapter,
        copy=receipt.copy,
        reference=receipt.reference,
    )


async def mark_sending(rt: Runtime, answer: Answer) -> bool:
    """Mark the answer as handed to its channel (committed before the call); False, and nothing
    written, if it has an outcome or an earlier run's mark is still open."""
    async with rt.db.transaction() as session:
        await lock_notice(session, answer.notice_id)
        events = await answer_events(session, case_id=answer.case_id, notice_id=answer.notice_id)
        if outcome(answer.id, events) is not None or in_flight(answer.id, events):
            return False
        await add_event(
            session,
            case_id=answer.case_id,
            notice_id=answer.notice_id,
            actor="bot",
            kind=SENDING,
            detail={"answer": answer.id},
        )
    return True


async def _mark(
    rt: Runtime, ctx: JobContext, answer: Answer, adapter: Adapter, *, platform: str
) -> bool:
    """Mark the answer before the channel is called. An earlier run's open mark means it died
    mid-call: an idempotent channel is sent again (under the same key); any other is not, and
    the answer is recorded as uncertain."""
    if await mark_sending(rt, answer):
        return True
    async with rt.db.sessions() as session:
        events = await answer_events(session, case_id=answer.case_id, notice_id=answer.notice_id)
    if outcome(answer.id, events) is not None or not in_flight(answer.id, events):
        return False
    if adapter.idempotent:
        return True
    await record_uncertain(
        rt,
        ctx,
        answer,
        platform=platform,
        channel=adapter.name,
        error="the bot stopped while it was sending this answer",
    )
    return False


async def _unmark(rt: Runtime, answer: Answer, error: str) -> None:
    """The channel did not take the answer: it may be sent again."""
    async with rt.db.transaction() as session:
        await add_event(
            session,
            case_id=answer.case_id,
            notice_id=answer.notice_id,
            actor="bot",
            kind=NOT_TAKEN,
            detail={"answer": answer.id, "error": rt.scrub(error)[:2000]},
        )


async def on_answer_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """After the last attempt: the answer failed, said in the thread with the button to answer
    again; or, if its last run died mid-call on a channel that cannot be asked, it may have
    arrived."""
    loaded = await _load(rt, int(job.payload["answer_id"]))
    if loaded is None:
        log.warning("answer job %s died for an answer that does not exist", job.id)
        return
    if loaded.settled:
        return
    answer, notice = loaded.answer, loaded.notice
    adapter = adapter_for(rt, notice)
    async with rt.db.sessions() as session:
        events = await answer_events(session, case_id=answer.case_id, notice_id=answer.notice_id)
    if in_flight(answer.id, events) and not adapter.idempotent:
        await record_uncertain(
            rt, None, answer, platform=notice.platform, channel=adapter.name, error=error
        )
    else:
        await record_failed(rt, None, answer, platform=notice.platform, error=error)
