"""What both reports ask of a listing: its outcome at a moment, its SLA, its time to removal.

Definitions in `storage.stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from storage.models import Event, Listing, Notice
from storage.stats.sql import epoch_seconds, nearest_rank, timestamp, to_hours

DEFAULT_SLA_DAYS = 7

# A listing's outcome at a moment (see `outcome_in`).
REMOVED = "removed"
REJECTED = "rejected"
NEEDS_INFO = "needs_info"
WITHDRAWN = "withdrawn"
OPEN = "open"

# Statuses that are open whatever `decided_at` says, and the statuses behind each decided outcome.
UNDECIDED = ("queued", "submitted", "in_review", "failed")
DECIDED_AS = {
    REMOVED: ("removed", "relisted"),
    REJECTED: ("rejected",),
    NEEDS_INFO: ("needs_info",),
    WITHDRAWN: ("withdrawn",),
}


def outcome_in(now: datetime, *outcomes: str) -> ColumnElement[bool]:
    """Whether a listing's outcome at `now` is one of `outcomes`.

    Open: not decided (queued, submitted, in review, failed), or decided at or after `now`.
    Otherwise the status is the outcome, relisted counting as removed. Written as tests of the
    status and `decided_at` rather than as a CASE naming the outcome: the figures ask this several
    times per listing, and a million listings make the difference."""
    status = col(Listing.status)
    decided_at = col(Listing.decided_at)
    statuses = [name for outcome in outcomes if outcome != OPEN for name in DECIDED_AS[outcome]]
    if OPEN in outcomes:
        # A decided status is then wanted whether the decision was made before `now` or not.
        return or_(status.in_([*UNDECIDED, *statuses]), decided_at >= timestamp(now))
    return and_(status.in_(statuses), or_(decided_at.is_(None), decided_at < timestamp(now)))


# A notice's events that start or end its wait for a person to file it on a portal.
FILING_EVENTS = ("portal_guide_posted", "notice_confirmed", "notice_failed", "notice_withdrawn")


def awaiting_you_at(now: datetime) -> ColumnElement[bool]:
    """Whether a listing waited at `now` for a person to file its notice on a portal (shown as
    *awaiting you*): open and not submitted at `now`, its notice awaiting a person then. The
    statement must join the listing's notice.

    A notice not changed since `now` (`updated_at` before it: every status move stamps it) was
    in its present state then; one changed since is read from its events: the last of its filing
    events before `now` posted the guide. At the present moment this is `queued` listings of
    `awaiting_person` notices, as every other surface shows them."""
    at = timestamp(now)
    last_filing = (
        select(col(Event.kind))
        .where(
            col(Event.case_id) == col(Notice.case_id),
            col(Event.notice_id) == col(Notice.id),
            col(Event.kind).in_(FILING_EVENTS),
            col(Event.created_at) < at,
        )
        .order_by(col(Event.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    notice_awaiting = or_(
        and_(col(Notice.updated_at) < at, col(Notice.status) == "awaiting_person"),
        and_(col(Notice.updated_at) >= at, last_filing == "portal_guide_posted"),
    )
    submitted = col(Listing.submitted_at)
    return and_(outcome_in(now, OPEN), or_(submitted.is_(None), submitted >= at), notice_awaiting)


def sla_clock(now: datetime) -> ColumnElement[datetime]:
    """When a listing's SLA clock started, as known at `now`: its submission, else its report."""
    submitted = col(Listing.submitted_at)
    return sql_case(
        (and_(submitted.is_not(None), submitted < timestamp(now)), submitted),
        else_=col(Listing.created_at),
    )


def by_platform(
    sla: Mapping[str, int], default_sla: int, value: Callable[[int], Any]
) -> ColumnElement[Any]:
    """CASE platform WHEN … THEN value(sla[platform]) … ELSE value(default_sla) END, naming only
    the platforms whose SLA differs from the default: each WHEN is one more comparison per row."""
    special = {platform: value(days) for platform, days in sla.items() if days != default_sla}
    if not special:
        return value(default_sla)
    return sql_case(special, value=col(Listing.platform), else_=value(default_sla))


def past_sla(now: datetime, sla: Mapping[str, int], default_sla: int) -> ColumnElement[bool]:
    """Awaiting the platform at `now`, with the SLA clock started more than SLA days before."""
    deadline = by_platform(sla, default_sla, lambda days: timestamp(now - timedelta(days=days)))
    return and_(
        col(Listing.created_at) < timestamp(now),
        col(Listing.status) != "failed",
        outcome_in(now, OPEN, NEEDS_INFO),
        sla_clock(now) < deadline,
    )


Times = dict[str, tuple[float | None, float | None]]


async def removal_times(
    session: AsyncSession, *, where: Sequence[ColumnElement[bool]], now: datetime, overall: bool
) -> Times:
    """Platform → (median, p90) hours from submission to removal (nearest rank); with `overall`,
    under "" the same over all platforms, from the same pass over the removals."""
    removals = (
        *where,
        outcome_in(now, REMOVED),
        col(Listing.submitted_at).is_not(None),
        col(Listing.decided_at).is_not(None),
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return await _removal_times_postgresql(session, removals, overall=overall)
    return await _removal_times_sqlite(session, removals, overall=overall)


def _seconds_to_removal() -> ColumnElement[int]:
    return epoch_seconds(col(Listing.decided_at)) - epoch_seconds(col(Listing.submitted_at))


async def _removal_times_postgresql(
    session: AsyncSession, removals: Sequence[ColumnElement[bool]], *, overall: bool
) -> Times:
    seconds = _seconds_to_removal()
    platform = col(Listing.platform)
    # ROLLUP adds the all-platforms row (platform NULL), even when there is no removal at all.
    percentiles = (
        await session.execute(
            select(platform, nearest_rank(seconds, 50), nearest_rank(seconds, 90))
            .where(*removals)
            .group_by(func.rollup(platform) if overall else platform)
        )
    ).all()
    return {name or "": (to_hours(mid), to_hours(high)) for name, mid, high in percentiles}


async def _removal_times_sqlite(
    session: AsyncSession, removals: Sequence[ColumnElement[bool]], *, overall: bool
) -> Times:
    """SQLite has no percentile aggregate: ranks by window functions, in integer arithmetic."""
    seconds = _seconds_to_removal()
    platform = col(Listing.platform)
    ranked = (
        select(
            platform.label("platform"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=platform, order_by=seconds).label("rank"),
            func.count().over(partition_by=platform).label("n"),
            *(
                (
                    func.row_number().over(order_by=seconds).label("rank_all"),
                    func.count().over().label("n_all"),
                )
                if overall
                else (literal(0).label("rank_all"), literal(1).label("n_all"))
            ),
        )
        .where(*removals)
        .subquery()
    )
    c = ranked.c

    # The p-th percentile is the value at the smallest rank r with r >= p/100 · n, i.e. r*100 >= p*n:
    # the least duration among the rows ranked there or later.
    def at(rank: Any, n: Any, percent: int) -> ColumnElement[int]:
        return func.min(sql_case((rank * 100 >= n * percent, c.seconds)))

    rows = (
        await session.execute(
            select(
                c.platform,
                at(c.rank, c.n, 50),
                at(c.rank, c.n, 90),
                at(c.rank_all, c.n_all, 50),
                at(c.rank_all, c.n_all, 90),
            ).group_by(c.platform)
        )
    ).all()
    times = {name: (to_hours(mid), to_hours(high)) for name, mid, high, _, _ in rows}
    if not overall:
        return times
    # Overall: each platform's group holds the least of its rows ranked there or later overall;
    # the least of those is the overall value.
    mids = [mid for *_, mid, _ in rows if mid is not None]
    highs = [high for *_, high in rows if high is not None]
    times[""] = (to_hours(min(mids)) if mids else None, to_hours(min(highs)) if highs else None)
    return times
