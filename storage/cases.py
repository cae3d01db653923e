"""Cases: opening one (the intake lock, its intake key), reading them, and what their messages show.

Module functions over the caller's session; none commits: the caller owns the transaction, so a
case, its listings, its first event and its first jobs land together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.case_details import BulkDetails, bulk_details, last_acts
from storage.listings import awaiting_you, shown_status
from storage.models import OPEN_STATUSES, Case, Event, Listing, Notice, utcnow
from storage.prepared import CASES, LISTINGS, NOTICES, built, by_ids, few

INTAKE_LOCK_SPACE = 0x7F  # advisory-lock namespace (first key) of the intake lock


async def hold_intake_lock(session: AsyncSession) -> None:
    """PostgreSQL: intakes one at a time, until this transaction ends.

    An intake reads which of its listings are open, then inserts them. Two at once could each
    find none open and then both insert: the database refuses the second (a unique index), or,
    when their listings overlap in different orders, finds each waiting for the other and fails
    one. Taken in turn, the second reads the first's listings and says which are taken. An intake
    is short (10,000 listings: well under a second), so replicas queueing here wait little. On
    SQLite `BEGIN IMMEDIATE` already makes writers take turns."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(INTAKE_LOCK_SPACE, 0)))


async def case_by_intake_key(session: AsyncSession, intake_key: str) -> Case | None:
    return (
        await session.execute(select(Case).where(col(Case.intake_key) == intake_key))
    ).scalar_one_or_none()


async def insert_case(session: AsyncSession, case: Case) -> Case:
    """Insert a case; the database allocates its number."""
    session.add(case)
    await session.flush()
    return case


async def get_case(session: AsyncSession, case_id: int) -> Case | None:
    return await session.get(Case, case_id)


async def case_of_notice(session: AsyncSession, notice_id: int) -> Case | None:
    """The case a notice belongs to, as the database says (not as a request claims)."""
    return (
        await session.execute(
            select(Case)
            .join(Notice, col(Notice.case_id) == col(Case.id))
            .where(col(Notice.id) == notice_id)
        )
    ).scalar_one_or_none()


async def private_channels(session: AsyncSession) -> list[str]:
    """Every private channel some case was filed from."""
    rows = await session.execute(
        select(col(Case.private_channel)).where(col(Case.private_channel).is_not(None)).distinct()
    )
    return [channel for channel in rows.scalars() if channel]


async def reports_since(
    session: AsyncSession, *, reporter_id: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many cases `reporter_id` filed at or after `since`, and when the first of them was."""
    count, first = (
        await session.execute(
            select(func.count(), func.min(col(Case.created_at))).where(
                col(Case.reporter_id) == reporter_id, col(Case.created_at) >= since
            )
        )
    ).one()
    if isinstance(first, datetime) and first.tzinfo is None:  # SQLite keeps no zone: UTC
        first = first.replace(tzinfo=UTC)
    return int(count), first


async def cases_by_id(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, Case]:
    ids = few(case_ids)
    rows = await session.execute(by_ids(Case), {"ids": ids})
    return {case.id: case for case in rows.scalars() if case.id is not None}


async def set_thread(
    session: AsyncSession, *, case_id: int, channel_id: str, thread_ts: str
) -> None:
    statement = built(
        "set_thread",
        lambda: (
            update(CASES)
            .where(CASES.c.id == bindparam("case_id"))
            .values(
                channel_id=bindparam("v_channel_id"),
                thread_ts=bindparam("v_thread_ts"),
                updated_at=bindparam("v_now"),
            )
        ),
    )
    await (await session.connection()).execute(
        statement,
        {
            "case_id": case_id,
            "v_channel_id": channel_id,
            "v_thread_ts": thread_ts,
            "v_now": utcnow(),
        },
    )


async def status_counts(session: AsyncSession, case_id: int) -> dict[tuple[str, str], int]:
    """(platform, shown status) → number of the case's listings, computed by the database (bulk
    cases). Shown statuses: `awaiting_you` for queued listings a person must file on a portal."""
    shown = shown_status(col(Listing.status), col(Notice.status))
    rows = await session.execute(
        select(col(Listing.platform), shown, func.count())
        .select_from(Listing)
        .outerjoin(Notice, col(Notice.id) == col(Listing.notice_id))
        .where(col(Listing.case_id) == case_id)
        .group_by(col(Listing.platform), shown)
    )
    return {(platform, status): count for platform, status, count in rows.all()}


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: int
    brand: str
    infringement: str
    reporter_id: str
    created_at: datetime
    channel_id: str | None
    thread_ts: str | None
    listings: int
    open_listings: int
    awaiting_you: int = 0  # open listings a person must file on a portal


async def list_cases(
    session: AsyncSession,
    *,
    open_only: bool = False,
    reporter_id: str | None = None,
    platform: str | None = None,
    private_channels: Sequence[str] | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[CaseRow], int]:
    """Cases newest first with their listing counts, and how many match in all (for paging).
    With `private_channels`, only cases filed outside private channels or in one of those."""
    open_count = func.sum(sql_case((col(Listing.status).in_(OPEN_STATUSES), 1), else_=0))
    awaiting = awaiting_you(col(Listing.status), col(Notice.status))
    awaiting_count = func.sum(sql_case((awaiting, 1), else_=0))
    query = (
        select(
            col(Case.id),
            col(Case.brand),
            col(Case.infringement),
            col(Case.reporter_id),
            col(Case.created_at),
            col(Case.channel_id),
            col(Case.thread_ts),
            func.count(col(Listing.id)),
            open_count,
            awaiting_count,
        )
        .join(Listing, col(Listing.case_id) == col(Case.id))
        .outerjoin(Notice, col(Notice.id) == col(Listing.notice_id))
        .group_by(col(Case.id))
    )
    if reporter_id is not None:
        query = query.where(col(Case.reporter_id) == reporter_id)
    if platform is not None:
        query = query.where(
            col(Case.id).in_(select(col(Listing.case_id)).where(col(Listing.platform) == platform))
        )
    if private_channels is not None:
        private = col(Case.private_channel)
        query = query.where(private.is_(None) | private.in_(list(private_channels)))
    if open_only:
        query = query.having(open_count > 0)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(col(Case.id).desc()).offset(offset).limit(limit))
    return [CaseRow(*row) for row in rows.all()], int(total)


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What a case's parent message shows: counts by (platform, shown status), and its listings
    with their notices' states when there are at most `preview` of them (else `bulk`: its notes
    and sellers); the latest event someone or something did to it."""

    counts: dict[tuple[str, str], int]
    listings: list[Listing]
    notices: dict[int, str] = field(default_factory=dict)  # the listings' notices: id → status
    last_act: Event | None = None
    bulk: BulkDetails = field(default_factory=BulkDetails)


async def case_summaries(
    session: AsyncSession, case_ids: Sequence[int], *, preview: int
) -> dict[int, CaseSummary]:
    """Summaries of many cases: one counting statement, one for the cases' last acts, and for the
    small cases one for their listings and one for their notices' states (bulk cases: two for
    their notes and sellers)."""
    ids = few(case_ids)
    counts = await _shown_counts(session, ids)
    small = [case_id for case_id, by in counts.items() if sum(by.values()) <= preview]
    listings, notices = await _listings_and_notices(session, small)
    acts = await last_acts(session, ids)
    bulk = await bulk_details(session, [case_id for case_id in ids if case_id not in small])
    return {
        case_id: CaseSummary(
            counts[case_id],
            listings.get(case_id, []),
            notices.get(case_id, {}),
            acts.get(case_id),
            bulk.get(case_id, BulkDetails()),
        )
        for case_id in ids
    }


async def _shown_counts(
    session: AsyncSession, ids: list[int]
) -> dict[int, dict[tuple[str, str], int]]:
    counts: dict[int, dict[tuple[str, str], int]] = {case_id: {} for case_id in ids}

    def build() -> Any:
        shown = shown_status(LISTINGS.c.status, NOTICES.c.status)
        return (
            select(LISTINGS.c.case_id, LISTINGS.c.platform, shown, func.count())
            .select_from(LISTINGS.outerjoin(NOTICES, NOTICES.c.id == LISTINGS.c.notice_id))
            .where(LISTINGS.c.case_id.in_(bindparam("ids", expanding=True)))
            .group_by(LISTINGS.c.case_id, LISTINGS.c.platform, shown)
        )

    rows = await (await session.connection()).execute(built("case_counts", build), {"ids": ids})
    for case_id, platform, status, count in rows:
        counts[case_id][(platform, status)] = count
    return counts


async def _listings_and_notices(
    session: AsyncSession, case_ids: list[int]
) -> tuple[dict[int, list[Listing]], dict[int, dict[int, str]]]:
    """Small cases' listings in position order, and the states of their notices (one
    statement)."""
    if not case_ids:
        return {}, {}
    statement = built(
        "case_listings_and_notices",
        lambda: (
            select(Listing, NOTICES.c.status)
            .outerjoin(NOTICES, NOTICES.c.id == LISTINGS.c.notice_id)
            .where(LISTINGS.c.case_id.in_(bindparam("ids", expanding=True)))
            .order_by(LISTINGS.c.case_id, LISTINGS.c.position, LISTINGS.c.id)
        ),
    )
    listings: dict[int, list[Listing]] = {case_id: [] for case_id in case_ids}
    notices: dict[int, dict[int, str]] = {case_id: {} for case_id in case_ids}
    for listing, notice_status in (await session.execute(statement, {"ids": case_ids})).all():
        listings[listing.case_id].append(listing)
        if listing.notice_id is not None and notice_status is not None:
            notices[listing.case_id][listing.notice_id] = notice_status
    return listings, notices
