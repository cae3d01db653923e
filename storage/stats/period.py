"""The weekly digest's figures: the listings reported in a period, their outcomes, and what is open.

Definitions in `storage.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from storage.models import Case, Listing, Notice
from storage.stats.outcomes import (
    DEFAULT_SLA_DAYS,
    NEEDS_INFO,
    OPEN,
    REJECTED,
    REMOVED,
    WITHDRAWN,
    awaiting_you_at,
    outcome_in,
    past_sla,
    removal_times,
)
from storage.stats.sql import count_if, no_jit, timestamp

TOP_SELLERS = 5
OLDEST_OPEN = 5


@dataclass(frozen=True, slots=True)
class PlatformFigures:
    """One platform's listings reported in the period, by outcome at `now` (they sum to
    `reported`: `open` leaves out those `awaiting_you`, waiting for a person to file them on a
    portal), with its removal times. `platform` is "" for the all-platforms total."""

    platform: str
    reported: int
    removed: int
    rejected: int
    needs_info: int
    open: int
    withdrawn: int
    relisted: int  # re-reports of a listing removed before (relisted_from set)
    median_hours: float | None
    p90_hours: float | None
    awaiting_you: int = 0

    @property
    def decided(self) -> int:
        return self.removed + self.rejected

    @property
    def takedown_rate(self) -> float | None:
        return self.removed / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class OldListing:
    """An open listing, with what a link to its case's thread needs."""

    listing_id: int
    case_id: int
    platform: str
    key: str
    url: str
    status: str
    created_at: datetime
    channel_id: str | None
    thread_ts: str | None
    awaiting_you: bool = False  # waiting at `now` for a person to file it on a portal


@dataclass(frozen=True, slots=True)
class SellerCount:
    seller: str
    listings: int


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """What `period_figures` returns. `platforms` is sorted by listings reported (most first).

    `past_sla` and `oldest_open` look at every listing open at `now`, whenever it was reported:
    a listing stuck for a month matters most. The rest counts listings reported in the period.
    """

    start: datetime
    end: datetime
    now: datetime
    cases: int
    platforms: tuple[PlatformFigures, ...]
    total: PlatformFigures
    past_sla: Mapping[str, int]  # platform → listings past their SLA at `now`
    oldest_open: tuple[OldListing, ...]
    top_sellers: tuple[SellerCount, ...]

    @property
    def past_sla_total(self) -> int:
        return sum(self.past_sla.values())

    def platform(self, platform: str) -> PlatformFigures | None:
        return next((item for item in self.platforms if item.platform == platform), None)


async def period_figures(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    sla: Mapping[str, int],
    default_sla: int = DEFAULT_SLA_DAYS,
) -> PeriodFigures:
    """The figures of the listings reported in [start, end), their outcomes as of `now`, and the
    listings open at `now` (past SLA, oldest). `sla` maps platform → SLA days; other platforms
    have `default_sla`. All datetimes are aware."""
    await no_jit(session)
    in_period = [
        col(Listing.created_at) >= timestamp(start),
        col(Listing.created_at) < timestamp(end),
    ]
    platforms, total = await _platforms(session, in_period=in_period, now=now)
    return PeriodFigures(
        start=start,
        end=end,
        now=now,
        cases=await _cases_reported(session, start=start, end=end),
        platforms=platforms,
        total=total,
        past_sla=await _past_sla_counts(session, now=now, sla=sla, default_sla=default_sla),
        oldest_open=await _oldest_open(session, now=now),
        top_sellers=await _top_sellers(session, in_period=in_period),
    )


async def _platforms(
    session: AsyncSession, *, in_period: Sequence[ColumnElement[bool]], now: datetime
) -> tuple[tuple[PlatformFigures, ...], PlatformFigures]:
    """Each platform's figures, most listings reported first, and their total."""
    counts = [
        func.count(),
        *(count_if(outcome_in(now, name)) for name in (REMOVED, REJECTED, NEEDS_INFO)),
        count_if(outcome_in(now, OPEN)),
        count_if(outcome_in(now, WITHDRAWN)),
        count_if(col(Listing.relisted_from).is_not(None)),
    ]
    rows = (
        await session.execute(
            select(col(Listing.platform), *counts).where(*in_period).group_by(col(Listing.platform))
        )
    ).all()
    times = await removal_times(session, where=in_period, now=now, overall=True)
    awaiting = await _awaiting_you(session, in_period=in_period, now=now)
    platforms = sorted(
        (
            _platform_figures(
                platform,
                [int(n) for n in numbers],
                times.get(platform),
                awaiting=awaiting.get(platform, 0),
            )
            for platform, *numbers in rows
        ),
        key=lambda item: (-item.reported, item.platform),
    )
    sums = [sum(getattr(item, name) for item in platforms) for name in _COUNT_FIELDS]
    total = _platform_figures("", sums, times[""])  # `open` summed already leaves them out
    you = sum(item.awaiting_you for item in platforms)
    return tuple(platforms), replace(total, awaiting_you=you)


async def _awaiting_you(
    session: AsyncSession, *, in_period: Sequence[ColumnElement[bool]], now: datetime
) -> dict[str, int]:
    """Platform → listings reported in the period and waiting at `now` for a person to file them
    on a portal (a subset of the open ones)."""
    rows = await session.execute(
        select(col(Listing.platform), func.count())
        .select_from(Listing)
        .join(Notice, col(Notice.id) == col(Listing.notice_id))
        .where(*in_period, awaiting_you_at(now))
        .group_by(col(Listing.platform))
    )
    return {platform: int(count) for platform, count in rows.all()}


async def _cases_reported(session: AsyncSession, *, start: datetime, end: datetime) -> int:
    cases = await session.execute(
        select(func.count())
        .select_from(Case)
        .where(col(Case.created_at) >= timestamp(start), col(Case.created_at) < timestamp(end))
    )
    return int(cases.scalar_one())


async def _past_sla_counts(
    session: AsyncSession, *, now: datetime, sla: Mapping[str, int], default_sla: int
) -> dict[str, int]:
    """Platform → listings past their SLA at `now`, whenever they were reported."""
    past = await session.execute(
        select(col(Listing.platform), func.count())
        .where(past_sla(now, sla, default_sla))
        .group_by(col(Listing.platform))
    )
    return {platform: int(count) for platform, count in past.all()}


async def _oldest_open(session: AsyncSession, *, now: datetime) -> tuple[OldListing, ...]:
    """The listings open longest at `now`, whenever they were reported."""
    open_now = and_(col(Listing.created_at) < timestamp(now), outcome_in(now, OPEN, NEEDS_INFO))
    oldest = await session.execute(
        select(
            col(Listing.id),
            col(Listing.case_id),
            col(Listing.platform),
            col(Listing.key),
            col(Listing.url),
            col(Listing.status),
            col(Listing.created_at),
            col(Case.channel_id),
            col(Case.thread_ts),
        )
        .join(Case, col(Case.id) == col(Listing.case_id))
        .where(open_now, col(Case.private_channel).is_(None))  # a private case's stays in it
        .order_by(col(Listing.created_at), col(Listing.id))
        .limit(OLDEST_OPEN)
    )
    found = [_old_listing(row) for row in oldest.all()]
    if not found:
        return ()
    awaiting = await session.execute(
        select(col(Listing.id))
        .join(Notice, col(Notice.id) == col(Listing.notice_id))
        .where(col(Listing.id).in_([item.listing_id for item in found]), awaiting_you_at(now))
    )
    you = set(awaiting.scalars())
    return tuple(replace(item, awaiting_you=item.listing_id in you) for item in found)


async def _top_sellers(
    session: AsyncSession, *, in_period: Sequence[ColumnElement[bool]]
) -> tuple[SellerCount, ...]:
    seller = func.trim(col(Listing.seller))
    sellers = await session.execute(
        select(seller, func.count())
        .join(Case, col(Case.id) == col(Listing.case_id))
        # a private case's sellers stay in it, as its listings do
        .where(*in_period, col(Listing.seller).is_not(None), seller != "")
        .where(col(Case.private_channel).is_(None))
        .group_by(seller)
        .order_by(func.count().desc(), seller)
        .limit(TOP_SELLERS)
    )
    return tuple(SellerCount(name, int(count)) for name, count in sellers.all())


_COUNT_FIELDS = ("reported", "removed", "rejected", "needs_info", "open", "withdrawn", "relisted")


def _platform_figures(
    platform: str,
    counts: Sequence[int],
    times: tuple[float | None, float | None] | None,
    *,
    awaiting: int = 0,
) -> PlatformFigures:
    """A platform's figures from its counts (open ones counted whether awaiting a person or
    not: `awaiting` of them are, and `open` is the rest)."""
    reported, removed, rejected, needs_info, open_, withdrawn, relisted = counts
    median, p90 = times or (None, None)
    return PlatformFigures(
        platform=platform,
        reported=reported,
        removed=removed,
        rejected=rejected,
        needs_info=needs_info,
        open=open_ - awaiting,
        withdrawn=withdrawn,
        relisted=relisted,
        median_hours=median,
        p90_hours=p90,
        awaiting_you=awaiting,
    )


def _old_listing(row: Any) -> OldListing:
    listing_id, case_id, platform, key, url, status, created_at, channel_id, thread_ts = row
    return OldListing(
        listing_id=int(listing_id),
        case_id=int(case_id),
        platform=platform,
        key=key,
        url=url,
        status=status,
        created_at=created_at,
        channel_id=channel_id,
        thread_ts=thread_ts,
    )
