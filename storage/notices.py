"""Notices: a case's planned submissions, their status moves, and the worker's batched reads.

Module functions over the caller's session; none commits. A notice's status changes only through
`set_notices_status`, guarded by the states the caller allows (`bot.delivery.states` computes them
from the transition table).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.listings import listings_of
from storage.models import Case, Listing, Notice, utcnow
from storage.prepared import NOTICES, built, by_ids, few


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED  # a column a status move leaves as it is
Kept = Literal[_Unchanged.UNCHANGED]


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
    """Insert a case's notices, `pending`, in one statement; returns their ids in `planned` order."""
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


async def set_notices_status(
    session: AsyncSession,
    notice_ids: Sequence[int],
    *,
    status: str,
    sources: Collection[str],
    last_error: str | Kept | None = UNCHANGED,
    reference: str | Kept | None = UNCHANGED,
    sent_at: datetime | Kept | None = UNCHANGED,
    count_attempt: bool = False,
) -> set[int]:
    """Move the notices still in one of `sources` to `status`, with the columns given (and one
    more attempt counted, with `count_attempt`); returns the ids moved. The others are left alone:
    another writer moved them since the caller read them."""
    ids = few(notice_ids)
    if not ids or not sources:
        return set()
    values = {
        name: value
        for name, value in (
            ("last_error", last_error),
            ("reference", reference),
            ("sent_at", sent_at),
        )
        if value is not UNCHANGED
    }
    names = tuple(sorted(values))
    statement = built(
        ("set_notices_status", names, count_attempt),
        lambda: _move_notices(names, count_attempt=count_attempt),
    )
    rows = await (await session.connection()).execute(
        statement,
        {
            "ids": ids,
            "sources": sorted(sources),
            "v_status": status,
            "v_updated_at": utcnow(),
            **{f"v_{name}": value for name, value in values.items()},
        },
    )
    return {row[0] for row in rows}


def _move_notices(names: tuple[str, ...], *, count_attempt: bool) -> Any:
    c = NOTICES.c
    values: dict[str, Any] = {
        "status": bindparam("v_status"),
        "updated_at": bindparam("v_updated_at", type_=c.updated_at.type),
        **{name: bindparam(f"v_{name}", type_=c[name].type) for name in names},
    }
    if count_attempt:
        values["attempts"] = c.attempts + 1
    return (
        update(NOTICES)
        .where(
            c.id.in_(bindparam("ids", expanding=True)),
            c.status.in_(bindparam("sources", expanding=True)),
        )
        .values(values)
        .returning(c.id)
    )


async def lock_notice(session: AsyncSession, notice_id: int) -> str | None:
    """Lock the notice's row until the caller's transaction ends; its status, None if there is no
    such notice.

    A person's action on a notice takes this lock before it reads anything, and every status move
    (a guarded UPDATE) takes it too, so two presses on one notice, or a press and a job recording
    the notice's outcome, run one after the other: the second reads what the first wrote. On
    PostgreSQL this is `SELECT … FOR UPDATE`; SQLite runs one write transaction at a time anyway
    (each begins IMMEDIATE), so there the statement is a plain read."""
    statement = built(
        "lock_notice",
        lambda: (
            select(NOTICES.c.status).where(NOTICES.c.id == bindparam("notice_id")).with_for_update()
        ),
    )
    row = (await (await session.connection()).execute(statement, {"notice_id": notice_id})).first()
    return None if row is None else str(row[0])


async def note_notice_error(session: AsyncSession, notice_id: int, error: str | None) -> None:
    """Keep the channel's latest error on the notice, its status unchanged (a failed poll)."""
    statement = built(
        "note_notice_error",
        lambda: (
            update(NOTICES)
            .where(NOTICES.c.id == bindparam("notice_id"))
            .values(
                last_error=bindparam("v_last_error"),
                updated_at=bindparam("v_updated_at", type_=NOTICES.c.updated_at.type),
            )
        ),
    )
    await (await session.connection()).execute(
        statement, {"notice_id": notice_id, "v_last_error": error, "v_updated_at": utcnow()}
    )


async def notices_awaiting_person(
    session: AsyncSession, *, older_than: datetime, limit: int = 1000
) -> list[Notice]:
    """Portal notices nobody confirmed since `older_than`, not reminded yet."""
    rows = await session.execute(
        select(Notice)
        .where(
            col(Notice.status) == "awaiting_person",
            col(Notice.updated_at) < older_than,
            col(Notice.reminded_at).is_(None),
        )
        .order_by(col(Notice.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def mark_notice_reminded(session: AsyncSession, notice_id: int, *, when: datetime) -> bool:
    """Note the reminder about a portal notice, if it is still awaiting its person (one filed or
    withdrawn since it was read is not reminded about)."""
    rows = await session.execute(
        update(NOTICES)
        .where(NOTICES.c.id == notice_id, NOTICES.c.status == "awaiting_person")
        .values(reminded_at=when, updated_at=utcnow())
        .returning(NOTICES.c.id)
    )
    return rows.first() is not None


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
    ids = few(notice_ids)
    notices = list((await session.execute(by_ids(Notice), {"ids": ids})).scalars())
    if not notices:
        return {}
    case_ids = list({notice.case_id for notice in notices})
    cases = {
        case.id: case for case in (await session.execute(by_ids(Case), {"ids": case_ids})).scalars()
    }
    listings = await listings_of(session, "notice_id", ids)
    return {
        notice.id: NoticeBundle(notice, cases[notice.case_id], listings[notice.id])
        for notice in notices
        if notice.id is not None and notice.case_id in cases
    }


async def note_check_trouble(session: AsyncSession, notice_id: int, error: str | None) -> bool:
    """A sent notice's checks started failing (`error`) or work again (None): kept on the notice.
    True only for the write that changed which of the two it is, so it is said once however many
    polls race."""
    c = NOTICES.c
    statement = built(
        ("note_check_trouble", error is None),
        lambda: (
            update(NOTICES)
            .where(
                c.id == bindparam("notice_id"),
                c.status == "sent",
                c.last_error.is_not(None) if error is None else c.last_error.is_(None),
            )
            .values(
                last_error=bindparam("v_last_error"),
                updated_at=bindparam("v_updated_at", type_=c.updated_at.type),
            )
        ),
    )
    result = await (await session.connection()).execute(
        statement, {"notice_id": notice_id, "v_last_error": error, "v_updated_at": utcnow()}
    )
    return bool(result.rowcount)
