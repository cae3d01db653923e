"""Delivery: a case's listings become notices, one per platform channel and batch, each sent by
its adapter through a durable `submit` job and followed by `poll` jobs until decided.

Nothing is lost or sent twice:
- a notice is marked `sending` (committed) before its adapter is called; a run that finds a notice
  already `sending` knows an earlier run died mid-call. An idempotent channel is simply sent again;
  a non-idempotent one is reconciled with the platform (`find_existing`) or held for a person;
- transient errors are retried inside the run (tenacity), then by the job's durable backoff; after
  the last attempt the listings are `failed` and the thread offers a Retry button;
- the result, its events, its thread replies and the job's completion commit together.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import AppConfig
from bot.core.cases import case_ref
from bot.core.platforms import platform_name
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import (
    Adapter,
    AdapterError,
    ListingDecision,
    ListingStatus,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
    Receipt,
    TransientError,
)
from bot.delivery.decisions import apply_decisions
from bot.delivery.notices import MissingElementError, build_notice, notice_fields
from bot.jobs.backoff import with_retries
from bot.jobs.coalesce import Missing
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from bot.slack_ui import mrkdwn as blocks
from bot.slack_ui.notice_blocks import (
    confirm_view,
    decision_view,
    notice_failed,
    notice_held,
    portal_guide,
    tracking_buttons,
)
from storage import jobs, queries
from storage.jobs import ClaimedJob
from storage.models import OPEN_STATUSES, Case, Listing, Notice

log = logging.getLogger("takedown.delivery")
T = TypeVar("T")

# Notice states: pending → sending → sent | awaiting_person | held | failed | withdrawn
DONE_STATES = frozenset({"sent", "awaiting_person", "held", "withdrawn"})


class DeliveryError(Exception):
    """A person asked for something the notice's state does not allow; the message says why."""


async def plan_notices(
    session: AsyncSession, *, config: AppConfig, case_id: int, platforms: Sequence[str]
) -> list[int]:
    """Notices for a new case whose listings (not stored yet) are on `platforms`, by position:
    grouped by platform, split by the channel's batch size, a submit job queued for each.
    Returns each position's notice id, for the listings to be inserted with.

    Set-based, and before the listings, so they are written once: a 10,000-listing case's
    hundreds of notices and jobs cost two statements."""
    by_platform: dict[str, list[int]] = defaultdict(list)
    for position, platform in enumerate(platforms):
        by_platform[platform].append(position)
    planned: list[queries.PlannedNotice] = []
    members: list[list[int]] = []  # the positions of each planned notice
    for platform, positions in by_platform.items():
        channel, entry = config.channel_for(platform)
        size = adapter_class(entry.adapter).max_batch
        for batch, start in enumerate(range(0, len(positions), size)):
            planned.append(
                queries.PlannedNotice(
                    platform=platform,
                    channel=channel,
                    adapter=entry.adapter,
                    batch=batch,
                    idempotency_key=f"TD-{case_id}.{platform}.{batch}.{uuid.uuid4().hex[:12]}",
                )
            )
            members.append(positions[start : start + size])
    notice_ids = await queries.insert_notices(session, case_id=case_id, planned=planned)
    await jobs.enqueue_many(
        session,
        kind="submit",
        jobs=[
            ({"notice_id": notice_id, "case_id": case_id}, f"submit:{notice_id}")
            for notice_id in notice_ids
        ],
    )
    notice_of = [0] * len(platforms)
    for notice_id, positions in zip(notice_ids, members, strict=True):
        for position in positions:
            notice_of[position] = notice_id
    return notice_of


async def _enqueue_submit(
    session: AsyncSession, notice_id: int, case_id: int, *, dedupe_key: str | None = None
) -> None:
    await jobs.enqueue(
        session,
        kind="submit",
        payload={"notice_id": notice_id, "case_id": case_id},
        dedupe_key=dedupe_key or f"submit:{notice_id}:{uuid.uuid4().hex[:8]}",
    )


async def _enqueue_poll(
    rt: Runtime, session: AsyncSession, notice: Notice, *, soon: bool = False
) -> None:
    _, entry = rt.config.channel_for(notice.platform)
    every = entry.poll_every.total_seconds()
    delay = min(every, 5.0) if soon else every * random.uniform(0.9, 1.1)
    await jobs.enqueue(
        session,
        kind="poll",
        payload={"notice_id": notice.id, "case_id": notice.case_id},
        run_at=rt.clock() + timedelta(seconds=delay),
        dedupe_key=f"poll:{notice.id}:{uuid.uuid4().hex[:8]}",
    )


def adapter_for(rt: Runtime, notice: Notice) -> Adapter:
    """The configured adapter of the notice's channel (a portal guide when none is configured)."""
    if notice.channel in rt.adapters:
        return rt.adapters[notice.channel]
    cls = adapter_class(notice.adapter)
    return cls(cls.Options(), platform=notice.platform, http=rt.http)


async def _load(
    rt: Runtime, session: AsyncSession, notice_id: int
) -> tuple[Notice, Case, list[Listing]]:
    found = (await queries.notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        raise DeliveryError(f"notice {notice_id} does not exist")
    return found.notice, found.case, found.listings


async def _load_for_job(rt: Runtime, notice_id: int) -> tuple[Notice, Case, list[Listing]]:
    """The notice of a `submit` or `poll` job, read together with the other jobs' notices."""
    try:
        found = await rt.loads.notice(notice_id)
    except Missing:
        raise JobFailed(f"notice {notice_id} does not exist") from None
    return found.notice, found.case, found.listings


def outgoing(rt: Runtime, notice: Notice, case: Case, listings: list[Listing]) -> OutgoingNotice:
    """The notice as the channel receives it (raises MissingElementError, PermanentError)."""
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
    )
    return replace(built, reference=notice.reference)


async def _limited(
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


async def _set_notice(rt: Runtime, notice_id: int, **values: Any) -> None:
    if values.get("last_error"):
        values["last_error"] = rt.scrub(values["last_error"])
    async with rt.db.transaction() as session:
        await queries.update_notice(session, notice_id, **values)


async def run_submit(rt: Runtime, ctx: JobContext) -> None:
    """The `submit` job: deliver one notice through its channel, exactly once."""
    notice_id = int(ctx.job.payload["notice_id"])
    notice, case, listings = await _load_for_job(rt, notice_id)
    if notice.status in DONE_STATES or notice.status == "failed":
        return  # already delivered, held or failed: a duplicate job has nothing to do
    adapter = adapter_for(rt, notice)
    try:
        out = outgoing(rt, notice, case, listings)
    except (MissingElementError, PermanentError) as exc:
        await _fail(rt, ctx, notice, case, listings, str(exc))
        return

    receipt: Receipt | None = None
    if notice.status == "sending" and not adapter.idempotent:
        # An earlier run died after calling the channel: ask it before sending anything again.
        try:
            receipt = await _limited(rt, notice, lambda: adapter.find_existing(out))
        except TransientError as exc:
            raise RetryLater(
                f"reconciling with {notice.platform}: {exc}", delay=exc.retry_after
            ) from None
        except Exception as exc:
            await _hold(rt, ctx, notice, case, str(exc))
            return
    if receipt is None:
        await rt.loads.mark_sending(notice_id)  # committed before the channel is called
        try:
            receipt = await _limited(rt, notice, lambda: adapter.submit(out), cap=30.0)
        except TransientError as exc:
            await _set_notice(rt, notice_id, status="pending", last_error=str(exc)[:2000])
            raise RetryLater(f"{notice.platform}: {exc}", delay=exc.retry_after) from None
        except PermanentError as exc:
            await _fail(rt, ctx, notice, case, listings, str(exc))
            return
        except Exception as exc:  # AmbiguousError, or a failure we cannot classify
            if adapter.idempotent:
                await _set_notice(rt, notice_id, status="pending", last_error=str(exc)[:2000])
                raise RetryLater(f"{notice.platform}: {exc}") from None
            log.warning("notice %s: outcome unknown (%s)", notice_id, exc)
            try:
                receipt = await _limited(rt, notice, lambda: adapter.find_existing(out))
            except Exception as reconcile_error:
                await _hold(rt, ctx, notice, case, f"{exc} ({reconcile_error})")
                return
            if receipt is None:  # the platform says it never got it: safe to send again
                await _set_notice(rt, notice_id, status="pending", last_error=str(exc)[:2000])
                raise RetryLater(
                    f"{notice.platform}: {exc}; not received, sending again", delay=5
                ) from None
    await _record_receipt(rt, ctx, notice, case, listings, out, receipt, adapter)


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
    assert notice.id is not None and case.id is not None
    async with rt.db.transaction() as session:
        outcome = "awaiting_person" if receipt.awaiting_person else "sent"
        rt.metrics.submissions.labels(notice.platform, outcome).inc()
        if receipt.awaiting_person:
            await queries.update_notice(
                session, notice.id, status="awaiting_person", last_error=None
            )
            portal = str(receipt.detail.get("portal") or notice.platform)
            text, guide = blocks_for_portal(
                out, portal=portal, url=str(receipt.detail.get("url") or "")
            )
            await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=guide)
            await queries.add_event(
                session,
                case_id=case.id,
                notice_id=notice.id,
                actor="bot",
                kind="portal_guide_posted",
                detail={"portal": portal},
            )
        else:
            await queries.update_notice(
                session,
                notice.id,
                status="sent",
                reference=receipt.reference,
                sent_at=rt.clock(),
                last_error=None,
            )
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
            decided = {d.listing_id: d for d in receipt.decisions}
            decisions = [
                decided.get(item.id or 0)
                or ListingDecision(item.id or 0, "submitted", reference=receipt.reference)
                for item in listings
            ]
            await apply_decisions(
                session,
                case=case,
                listings=listings,
                # The notice's reference (report id, complaint number) is what people look up.
                decisions=[
                    ListingDecision(
                        d.listing_id, d.status, d.reason, receipt.reference or d.reference
                    )
                    for d in decisions
                ],
                actor="bot",
                context=f"Notice sent through {adapter.name}",
                extra_blocks=[tracking_buttons(notice.id)],
                events=[sent],
            )
            if adapter.can_check:
                await _enqueue_poll(rt, session, notice)
        await ctx.complete(session)


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


async def _fail(
    rt: Runtime,
    ctx: JobContext | None,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    error: str,
) -> None:
    """The notice cannot be delivered as it is: listings `failed`, the error and a Retry button in the thread."""
    error = rt.scrub(error)
    assert notice.id is not None and case.id is not None
    rt.metrics.submissions.labels(notice.platform, "failed").inc()
    async with rt.db.transaction() as session:
        await queries.update_notice(session, notice.id, status="failed", last_error=error[:2000])
        await queries.add_event(
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
                ListingDecision(item.id or 0, "failed", error[:500])
                for item in listings
                if item.status in OPEN_STATUSES
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
        if ctx is not None:
            await ctx.complete(session)


async def _hold(rt: Runtime, ctx: JobContext, notice: Notice, case: Case, error: str) -> None:
    """The notice may have arrived and the channel cannot tell: a person decides."""
    error = rt.scrub(error)
    assert notice.id is not None and case.id is not None
    rt.metrics.submissions.labels(notice.platform, "held").inc()
    async with rt.db.transaction() as session:
        await queries.update_notice(session, notice.id, status="held", last_error=error[:2000])
        await queries.add_event(
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
    async with rt.db.sessions() as session:
        notice, case, listings = await _load(rt, session, int(job.payload["notice_id"]))
    if notice.status in ("pending", "sending"):
        await _fail(rt, None, notice, case, listings, notice.last_error or error)


async def run_poll(rt: Runtime, ctx: JobContext) -> None:
    """The `poll` job: ask the channel for decisions; record changes; poll again while any is open."""
    notice_id = int(ctx.job.payload["notice_id"])
    notice, case, listings = await _load_for_job(rt, notice_id)
    if notice.status != "sent" or not any(item.status in OPEN_STATUSES for item in listings):
        return
    adapter = adapter_for(rt, notice)
    out = outgoing(rt, notice, case, listings)
    problem: str | None = None
    decisions: list[ListingDecision] = []
    try:
        decisions = await _limited(rt, notice, lambda: adapter.check(out))
    except TransientError as exc:
        raise RetryLater(f"checking {notice.platform}: {exc}", delay=exc.retry_after) from None
    except Exception as exc:
        problem = rt.scrub(str(exc) or type(exc).__name__)
    assert case.id is not None
    async with rt.db.transaction() as session:
        if problem is not None and problem != notice.last_error:
            await queries.update_notice(session, notice_id, last_error=problem[:2000])
            await enqueue_thread_reply(
                session,
                case_id=case.id,
                text=f"Could not check {notice.platform} for decisions: {blocks.escape_cut(problem, 1500)}",
                blocks=[
                    blocks.context_line(
                        f":warning: Could not check {platform_name(notice.platform)} for decisions: {problem}"
                    )
                ],
            )
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=decisions,
            actor=f"platform:{notice.platform}",
        )
        rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
        changed = {change.listing.id: change.new for change in changes}
        if any(changed.get(item.id, item.status) in OPEN_STATUSES for item in listings):
            await _enqueue_poll(rt, session, notice)
        await ctx.complete(session)


# -- what people do with the buttons ------------------------------------------------------------


async def confirm_submission(rt: Runtime, *, notice_id: int, reference: str, actor: str) -> str:
    """A person filed the notice (portal) or found it arrived (held): record the platform's number."""
    reference = reference.strip()
    if not reference:
        raise DeliveryError("Enter the platform's complaint or report number.")
    async with rt.db.transaction() as session:
        notice, case, listings = await _load(rt, session, notice_id)
        await rt.access.require_approver(actor, reporter_id=case.reporter_id)
        if notice.status not in ("awaiting_person", "held", "failed"):
            raise DeliveryError(f"This notice is already {notice.status.replace('_', ' ')}.")
        assert case.id is not None
        await queries.update_notice(
            session,
            notice_id,
            status="sent",
            reference=reference,
            sent_at=rt.clock(),
            last_error=None,
        )
        await queries.add_event(
            session,
            case_id=case.id,
            notice_id=notice_id,
            actor=actor,
            kind="notice_confirmed",
            detail={"reference": reference},
        )
        await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, "submitted", reference=reference)
                for item in listings
                if item.status in OPEN_STATUSES
            ],
            actor=actor,
            by_person=True,
            extra_blocks=[tracking_buttons(notice_id)],
        )
        if adapter_for(rt, notice).can_check:
            await _enqueue_poll(rt, session, notice)
        return case_ref(case.id)


async def not_submitted(rt: Runtime, *, notice_id: int, actor: str) -> None:
    """The reporter could not file the notice on the portal."""
    async with rt.db.sessions() as session:
        notice, case, listings = await _load(rt, session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    if notice.status != "awaiting_person":
        raise DeliveryError(f"This notice is already {notice.status.replace('_', ' ')}.")
    await _fail(
        rt, None, notice, case, listings, "the reporter could not file it on the platform's form"
    )


async def retry_notice(rt: Runtime, *, notice_id: int, actor: str) -> None:
    """Send a failed (or held, on a person's word) notice again."""
    async with rt.db.transaction() as session:
        notice, case, listings = await _load(rt, session, notice_id)
        await rt.access.require_approver(actor)
        if notice.status not in ("failed", "held"):
            raise DeliveryError(
                f"Only a failed or held notice can be sent again; this one is {notice.status.replace('_', ' ')}."
            )
        assert case.id is not None
        await queries.update_notice(session, notice_id, status="pending", last_error=None)
        await queries.add_event(
            session,
            case_id=case.id,
            notice_id=notice_id,
            actor=actor,
            kind="notice_retried",
            detail={"from": notice.status},
        )
        await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, "queued")
                for item in listings
                if item.status == "failed"
            ],
            actor=actor,
            by_person=True,
        )
        await _enqueue_submit(session, notice_id, case.id)
    rt.wake_worker()


async def record_decision(
    rt: Runtime, *, notice_id: int, status: str, listing_ids: list[int], note: str, actor: str
) -> int:
    """A person records the platform's decision for some listings of a notice; returns how many changed."""
    async with rt.db.transaction() as session:
        _, case, listings = await _load(rt, session, notice_id)
        await rt.access.require_approver(actor)
        wanted = set(listing_ids)
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, cast(ListingStatus, status), note.strip() or None)
                for item in listings
                if item.id in wanted
            ],
            actor=actor,
            by_person=True,
        )
        rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
        return len(changes)


async def withdraw(rt: Runtime, *, notice_id: int, actor: str) -> int:
    """Stop tracking a notice's open listings (the team withdrew them)."""
    async with rt.db.transaction() as session:
        notice, case, listings = await _load(rt, session, notice_id)
        await rt.access.require_approver(actor)
        assert case.id is not None
        if notice.status in ("pending", "awaiting_person", "failed", "held"):
            await queries.update_notice(session, notice_id, status="withdrawn")
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, "withdrawn")
                for item in listings
                if item.status in OPEN_STATUSES
            ],
            actor=actor,
            by_person=True,
        )
        return len(changes)


async def decision_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form to record a decision, listing the notice's open listings."""
    async with rt.db.sessions() as session:
        notice, _, listings = await _load(rt, session, notice_id)
    await rt.access.require_approver(actor)
    choices = [(item.id or 0, item.key) for item in listings if item.status in OPEN_STATUSES]
    if not choices:
        raise DeliveryError("Every listing of this notice is already decided.")
    return decision_view(notice_id=notice_id, platform=notice.platform, listings=choices)


async def confirm_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    async with rt.db.sessions() as session:
        notice, case, _ = await _load(rt, session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    if notice.status not in ("awaiting_person", "held"):
        raise DeliveryError(f"This notice is already {notice.status.replace('_', ' ')}.")
    return confirm_view(notice_id=notice_id, platform=notice.platform)
