"""What a case's parent message and `status` show beside its counts: who acted last, and for a
bulk case (whose listings are not loaded one by one) the latest platform notes and the sellers.

Module functions over the caller's session, each one statement for any number of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, Listing
from storage.prepared import EVENTS, LISTINGS, built

# Events that say where the thread is, how checking goes, or that a bundle of the case was made:
# no one acted on the case.
QUIET_KINDS = (
    "thread_started",
    "thread_moved",
    "checks_failing",
    "checks_resumed",
    "bundle_built",
)
NOTES_SHOWN = 10  # a bulk case's latest platform notes
SELLERS_SHOWN = 5  # a bulk case's most reported sellers


@dataclass(frozen=True, slots=True)
class BulkDetails:
    """A bulk case's listings with a note (the reason of their last status change), latest
    first, and how many have one; its most reported sellers with their listings, and how many
    sellers in all."""

    notes: list[Listing] = field(default_factory=list)
    noted: int = 0
    sellers: list[tuple[str, int]] = field(default_factory=list)
    seller_count: int = 0


async def last_acts(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, Event]:
    """Each case's latest event that someone or something did to it (not a quiet one)."""
    if not case_ids:
        return {}
    statement = built(
        "last_acts",
        lambda: select(Event).where(
            EVENTS.c.id.in_(
                select(func.max(EVENTS.c.id))
                .where(
                    EVENTS.c.case_id.in_(bindparam("ids", expanding=True)),
                    EVENTS.c.kind.not_in(QUIET_KINDS),
                )
                .group_by(EVENTS.c.case_id)
            )
        ),
    )
    rows = await session.execute(statement, {"ids": list(case_ids)})
    return {event.case_id: event for event in rows.scalars()}


async def bulk_details(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, BulkDetails]:
    """The notes and sellers of cases too large to list listing by listing."""
    if not case_ids:
        return {}
    notes = await _notes(session, case_ids)
    sellers = await _sellers(session, case_ids)
    return {
        case_id: BulkDetails(*notes.get(case_id, ([], 0)), *sellers.get(case_id, ([], 0)))
        for case_id in case_ids
    }


async def _notes(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, tuple[list[Listing], int]]:
    c = LISTINGS.c
    ranked = (
        select(
            c.id,
            func.row_number()
            .over(partition_by=c.case_id, order_by=(c.updated_at.desc(), c.id.desc()))
            .label("rank"),
            func.count().over(partition_by=c.case_id).label("noted"),
        )
        .where(
            c.case_id.in_(list(case_ids)),
            c.status_reason.is_not(None),
            func.length(func.trim(c.status_reason)) > 0,
        )
        .subquery()
    )
    rows = await session.execute(
        select(Listing, ranked.c.noted)
        .join(ranked, ranked.c.id == Listing.id)
        .where(ranked.c.rank <= NOTES_SHOWN)
        .order_by(ranked.c.rank)
    )
    found: dict[int, tuple[list[Listing], int]] = {}
    for listing, noted in rows.all():
        found.setdefault(listing.case_id, ([], int(noted)))[0].append(listing)
    return found


async def _sellers(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, tuple[list[tuple[str, int]], int]]:
    c = LISTINGS.c
    seller = func.trim(c.seller)
    grouped = (
        select(c.case_id, seller.label("seller"), func.count().label("listings"))
        .where(c.case_id.in_(list(case_ids)), c.seller.is_not(None), seller != "")
        .group_by(c.case_id, seller)
        .subquery()
    )
    g = grouped.c
    ranked = select(
        g.case_id,
        g.seller,
        g.listings,
        func.row_number()
        .over(partition_by=g.case_id, order_by=(g.listings.desc(), g.seller))
        .label("rank"),
        func.count().over(partition_by=g.case_id).label("sellers"),
    ).subquery()
    r = ranked.c
    rows = await session.execute(
        select(r.case_id, r.seller, r.listings, r.sellers)
        .where(r.rank <= SELLERS_SHOWN)
        .order_by(r.case_id, r.rank)
    )
    found: dict[int, tuple[list[tuple[str, int]], int]] = {}
    for case_id, name, listings, sellers in rows.all():
        found.setdefault(case_id, ([], int(sellers)))[0].append((name, int(listings)))
    return found
