"""The `poll` job: ask a sent notice's channel for the platform's decisions, record what changed,
and poll again while any of its listings is open."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import platform_name
from bot.core.states import ListingStatus, NoticeState
from bot.delivery.adapters.base import ListingDecision, TransientError
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.decisions import apply_decisions
from bot.delivery.plan import enqueue_poll
from bot.delivery.submit import load_for_job
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import PollNotice
from bot.jobs.worker import JobContext, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.mrkdwn import context_line, escape_cut
from storage.models import Notice
from storage.notices import note_notice_error


def _open(status: str) -> bool:
    return ListingStatus(status).is_open


async def run_poll(rt: Runtime, ctx: JobContext[PollNotice]) -> None:
    """The `poll` job: ask the channel for decisions; record changes; poll again while any is open."""
    found = await load_for_job(rt, ctx.args.notice_id)
    notice, case, listings = found.notice, found.case, found.listings
    if notice.status != NoticeState.SENT or not any(_open(item.status) for item in listings):
        return
    adapter = adapter_for(rt, notice)
    out = outgoing(rt, notice, case, listings)
    problem: str | None = None
    decisions: list[ListingDecision] = []
    try:
        decisions = await call_channel(rt, notice, lambda: adapter.check(out))
    except TransientError as exc:
        raise RetryLater(f"checking {notice.platform}: {exc}", delay=exc.retry_after) from None
    except Exception as exc:
        problem = rt.scrub(str(exc) or type(exc).__name__)
    assert case.id is not None
    async with rt.db.transaction() as session:
        if problem is not None and problem != notice.last_error:
            await _say_problem(session, notice, problem)
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=decisions,
            actor=f"platform:{notice.platform}",
        )
        rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
        changed = {change.listing.id: change.new for change in changes}
        if any(_open(changed.get(item.id, item.status)) for item in listings):
            await enqueue_poll(session, notice, config=rt.config, now=rt.clock())
        await ctx.complete(session)


async def _say_problem(session: AsyncSession, notice: Notice, problem: str) -> None:
    """A check the channel refused: kept on the notice and said once in the thread."""
    assert notice.id is not None
    await note_notice_error(session, notice.id, problem[:2000])
    await enqueue_thread_reply(
        session,
        case_id=notice.case_id,
        text=f"Could not check {notice.platform} for decisions: {escape_cut(problem, 1500)}",
        blocks=[
            context_line(
                f":warning: Could not check {platform_name(notice.platform)} for decisions: {problem}"
            )
        ],
    )
