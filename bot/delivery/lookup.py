"""The `lookup` job: ask a platform, slowly, whether a held notice arrived, and settle the hold
when it answers.

A notice is held with a lookup when its platform could not be asked whether it had the notice
(the submit job's backoff ran out, or the question failed right after an unclear send). Every
`LOOKUP_EVERY` one lookup job asks again (`find_existing`); each run queues the next, so the
asking never runs out of attempts:
- the platform has it: recorded `sent` with its reference, said in the thread;
- it does not: safe to send, so it goes back to `pending` with a submit job, said in the thread
  (or, if its withdrawal was asked while it was on its way, withdrawn and never sent);
- it cannot tell (`AmbiguousError`): only a person can settle it; said once, and no more asking;
- no answer (still failing): asked again later; a new kind of failure is said once in the thread.
  A lookup job that dies all the same (the database away for its whole backoff) queues the next.

A lookup stops as soon as the notice is no longer held (a person settled it, or withdrew it), or
was sent again since it was held (that send's own hold, if any, asks for itself).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import NoticeState
from bot.delivery.adapters.base import AmbiguousError, Receipt, TransientError
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.elements import MissingElementError
from bot.delivery.plan import enqueue_lookup, enqueue_submit
from bot.delivery.record import fresh, record_sent, withdraw_unsent, withdrawal_asked
from bot.delivery.states import move_notice
from bot.delivery.submit import load_for_job
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import LookupNotice
from bot.jobs.worker import JobContext
from bot.runtime import Runtime
from bot.slack_ui.notice_outcomes import lookup_problem, lookup_sending
from storage.events import add_event
from storage.jobs import ClaimedJob
from storage.models import Notice
from storage.notices import lock_notice, note_notice_error

log = logging.getLogger("takedown.delivery")

N = NoticeState


async def run_lookup(rt: Runtime, ctx: JobContext[LookupNotice]) -> None:
    """The `lookup` job: ask the platform whether the held notice arrived; settle or ask again."""
    found = await load_for_job(rt, ctx.args.notice_id)
    notice, case, listings = found.notice, found.case, found.listings
    if notice.status != N.HELD or notice.attempts != ctx.args.attempt:
        return
    adapter = adapter_for(rt, notice)
    try:
        out = outgoing(rt, notice, case, listings)
        receipt = await call_channel(rt, notice, lambda: adapter.find_existing(out))
    except (AmbiguousError, MissingElementError) as exc:
        await _not_looked_up(rt, ctx, notice, str(exc), stop=True)
        return
    except TransientError as exc:
        await _not_looked_up(rt, ctx, notice, str(exc), stop=False, quiet=True)
        return
    except Exception as exc:
        log.warning("notice %s: looking it up failed: %s", notice.id, exc)
        await _not_looked_up(rt, ctx, notice, str(exc) or type(exc).__name__, stop=False)
        return
    async with rt.db.transaction() as session:
        if receipt is None:
            settled = await _never_arrived(session, notice)
        else:
            settled = await record_sent(
                rt,
                session,
                notice,
                receipt,
                adapter,
                only_from={N.HELD},
                context=f"{notice.platform} has the notice after all (found by looking it up)",
            )
        if settled:
            await add_event(
                session,
                case_id=notice.case_id,
                notice_id=notice.id,
                actor="bot",
                kind="lookup_answered",
                detail={"found": receipt is not None, "reference": _reference(receipt)},
            )
        await ctx.complete(session)
    if settled and receipt is None:
        rt.wake_worker()


def _reference(receipt: Receipt | None) -> str | None:
    return receipt.reference if receipt is not None else None


async def _never_arrived(session: AsyncSession, notice: Notice) -> bool:
    """The platform has no record of the notice: safe to send, so it is sent (or withdrawn, if
    that was asked while it was on its way). False if a person settled it meanwhile."""
    assert notice.id is not None
    if not await move_notice(session, notice.id, N.PENDING, only_from={N.HELD}, last_error=None):
        return False
    now = await fresh(session, notice.id)
    if withdrawal_asked(now.listings):
        why = f"{notice.platform} has no record of it"
        return await withdraw_unsent(session, notice, now.case, was=N.PENDING, why=why)
    await enqueue_submit(session, notice_id=notice.id, case_id=notice.case_id)
    text, blocks = lookup_sending(platform=notice.platform)
    await enqueue_thread_reply(session, case_id=notice.case_id, text=text, blocks=blocks)
    return True


async def _not_looked_up(
    rt: Runtime,
    ctx: JobContext[LookupNotice],
    notice: Notice,
    error: str,
    *,
    stop: bool,
    quiet: bool = False,
) -> None:
    """No answer: kept on the notice; asked again later unless `stop`. A failure other than the
    platform's temporary trouble (`quiet`) is said in the thread, once while it stays the same."""
    assert notice.id is not None
    error = rt.scrub(error)[:2000]
    async with rt.db.transaction() as session:
        if await lock_notice(session, notice.id) == N.HELD:
            await note_notice_error(session, notice.id, error)
            if not quiet and error != notice.last_error:
                text, blocks = lookup_problem(platform=notice.platform, error=error, stopped=stop)
                await enqueue_thread_reply(
                    session, case_id=notice.case_id, text=text, blocks=blocks
                )
            if not stop:
                await enqueue_lookup(session, notice, attempt=ctx.args.attempt)
        await ctx.complete(session)


async def on_lookup_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """A lookup whose every try failed before it could ask (the database was away): the notice
    stays held, shown as such, and is looked up again later."""
    args = LookupNotice.model_validate(job.payload)
    log.warning("lookup of notice %s gave up (%s); asking again later", args.notice_id, error)
    async with rt.db.transaction() as session:
        if await lock_notice(session, args.notice_id) != N.HELD:
            return
        notice = await session.get(Notice, args.notice_id)
        if notice is not None and notice.attempts == args.attempt:
            await enqueue_lookup(session, notice, attempt=args.attempt)
