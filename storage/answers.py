"""A person's answers to a platform's request for information, as the audit trail keeps them.

An answer is its `answer_requested` event: the person's words, evidence links, files, the
listings it answers and who wrote it. What became of it is told by the events that name it in
`detail["answer"]`, inserted like every event and never changed: `answer_sending` (a run handed it
to the channel, committed before the call), `answer_not_taken` (the channel did not take it: it
may be sent again), and its outcomes (`bot.delivery.answers.trail` reads them). No table of its
own: an answer is written once and its fate is a sequence of facts.

Module functions over the caller's session; none commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Event

ANSWER_REQUESTED = "answer_requested"


async def add_answer(
    session: AsyncSession, *, case_id: int, notice_id: int, actor: str, detail: dict[str, Any]
) -> int:
    """Keep a person's answer as its `answer_requested` event; returns its id (the answer's)."""
    event = Event(
        case_id=case_id, notice_id=notice_id, actor=actor, kind=ANSWER_REQUESTED, detail=detail
    )
    session.add(event)
    await session.flush()
    assert event.id is not None
    return event.id


async def answer_events(session: AsyncSession, *, case_id: int, notice_id: int) -> list[Event]:
    """The answer events of a notice (`answer_…`: the answers and what became of them), oldest
    first. Read through the case's index: a case has few events."""
    rows = await session.execute(
        select(Event)
        .where(col(Event.case_id) == case_id)
        .where(col(Event.notice_id) == notice_id)
        .where(col(Event.kind).startswith("answer_"))
        .order_by(col(Event.id))
    )
    return list(rows.scalars())


async def answer_request(session: AsyncSession, answer_id: int) -> Event | None:
    """The `answer_requested` event of an answer, if `answer_id` is one."""
    event = await session.get(Event, answer_id)
    return event if event is not None and event.kind == ANSWER_REQUESTED else None
