"""The platform scorecard: each platform's record, all time or since a date.

Definitions in `storage.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from storage.models import Event, Listing, Notice
from storage.stats.outcomes import (
    DEFAULT_SLA_DAYS,
    NEEDS_INFO,
    REJECTED,
    REMOVED,
    by_platform,
    outcome_in,
    past_sla,
    removal_times,
)
from storage.stats.sql import count_if, epoch_seconds, json_text, no_jit, timestamp


@dataclass(frozen=True, slots=True)
class PlatformScore:
    """One platform's record, all time or since a date (listings by report date, notices by
    send date)."""

    platform: str
    notices_sent: int
    reported: int
    removed: int
    rejected: int
    median_hours: float | None
    p90_hours: float | None
    sla_breaches: int  # decided later than the SLA, or still open past it
    needed_info: int  # listings the platform ever asked for more information about

    @property
    def decided(self) -> int:
        return self.removed + self.rejected

    @property
    def takedown_rate(self) -> float | None:
        return self.removed / self.decided if self.decided else None

    @property
    def needs_info_share(self) -> float | None:
        return self.needed_info / self.reported if self.reported else None


async def scorecard(
    session: AsyncSession,
    *,
    since: datetime | None,
    now: datetime,
    sla: Mapping[str, int],
    default_sla: int = DEFAULT_SLA_DAYS,
) -> list[PlatformScore]:
    """Each platform's record for listings reported in [since, now) (all time when `since` is
    None), most listings first.

    SLA breaches: listings removed or rejected more than SLA days after their clock started
    (submission, else report), plus those still awaiting the platform past their SLA at `now`.
    Needed info: listings with a `status_changed` event to `needs_info` that no correction undid,
    or in that state now.
    """
    await no_jit(session)
    where = [col(Listing.created_at) < timestamp(now)]
    if since is not None:
        where.append(col(Listing.created_at) >= timestamp(since))
    listings = await _listing_counts(
        session, where=where, now=now, sla=sla, default_sla=default_sla
    )
    times = await removal_times(session, where=where, now=now, overall=False)
    notices = await _notices_sent(session, since=since)
    scores = []
    for platform in set(listings) | set(notices):
        reported, removed, rejected, breaches, needed_info = listings.get(platform, (0,) * 5)
        median, p90 = times.get(platform, (None, None))
        scores.append(
            PlatformScore(
                platform=platform,
                notices_sent=notices.get(platform, 0),
                reported=reported,
                removed=removed,
                rejected=rejected,
                median_hours=median,
                p90_hours=p90,
                sla_breaches=breaches,
                needed_info=needed_info,
            )
        )
    return sorted(scores, key=lambda item: (-item.reported, -item.notices_sent, item.platform))


async def _listing_counts(
    session: AsyncSession,
    *,
    where: Sequence[ColumnElement[bool]],
    now: datetime,
    sla: Mapping[str, int],
    default_sla: int,
) -> dict[str, tuple[int, ...]]:
    """Platform → (reported, removed, rejected, SLA breaches, needed info)."""
    clock = func.coalesce(col(Listing.submitted_at), col(Listing.created_at))
    limit_seconds = by_platform(sla, default_sla, lambda days: days * 86400)
    decided_late = and_(
        outcome_in(now, REMOVED, REJECTED),
        epoch_seconds(col(Listing.decided_at)) - epoch_seconds(clock) > limit_seconds,
    )
    # `IN (subquery)` rather than a correlated EXISTS: both databases evaluate it once (a hashed
    # subplan, an ephemeral index) instead of once per listing. The LIKE on the stored JSON text
    # is a cheap pre-filter (no JSON parsing for the many other events); the JSON test decides.
    # A needs-info decision corrected away (recorded by mistake) was never asked: its correction
    # names it (`corrects`). Looked up per needs-info event, by listing (an indexed column).
    correction = aliased(Event)
    corrected = (
        select(literal(1))
        .where(
            col(correction.listing_id) == col(Event.listing_id),
            col(correction.kind) == "decision_corrected",
            json_text(correction.detail, "corrects") == cast(col(Event.id), String),
            col(correction.created_at) < timestamp(now),
        )
        .exists()
    )
    asked = select(col(Event.listing_id)).where(
        col(Event.kind) == "status_changed",
        cast(col(Event.detail), Text).like("%needs_info%"),
        json_text(Event.detail, "to") == "needs_info",
        col(Event.created_at) < timestamp(now),
        ~corrected,
    )
    asked_for_info = or_(outcome_in(now, NEEDS_INFO), col(Listing.id).in_(asked))
    rows = await session.execute(
        select(
            col(Listing.platform),
            func.count(),
            count_if(outcome_in(now, REMOVED)),
            count_if(outcome_in(now, REJECTED)),
            count_if(or_(decided_late, past_sla(now, sla, default_sla))),
            count_if(asked_for_info),
        )
        .where(*where)
        .group_by(col(Listing.platform))
    )
    return {platform: tuple(map(int, numbers)) for platform, *numbers in rows.all()}


async def _notices_sent(session: AsyncSession, *, since: datetime | None) -> dict[str, int]:
    """Platform → notices sent (since `since`)."""
    sent_where = [col(Notice.status) == "sent"]
    if since is not None:
        sent_where.append(col(Notice.sent_at) >= timestamp(since))
    rows = await session.execute(
        select(col(Notice.platform), func.count()).where(*sent_where).group_by(col(Notice.platform))
    )
    return {platform: int(count) for platform, count in rows.all()}
