"""What an export reads: each case with its listings, notices and events, in chunks of cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from bot.core.cases import case_ref
from storage.db import Database
from storage.models import Case, Event, Listing, Notice, NoticeRecord
from storage.notice_records import latest_notices


@dataclass(frozen=True)
class CaseRecord:
    """One case and everything that belongs to it: listings in their order within the case,
    notices by id, events oldest first, and each notice as it was sent (`kept`, by notice id: its
    latest kept record; none for a notice never sent, or sent before notices were kept)."""

    case: Case
    listings: list[Listing]
    notices: list[Notice]
    events: list[Event]
    kept: dict[int, NoticeRecord] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return row_id(self.case)

    @property
    def ref(self) -> str:
        return case_ref(self.id)


async def read_records(
    db: Database, *, since: datetime | None, chunk: int
) -> AsyncIterator[CaseRecord]:
    """Every case reported at or after `since` (all when None), in id order. `chunk` cases are
    read at a time, each chunk in its own short transaction, so no lock is held for long."""
    last_id = 0
    while True:
        async with db.sessions() as session:
            query = select(Case).where(col(Case.id) > last_id)
            if since is not None:
                query = query.where(col(Case.created_at) >= since)
            cases = list(
                (await session.execute(query.order_by(col(Case.id)).limit(chunk))).scalars()
            )
            if not cases:
                return
            ids = [row_id(case) for case in cases]
            listings: dict[int, list[Listing]] = defaultdict(list)
            for listing in (
                await session.execute(
                    select(Listing)
                    .where(col(Listing.case_id).in_(ids))
                    .order_by(col(Listing.case_id), col(Listing.position), col(Listing.id))
                )
            ).scalars():
                listings[listing.case_id].append(listing)
            notices: dict[int, list[Notice]] = defaultdict(list)
            for notice in (
                await session.execute(
                    select(Notice).where(col(Notice.case_id).in_(ids)).order_by(col(Notice.id))
                )
            ).scalars():
                notices[notice.case_id].append(notice)
            events: dict[int, list[Event]] = defaultdict(list)
            for event in (
                await session.execute(
                    select(Event)
                    .where(col(Event.case_id).in_(ids))
                    .order_by(col(Event.created_at), col(Event.id))
                )
            ).scalars():
                events[event.case_id].append(event)
            kept = await latest_notices(
                session, [row_id(notice) for found in notices.values() for notice in found]
            )
        for case, case_id in zip(cases, ids, strict=True):
            yield CaseRecord(
                case,
                listings[case_id],
                notices[case_id],
                events[case_id],
                {row_id(n): kept[row_id(n)] for n in notices[case_id] if row_id(n) in kept},
            )
        last_id = ids[-1]


def row_id(row: Case | Listing | Notice | Event) -> int:
    """The id of a row read from the database (always set)."""
    assert row.id is not None
    return row.id


def iso(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 with `Z`: `2026-06-08T09:00:00Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
