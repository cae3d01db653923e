"""Where the platforms' decisions came from: the team's mailbox, the platforms' APIs (polls), or
people (an approver's Record decision, a reporter's confirmation).

A decision is a `status_changed` event to removed, rejected or needs info. Its source: `mailbox`
when its detail says so (`bot.mailbox.suggestions`: applied from an email, by a click or
automatically), `api` when a poll or the bot recorded it (actor `platform:<id>` or `bot`), and
`people` otherwise.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Event
from storage.stats.sql import json_text, timestamp

SOURCES = ("mailbox", "api", "people")
_DECISIONS = ("removed", "rejected", "needs_info")


async def decisions_by_source(
    session: AsyncSession, *, since: datetime | None, until: datetime
) -> dict[str, int]:
    """Decisions recorded in [since, until) (all before `until` when `since` is None), counted
    by source; every source is present."""
    source = case(
        (json_text(Event.detail, "source") == "mailbox", "mailbox"),
        (or_(col(Event.actor).like("platform:%"), col(Event.actor) == "bot"), "api"),
        else_="people",
    ).label("source")
    query = (
        select(source, func.count())
        .where(col(Event.kind) == "status_changed")
        .where(json_text(Event.detail, "to").in_(_DECISIONS))
        .where(col(Event.created_at) < timestamp(until))
        .group_by(source)
    )
    if since is not None:
        query = query.where(col(Event.created_at) >= timestamp(since))
    counted = {name: int(count) for name, count in (await session.execute(query)).all()}
    return {name: counted.get(name, 0) for name in SOURCES}
