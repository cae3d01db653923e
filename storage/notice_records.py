"""Notices as sent: kept once, read many times, never changed.

Module functions over the caller's session; none commits. There is deliberately no update or
delete function here: a kept notice is the record of what was said to a platform in the rights
holder's name, and the database refuses an UPDATE of its rows (migration 0007's trigger).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Notice, NoticeRecord


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A notice (or an answer to one) as it went to the platform."""

    notice_id: int
    case_id: int
    outcome: str
    adapter: str
    channel: str
    media_type: str
    body: bytes
    config_sha256: str
    facts: dict[str, Any] = field(default_factory=dict)
    kind: str = "notice"
    message_id: str | None = None
    in_reply_to: str | None = None
    path: str | None = None
    actor: str = "bot"


def sha256_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def keep(session: AsyncSession, new: NewRecord) -> NoticeRecord:
    """Store one record, its SHA-256 computed from the bytes themselves."""
    row = NoticeRecord(
        notice_id=new.notice_id,
        case_id=new.case_id,
        kind=new.kind,
        outcome=new.outcome,
        adapter=new.adapter,
        channel=new.channel,
        media_type=new.media_type,
        body=new.body,
        sha256=sha256_of(new.body),
        message_id=new.message_id,
        in_reply_to=new.in_reply_to,
        path=new.path,
        facts=new.facts,
        config_sha256=new.config_sha256,
        actor=new.actor,
    )
    session.add(row)
    await session.flush()
    return row


async def records_of_notice(session: AsyncSession, notice_id: int) -> list[NoticeRecord]:
    """A notice's records, oldest first: the notice as sent (again, if it was sent again), then
    the answers to it."""
    rows = await session.execute(
        select(NoticeRecord)
        .where(col(NoticeRecord.notice_id) == notice_id)
        .order_by(col(NoticeRecord.id))
    )
    return list(rows.scalars())


async def records_of_case(session: AsyncSession, case_id: int) -> list[NoticeRecord]:
    rows = await session.execute(
        select(NoticeRecord)
        .where(col(NoticeRecord.case_id) == case_id)
        .order_by(col(NoticeRecord.id))
    )
    return list(rows.scalars())


async def latest_notices(
    session: AsyncSession, notice_ids: Sequence[int]
) -> dict[int, NoticeRecord]:
    """For each notice, its latest kept notice record (not answers): what the platform has."""
    if not notice_ids:
        return {}
    rows = await session.execute(
        select(NoticeRecord)
        .where(col(NoticeRecord.notice_id).in_(list(notice_ids)))
        .where(col(NoticeRecord.kind) == "notice")
        .order_by(col(NoticeRecord.id))
    )
    return {row.notice_id: row for row in rows.scalars()}


async def message_id_of(session: AsyncSession, notice_id: int) -> str | None:
    """The Message-ID the notice's email went out with (what an emailed answer replies to): its
    latest notice record's, read without loading any record's bytes."""
    found = await session.scalar(
        select(col(NoticeRecord.message_id))
        .where(col(NoticeRecord.notice_id) == notice_id)
        .where(col(NoticeRecord.kind) == "notice")
        .where(col(NoticeRecord.message_id).is_not(None))
        .where(col(NoticeRecord.message_id) != "")
        .order_by(col(NoticeRecord.id).desc())
        .limit(1)
    )
    return found


async def kept_notices_of_case(
    session: AsyncSession, case_id: int
) -> list[tuple[NoticeRecord, str]]:
    """The case's kept notices (not the answers to them), oldest first, each with its notice's
    platform."""
    rows = await session.execute(
        select(NoticeRecord, col(Notice.platform))
        .join(Notice, col(Notice.id) == col(NoticeRecord.notice_id))
        .where(col(NoticeRecord.case_id) == case_id)
        .where(col(NoticeRecord.kind) == "notice")
        .order_by(col(NoticeRecord.id))
    )
    return [(record, platform) for record, platform in rows.all()]
