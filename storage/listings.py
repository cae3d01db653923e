"""Listings: the open ones among some keys, a case's new ones, their status moves and SLA marks.

Module functions over the caller's session; none commits. A listing's status changes only through
`set_listings_status`, guarded by the statuses the caller allows (`bot.delivery.states` computes
them from the transition table).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, any_, bindparam, func, insert, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    AWAITING_STATUSES,
    AWAITING_YOU,
    CLOSED_STATUSES,
    LISTING_STATUSES,
    OPEN_STATUSES,
    Case,
    Listing,
    Notice,
    utcnow,
)
from storage.prepared import LISTINGS, built, chunks

# What a status move stamps besides the status. Reaching the platform starts the SLA clock
# (`submitted_at`, kept from the first time); a decision records its time, and a move back to
# an undecided status (a decision corrected back to in review, needs info answered) clears it.
# Relisting is not a decision: the removal's reason and time stay, for the figures that count it
# as a removal.
STARTS_SLA_CLOCK = ("submitted", "in_review")
DECIDED = (*(s for s in CLOSED_STATUSES if s != "relisted"), "needs_info")
KEEPS_REASON = ("relisted",)
UNDECIDED = tuple(s for s in LISTING_STATUSES if s not in (*DECIDED, *KEEPS_REASON))


@dataclass(frozen=True, slots=True)
class NewListing:
    platform: str
    key: str
    url: str
    submitted_url: str
    seller: str | None = None


@dataclass(frozen=True, slots=True)
class OpenListing:
    """A listing key that is already being handled in an open case."""

    key: str
    case_id: int
    channel_id: str | None
    thread_ts: str | None
    status: str


def _key_among(session: AsyncSession, keys: Sequence[str]) -> Iterable[ColumnElement[bool]]:
    """`Listing.key` among `keys`, as few conditions as the database takes: on PostgreSQL one array
    parameter (`= ANY($1)`), whose plan uses the key index even before statistics catch up with a
    bulk insert (900-item IN lists were planned as a filter over every open listing: seconds for
    10,000 keys); on SQLite IN lists below its bound-parameter limit."""
    unique = list(dict.fromkeys(keys))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        if unique:
            yield col(Listing.key) == any_(bindparam("keys", unique, type_=ARRAY(String)))
        return
    for chunk in chunks(unique):
        yield col(Listing.key).in_(chunk)


async def find_open_listings(session: AsyncSession, keys: Sequence[str]) -> dict[str, OpenListing]:
    """The open listings among `keys`, with the case that holds each."""
    found: dict[str, OpenListing] = {}
    for among in _key_among(session, keys):
        rows = await session.execute(
            select(
                col(Listing.key),
                col(Listing.case_id),
                col(Case.channel_id),
                col(Case.thread_ts),
                col(Listing.status),
            )
            .join(Case, col(Case.id) == col(Listing.case_id))
            .where(among, col(Listing.status).in_(OPEN_STATUSES))
        )
        for key, case_id, channel_id, thread_ts, status in rows:
            found[key] = OpenListing(key, case_id, channel_id, thread_ts, status)
    return found


async def find_removed_listings(session: AsyncSession, keys: Sequence[str]) -> dict[str, int]:
    """Listing key → id of its latest `removed` listing, for keys reported again (relisted)."""
    found: dict[str, int] = {}
    for among in _key_among(session, keys):
        rows = await session.execute(
            select(col(Listing.key), func.max(col(Listing.id)))
            .where(among, col(Listing.status) == "removed")
            .group_by(col(Listing.key))
        )
        found.update({key: listing_id for key, listing_id in rows if listing_id is not None})
    return found


async def insert_listings(
    session: AsyncSession,
    *,
    case_id: int,
    listings: Sequence[NewListing],
    relisted: dict[str, int],
    notice_ids: Sequence[int | None],
) -> None:
    """Insert a case's listings, `queued`, in one batched statement, each with its notice
    (`notice_ids`, by position) and the removed listing it reports again (`relisted`: key → id;
    moving that one to `relisted` is the caller's status change)."""
    now = utcnow()
    rows = [
        {
            "case_id": case_id,
            "position": position,
            "platform": item.platform,
            "key": item.key,
            "url": item.url,
            "submitted_url": item.submitted_url,
            "seller": item.seller,
            "status": "queued",
            "relisted_from": relisted.get(item.key),
            "notice_id": notice_ids[position],
            "created_at": now,
            "updated_at": now,
        }
        for position, item in enumerate(listings)
    ]
    if rows:
        # Core, not the ORM's bulk insert, which costs several times more per row (bulk cases).
        await session.execute(insert(LISTINGS), rows)


async def set_listings_status(
    session: AsyncSession,
    *,
    listing_ids: Sequence[int],
    status: str,
    sources: Collection[str],
    reason: str | None = None,
    reference: str | None = None,
    when: datetime | None = None,
    keep_decided_at: bool = False,
) -> set[int]:
    """Move the listings still in one of `sources` to `status`, stamping submission and decision
    times (see DECIDED; `keep_decided_at`: a decision corrected into another keeps its time);
    returns the ids moved. Others are left alone: another writer moved them since the caller read
    them. One statement per 900 listings."""
    if not sources:
        return set()
    decided = "keep"
    if status in DECIDED and not keep_decided_at:
        decided = "stamp"
    elif status in UNDECIDED:
        decided = "clear"
    stamps = (
        reference is not None,
        status in STARTS_SLA_CLOCK,
        decided,
        status not in KEEPS_REASON,
    )
    statement = built(("set_listings_status", stamps), lambda: _move_listings(*stamps))
    params = {
        "v_status": status,
        "v_reason": reason,
        "v_reference": reference,
        "v_when": when or utcnow(),
        "sources": sorted(sources),
    }
    moved: set[int] = set()
    connection = await session.connection()
    for chunk in chunks(listing_ids):
        rows = await connection.execute(statement, {**params, "ids": list(chunk)})
        moved.update(row[0] for row in rows)
    return moved


def _move_listings(referenced: bool, submitted: bool, decided: str, reasoned: bool) -> Any:
    c = LISTINGS.c
    when = bindparam("v_when", type_=c.updated_at.type)
    values: dict[str, Any] = {"status": bindparam("v_status"), "updated_at": when}
    if reasoned:
        values["status_reason"] = bindparam("v_reason")
    if referenced:
        values["reference"] = bindparam("v_reference")
    if submitted:
        values["submitted_at"] = func.coalesce(c.submitted_at, when)
    if decided == "stamp":
        values["decided_at"] = when
    elif decided == "clear":
        values["decided_at"] = None
    return (
        update(LISTINGS)
        .where(
            c.id.in_(bindparam("ids", expanding=True)),
            c.status.in_(bindparam("sources", expanding=True)),
        )
        .values(values)
        .returning(c.id)
    )


def _awaiting_platform() -> ColumnElement[bool]:
    return col(Listing.status).in_(AWAITING_STATUSES)


async def listings_past(
    session: AsyncSession,
    *,
    platforms: Sequence[str],
    older_than: datetime,
    unmarked: str,
    limit: int = 5000,
) -> list[tuple[Listing, Case]]:
    """Listings of `platforms` awaiting the platform whose SLA clock (submission, else report)
    started before `older_than` and whose `unmarked` column (sla_reminded_at / sla_escalated_at)
    is still empty."""
    column = getattr(Listing, unmarked)
    started = func.coalesce(col(Listing.submitted_at), col(Listing.created_at))
    rows = await session.execute(
        select(Listing, Case)
        .join(Case, col(Case.id) == col(Listing.case_id))
        .where(
            col(Listing.platform).in_(platforms),
            _awaiting_platform(),
            started < older_than,
            column.is_(None),
        )
        .order_by(col(Listing.case_id), col(Listing.position), col(Listing.id))
        .limit(limit)
    )
    return [(listing, case) for listing, case in rows.all()]


async def mark_listings(
    session: AsyncSession, *, listing_ids: Sequence[int], column: str, when: datetime
) -> set[int]:
    """Set `column` (sla_reminded_at / sla_escalated_at) of the listings still awaiting the
    platform; returns their ids (a listing decided since it was read is not reminded about)."""
    c = LISTINGS.c
    marked: set[int] = set()
    for chunk in chunks(listing_ids):
        rows = await session.execute(
            update(LISTINGS)
            .where(c.id.in_(chunk), c.status.in_(AWAITING_STATUSES))
            .values({column: when})
            .returning(c.id)
        )
        marked.update(rows.scalars())
    return marked


async def listings_of(
    session: AsyncSession, column: str, ids: list[int]
) -> dict[int, list[Listing]]:
    """The listings whose `column` (notice_id, case_id) is among `ids`, grouped by it, each group
    in position order (one statement, built once per column)."""
    statement = built(
        ("listings_of", column),
        lambda: (
            select(Listing)
            .where(getattr(Listing, column).in_(bindparam("ids", expanding=True)))
            .order_by(getattr(Listing, column), col(Listing.position), col(Listing.id))
        ),
    )
    grouped: dict[int, list[Listing]] = {key: [] for key in ids}
    for listing in (await session.execute(statement, {"ids": ids})).scalars():
        grouped[getattr(listing, column)].append(listing)
    return grouped


def awaiting_you(listing_status: Any, notice_status: Any) -> ColumnElement[bool]:
    """A queued listing whose notice waits for a person to file it on a portal."""
    return and_(listing_status == "queued", notice_status == "awaiting_person")


def shown_status(listing_status: Any, notice_status: Any) -> ColumnElement[str]:
    """A listing's status as people see it (`bot.core.states.shown_status`): `awaiting_you`
    while its notice waits for a person, else the stored status. The statement must join the
    listing's notice (an outer join: a listing may have none)."""
    return sql_case(
        (awaiting_you(listing_status, notice_status), AWAITING_YOU), else_=listing_status
    )


async def open_listing_counts(session: AsyncSession) -> dict[str, int]:
    """Open listings by shown status (queued, awaiting you, submitted, …), across all cases."""
    shown = shown_status(col(Listing.status), col(Notice.status))
    rows = await session.execute(
        select(shown, func.count())
        .select_from(Listing)
        .outerjoin(Notice, col(Notice.id) == col(Listing.notice_id))
        .where(col(Listing.status).in_(OPEN_STATUSES))
        .group_by(shown)
    )
    return {status: count for status, count in rows.all()}
