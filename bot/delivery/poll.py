"""The `poll` job: ask a sent notice's channel for the platform's decisions, record what changed,
and poll again while any of its listings is open.

A poll that cannot get an answer is never dropped in silence:
- a temporary error (network, 5xx, 429) is retried by the durable backoff; when the schedule runs
  out, or at once for any other error of the channel (a refusal, an answer it cannot read), the
  thread says so once, naming the platform and its last error, and polling goes on at a slow
  rate (`slow_poll_every`) until the listings are decided;
- the notice keeps the last error meanwhile (`last_error` on a sent notice means its checks are
  failing); the first check that works again clears it and says so once in the thread.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import AppConfig, format_duration
from bot.core.platforms import platform_name
from bot.core.states import ListingStatus, NoticeState
from bot.delivery.adapters.base import ListingDecision, TransientError
from bot.delivery.answers.record import drop_answered
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.decisions import apply_decisions
from bot.delivery.plan import enqueue_poll
from bot.delivery.submit import load_for_job
from bot.jobs import payloads
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import PollNotice
from bot.jobs.worker import JobContext, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.mrkdwn import context_line, escape_cut
from storage.events import add_event
from storage.jobs import ClaimedJob
from storage.models import Listing, Notice
from storage.notices import note_check_trouble, note_notice_error, notice_bundles

log = logging.getLogger("takedown.delivery")


def _open(status: str) -> bool:
    return ListingStatus(status).is_open


def _any_open(listings: list[Listing]) -> bool:
    return any(_open(item.status) for item in listings)


def slow_poll_every(config: AppConfig, platform: str) -> timedelta:
    """How often a notice whose checks keep failing is checked: its channel's `poll_every`, but
    no more often than the last step of the backoff schedule (the schedule has run out)."""
    _, entry = config.channel_for(platform)
    return max(entry.poll_every, config.delivery.backoff[-1])


async def run_poll(rt: Runtime, ctx: JobContext[PollNotice]) -> None:
    """The `poll` job: ask the channel for decisions; record changes; poll again while any is open."""
    found = await load_for_job(rt, ctx.args.notice_id)
    notice, case, listings = found.notice, found.case, found.listings
    if notice.status != NoticeState.SENT or not _any_open(listings):
        return
    adapter = adapter_for(rt, notice)
    problem: str | None = None
    decisions: list[ListingDecision] = []
    try:
        out = outgoing(rt, notice, case, listings)
        decisions = await call_channel(rt, notice, lambda: adapter.check(out))
    except TransientError as exc:
        if notice.last_error is None and not ctx.last_attempt:
            raise RetryLater(f"checking {notice.platform}: {exc}", delay=exc.retry_after) from None
        problem = rt.scrub(str(exc) or type(exc).__name__)
    except Exception as exc:  # a refusal, an answer the adapter cannot read, anything else
        problem = rt.scrub(str(exc) or type(exc).__name__)
    assert case.id is not None
    async with rt.db.transaction() as session:
        if problem is not None:
            await checks_failing(rt, session, notice, problem)
            await ctx.complete(session)
            return
        await _checks_work(session, notice)
        decisions = await drop_answered(session, notice, listings, decisions)
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
            await enqueue_poll(session, notice, config=rt.config)
        await ctx.complete(session)


async def checks_failing(rt: Runtime, session: AsyncSession, notice: Notice, problem: str) -> None:
    """The channel could not be checked: said once in the thread (the first time), the error kept
    on the notice, and the next check queued at the slow rate."""
    assert notice.id is not None
    every = slow_poll_every(rt.config, notice.platform)
    problem = problem[:2000]
    if await note_check_trouble(session, notice.id, problem):
        name = platform_name(notice.platform)
        said = (
            f"Could not check {name} for decisions: {problem}. The bot keeps checking every "
            f"{format_duration(every)} and says here when it works again."
        )
        await add_event(
            session,
            case_id=notice.case_id,
            notice_id=notice.id,
            actor="bot",
            kind="checks_failing",
            detail={"platform": notice.platform, "error": problem},
        )
        await enqueue_thread_reply(
            session,
            case_id=notice.case_id,
            text=escape_cut(said, 2000),
            blocks=[context_line(f":warning: {said[:2900]}")],
        )
    else:
        await note_notice_error(session, notice.id, problem)  # the latest, said already
    await payloads.enqueue(
        session,
        PollNotice(notice_id=notice.id, case_id=notice.case_id),
        delay=every,
        dedupe_key=f"poll:{notice.id}:{uuid.uuid4().hex[:8]}",
    )


async def _checks_work(session: AsyncSession, notice: Notice) -> None:
    """A check answered: if checks were failing, that is over, and the thread is told once."""
    assert notice.id is not None
    if notice.last_error is None or not await note_check_trouble(session, notice.id, None):
        return
    name = platform_name(notice.platform)
    said = f"Checking {name} for decisions works again."
    await add_event(
        session,
        case_id=notice.case_id,
        notice_id=notice.id,
        actor="bot",
        kind="checks_resumed",
        detail={"platform": notice.platform},
    )
    await enqueue_thread_reply(
        session,
        case_id=notice.case_id,
        text=said,
        blocks=[context_line(f":white_check_mark: {said}")],
    )


async def on_poll_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """A poll job gave up (its attempts ran out some other way than through its own run, say its
    worker was killed each time): a notice still waiting for decisions is not left unwatched."""
    notice_id = int(job.payload["notice_id"])
    async with rt.db.sessions() as session:
        found = (await notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        log.warning("poll job %s died for notice %s, which does not exist", job.id, notice_id)
        return
    if found.notice.status != NoticeState.SENT or not _any_open(found.listings):
        return
    async with rt.db.transaction() as session:
        await checks_failing(rt, session, found.notice, rt.scrub(error))
