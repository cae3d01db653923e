"""The audit trail: events are only ever inserted, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Event, utcnow
from storage.prepared import EVENTS, built, chunks


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


async def latest_status_changes(
    session: AsyncSession, listing_ids: Sequence[int]
) -> dict[int, Event]:
    """Listing id → its latest `status_changed` event: who moved it to where it stands, and when
    (a listing with none is left out)."""
    latest: dict[int, Event] = {}
    for chunk in chunks(listing_ids):
        rows = await session.execute(
            select(Event)
            .where(col(Event.listing_id).in_(chunk), col(Event.kind) == "status_changed")
            .order_by(col(Event.id))
        )
        for event in rows.scalars():
            assert event.listing_id is not None
            latest[event.listing_id] = event
    return latest


async def events_of_case(session: AsyncSession, case_id: int) -> list[Event]:
    """A case's audit trail, oldest first (its timeline)."""
    rows = await session.execute(
        select(Event).where(col(Event.case_id) == case_id).order_by(col(Event.id))
    )
    return list(rows.scalars())
