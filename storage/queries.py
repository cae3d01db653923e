"""Queries over cases, listings, notices and events. Module functions over a session.

Functions that write take the caller's session and never commit: the caller owns the transaction,
so a case, its listings, its first event and its first jobs land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, insert, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import CLOSED_STATUSES, OPEN_STATUSES, Case, Listing, Notice, utcnow
from storage.prepared import CASES, EVENTS, LISTINGS, NOTICES, built

# SQLite allows 32,766 bound parameters per statement; stay well below on every database.
_IN_CHUNK = 900


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


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


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
    for chunk in _chunks(unique):
        yield Listing.key.in_(chunk)


async def find_open_listings(session: AsyncSession, keys: Sequence[str]) -> dict[str, OpenListing]:
    """The open listings among `keys`, with the case that holds each."""
    found: dict[str, OpenListing] = {}
    for among in _key_among(session, keys):
        rows = await session.execute(
            select(Listing.key, Listing.case_id, Case.channel_id, Case.thread_ts, Listing.status)
            .join(Case, Case.id == Listing.case_id)
            .where(among, Listing.status.in_(OPEN_STATUSES))
        )
        for key, case_id, channel_id, thread_ts, status in rows:
            found[key] = OpenListing(key, case_id, channel_id, thread_ts, status)
    return found


async def find_removed_listings(session: AsyncSession, keys: Sequence[str]) -> dict[str, int]:
    """Listing key → id of its latest `removed` listing, for keys reported again (relisted)."""
    found: dict[str, int] = {}
    for among in _key_among(session, keys):
        rows = await session.execute(
            select(Listing.key, func.max(Listing.id))
            .where(among, Listing.status == "removed")
            .group_by(Listing.key)
        )
        found.update({key: listing_id for key, listing_id in rows})
    return found


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
        await session.execute(select(Case).where(Case.intake_key == intake_key))
    ).scalar_one_or_none()


async def insert_case(session: AsyncSession, case: Case) -> Case:
    """Insert a case; the database allocates its number."""
    session.add(case)
    await session.flush()
    return case


async def insert_listings(
    session: AsyncSession,
    *,
    case_id: int,
    listings: Sequence[NewListing],
    relisted: dict[str, int],
    notice_ids: Sequence[int | None],
) -> None:
    """Insert a case's listings in one batched statement, each with its notice (`notice_ids`, by
    position); mark the removed ones they re-report."""
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
        await session.execute(insert(Listing.__table__), rows)  # type: ignore[arg-type]
    old_ids = list(relisted.values())
    for start in range(0, len(old_ids), _IN_CHUNK):
        await session.execute(
            update(Listing)
            .where(Listing.id.in_(old_ids[start : start + _IN_CHUNK]))
            .values(status="relisted", updated_at=now)
        )


async def add_event(
    session: AsyncSession,
    *,
    case_id: int,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    listing_id: int | None = None,
    notice_id: int | None = None,
) -> None:
    await add_events(
        session,
        [
            {
                "case_id": case_id,
                "listing_id": listing_id,
                "notice_id": notice_id,
                "actor": actor,
                "kind": kind,
                "detail": detail or {},
            }
        ],
    )


async def get_case(session: AsyncSession, case_id: int) -> Case | None:
    return await session.get(Case, case_id)


async def status_counts(session: AsyncSession, case_id: int) -> dict[tuple[str, str], int]:
    """(platform, status) → number of listings, computed by the database (bulk cases)."""
    rows = await session.execute(
        select(Listing.platform, Listing.status, func.count())
        .where(Listing.case_id == case_id)
        .group_by(Listing.platform, Listing.status)
    )
    return {(platform, status): count for platform, status, count in rows}


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


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    platform: str
    channel: str
    adapter: str
    batch: int
    idempotency_key: str


async def insert_notices(
    session: AsyncSession, *, case_id: int, planned: Sequence[PlannedNotice]
) -> list[int]:
    """Insert a case's notices in one statement; returns their ids in `planned` order."""
    if not planned:
        return []
    now = utcnow()
    inserted = await (await session.connection()).execute(
        insert(NOTICES).returning(NOTICES.c.id, sort_by_parameter_order=True),
        [
            {
                "case_id": case_id,
                "platform": notice.platform,
                "channel": notice.channel,
                "adapter": notice.adapter,
                "batch": notice.batch,
                "status": "pending",
                "idempotency_key": notice.idempotency_key,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for notice in planned
        ],
    )
    return list(inserted.scalars())


async def update_notice(session: AsyncSession, notice_id: int, **values: Any) -> None:
    names = tuple(sorted(values))
    statement = built(
        ("update_notice", names),
        lambda: (
            update(NOTICES)
            .where(NOTICES.c.id == bindparam("notice_id"))
            .values(
                updated_at=bindparam("v_updated_at"),
                **{name: bindparam(f"v_{name}") for name in names},
            )
        ),
    )
    params = {f"v_{name}": value for name, value in values.items()}
    await (await session.connection()).execute(
        statement, {"notice_id": notice_id, "v_updated_at": utcnow(), **params}
    )


async def listings_past(
    session: AsyncSession,
    *,
    platforms: Sequence[str],
    older_than: datetime,
    unmarked: str,
    limit: int = 5000,
) -> list[tuple[Listing, Case]]:
    """Open listings of `platforms` whose SLA clock (submission, else report) started before
    `older_than` and whose `unmarked` column (sla_reminded_at / sla_escalated_at) is still empty."""
    column = getattr(Listing, unmarked)
    started = func.coalesce(Listing.submitted_at, Listing.created_at)
    rows = await session.execute(
        select(Listing, Case)
        .join(Case, Case.id == Listing.case_id)
        .where(
            Listing.platform.in_(platforms),
            Listing.status.in_(OPEN_STATUSES),
            Listing.status != "failed",
            started < older_than,
            column.is_(None),
        )
        .order_by(Listing.case_id, Listing.position, Listing.id)
        .limit(limit)
    )
    return [(listing, case) for listing, case in rows.all()]


async def mark_listings(
    session: AsyncSession, *, listing_ids: Sequence[int], column: str, when: datetime
) -> None:
    for start in range(0, len(listing_ids), _IN_CHUNK):
        await session.execute(
            update(Listing)
            .where(Listing.id.in_(listing_ids[start : start + _IN_CHUNK]))
            .values(**{column: when})
        )


async def notices_awaiting_person(
    session: AsyncSession, *, older_than: datetime, limit: int = 1000
) -> list[Notice]:
    """Portal notices nobody confirmed since `older_than`, not reminded yet."""
    rows = await session.execute(
        select(Notice)
        .where(
            Notice.status == "awaiting_person",
            Notice.updated_at < older_than,
            Notice.reminded_at.is_(None),
        )
        .order_by(Notice.id)
        .limit(limit)
    )
    return list(rows.scalars())


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


async def list_cases(
    session: AsyncSession,
    *,
    open_only: bool = False,
    reporter_id: str | None = None,
    platform: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[CaseRow], int]:
    """Cases newest first with their listing counts, and how many match in all (for paging)."""
    open_count = func.sum(sql_case((Listing.status.in_(OPEN_STATUSES), 1), else_=0))
    query = (
        select(
            Case.id,
            Case.brand,
            Case.infringement,
            Case.reporter_id,
            Case.created_at,
            Case.channel_id,
            Case.thread_ts,
            func.count(Listing.id),
            open_count,
        )
        .join(Listing, Listing.case_id == Case.id)
        .group_by(Case.id)
    )
    if reporter_id is not None:
        query = query.where(Case.reporter_id == reporter_id)
    if platform is not None:
        query = query.where(
            Case.id.in_(select(Listing.case_id).where(Listing.platform == platform))
        )
    if open_only:
        query = query.having(open_count > 0)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(Case.id.desc()).offset(offset).limit(limit))
    return [CaseRow(*row) for row in rows.all()], int(total)


async def open_listing_counts(session: AsyncSession) -> dict[str, int]:
    """Open listings by status, across all cases."""
    rows = await session.execute(
        select(Listing.status, func.count())
        .where(Listing.status.in_(OPEN_STATUSES))
        .group_by(Listing.status)
    )
    return {status: count for status, count in rows.all()}


async def set_listings_status(
    session: AsyncSession,
    *,
    listing_ids: Sequence[int],
    status: str,
    from_status: str | None = None,
    reason: str | None = None,
    reference: str | None = None,
    when: datetime | None = None,
) -> set[int]:
    """Move listings to `status` (only those still in `from_status`, when given), stamping
    submission and decision times; returns the ids moved (one statement per 900)."""
    stamps = (
        reference is not None,
        status in ("submitted", "in_review"),
        status in CLOSED_STATUSES or status == "needs_info",
    )
    statement = built(
        ("set_listings_status", from_status is not None, stamps),
        lambda: _move_listings(conditional=from_status is not None, stamps=stamps),
    )
    params = {
        "v_status": status,
        "v_reason": reason,
        "v_reference": reference,
        "v_when": when or utcnow(),
        "from_status": from_status,
    }
    moved: set[int] = set()
    connection = await session.connection()
    for start in range(0, len(listing_ids), _IN_CHUNK):
        chunk = list(listing_ids[start : start + _IN_CHUNK])
        rows = await connection.execute(statement, {**params, "ids": chunk})
        moved.update(row[0] for row in rows)
    return moved


def _move_listings(*, conditional: bool, stamps: tuple[bool, bool, bool]) -> Any:
    c = LISTINGS.c
    referenced, submitted, decided = stamps
    when = bindparam("v_when", type_=c.updated_at.type)
    values: dict[str, Any] = {
        "status": bindparam("v_status"),
        "status_reason": bindparam("v_reason"),
        "updated_at": when,
    }
    if referenced:
        values["reference"] = bindparam("v_reference")
    if submitted:
        values["submitted_at"] = func.coalesce(c.submitted_at, when)
    if decided:
        values["decided_at"] = when
    statement = update(LISTINGS).where(c.id.in_(bindparam("ids", expanding=True)))
    if conditional:
        statement = statement.where(c.status == bindparam("from_status"))
    return statement.values(values).returning(c.id)


async def add_events(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Insert many audit events in one batched statement (keys as in `add_event`)."""
    if events:
        now = utcnow()
        await (await session.connection()).execute(
            built("add_events", lambda: insert(EVENTS)),
            [
                {"created_at": now, "detail": {}, "listing_id": None, "notice_id": None, **event}
                for event in events
            ],
        )


# -- batched reads and writes for the worker's hot path (many jobs, one statement) ---------------


def _by_ids(model: type[Any]) -> Any:
    """SELECT model WHERE id IN :ids (built once per model)."""
    return built(
        ("by_ids", model.__name__),
        lambda: select(model).where(model.id.in_(bindparam("ids", expanding=True))),
    )


async def _listings_of(
    session: AsyncSession, column: str, ids: list[int]
) -> dict[int, list[Listing]]:
    """The listings whose `column` (notice_id, case_id) is among `ids`, grouped by it, each group
    in position order (one statement, built once per column)."""
    statement = built(
        ("listings_of", column),
        lambda: (
            select(Listing)
            .where(getattr(Listing, column).in_(bindparam("ids", expanding=True)))
            .order_by(getattr(Listing, column), Listing.position, Listing.id)
        ),
    )
    grouped: dict[int, list[Listing]] = {key: [] for key in ids}
    for listing in (await session.execute(statement, {"ids": ids})).scalars():
        grouped[getattr(listing, column)].append(listing)
    return grouped


def _few(ids: Sequence[int]) -> list[int]:
    """Distinct ids for one IN list (callers batch at most a few hundred)."""
    unique = list(dict.fromkeys(ids))
    if len(unique) > _IN_CHUNK:
        raise ValueError(f"at most {_IN_CHUNK} ids per batch, got {len(unique)}")
    return unique


@dataclass(frozen=True, slots=True)
class NoticeBundle:
    """A notice with its case and its listings (in position order)."""

    notice: Notice
    case: Case
    listings: list[Listing]


async def notice_bundles(
    session: AsyncSession, notice_ids: Sequence[int]
) -> dict[int, NoticeBundle]:
    """Notices by id with their cases and listings: three statements for any number of notices."""
    ids = _few(notice_ids)
    notices = list((await session.execute(_by_ids(Notice), {"ids": ids})).scalars())
    if not notices:
        return {}
    case_ids = list({notice.case_id for notice in notices})
    cases = {
        case.id: case
        for case in (await session.execute(_by_ids(Case), {"ids": case_ids})).scalars()
    }
    listings = await _listings_of(session, "notice_id", ids)
    return {
        notice.id: NoticeBundle(notice, cases[notice.case_id], listings[notice.id])
        for notice in notices
        if notice.id is not None and notice.case_id in cases
    }


async def mark_sending(session: AsyncSession, notice_ids: Sequence[int]) -> None:
    """Notices about to be handed to their channel: `sending`, one more attempt counted."""
    statement = built(
        "mark_sending",
        lambda: (
            update(NOTICES)
            .where(NOTICES.c.id.in_(bindparam("ids", expanding=True)))
            .values(
                status="sending",
                attempts=NOTICES.c.attempts + 1,
                updated_at=bindparam("v_now", type_=NOTICES.c.updated_at.type),
            )
        ),
    )
    await (await session.connection()).execute(
        statement, {"ids": _few(notice_ids), "v_now": utcnow()}
    )


async def cases_by_id(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, Case]:
    ids = _few(case_ids)
    rows = await session.execute(_by_ids(Case), {"ids": ids})
    return {case.id: case for case in rows.scalars() if case.id is not None}


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What a case's parent message shows: counts by (platform, status), and its listings when
    there are at most `preview` of them."""

    counts: dict[tuple[str, str], int]
    listings: list[Listing]


async def case_summaries(
    session: AsyncSession, case_ids: Sequence[int], *, preview: int
) -> dict[int, CaseSummary]:
    """Summaries of many cases: one counting statement, and one for the small cases' listings."""
    ids = _few(case_ids)
    counts: dict[int, dict[tuple[str, str], int]] = {case_id: {} for case_id in ids}
    counting = built(
        "case_counts",
        lambda: (
            select(LISTINGS.c.case_id, LISTINGS.c.platform, LISTINGS.c.status, func.count())
            .where(LISTINGS.c.case_id.in_(bindparam("ids", expanding=True)))
            .group_by(LISTINGS.c.case_id, LISTINGS.c.platform, LISTINGS.c.status)
        ),
    )
    rows = await (await session.connection()).execute(counting, {"ids": ids})
    for case_id, platform, status, count in rows:
        counts[case_id][(platform, status)] = count
    small = [case_id for case_id, by in counts.items() if sum(by.values()) <= preview]
    listings = await _listings_of(session, "case_id", small) if small else {}
    return {case_id: CaseSummary(counts[case_id], listings.get(case_id, [])) for case_id in ids}
