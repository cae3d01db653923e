"""The team's mailbox: each folder's read position, the messages read (write-once), and the
look-ups a message is matched with.

Module functions over the caller's session; none commits. A message is stored with
`INSERT … ON CONFLICT (sha256) DO NOTHING`: however often it is read (a restart, a second worker,
a renumbered folder), it is kept once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from storage.models import (
    OPEN_STATUSES,
    Listing,
    MailboxCursor,
    MailMessage,
    Notice,
    NoticeRecord,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a folder was left: its UIDVALIDITY then and the last UID stored."""

    uidvalidity: int
    last_uid: int


async def position(session: AsyncSession, folder: str) -> Position | None:
    row = await session.get(MailboxCursor, folder)
    return None if row is None else Position(row.uidvalidity, row.last_uid)


async def advance(session: AsyncSession, *, folder: str, uidvalidity: int, last_uid: int) -> None:
    """Record that `folder` was read up to `last_uid` under `uidvalidity`."""
    row = await session.get(MailboxCursor, folder)
    if row is None:
        session.add(MailboxCursor(folder=folder, uidvalidity=uidvalidity, last_uid=last_uid))
    else:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, utcnow()
    await session.flush()


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message as read, with what the reader made of it."""

    sha256: str
    raw: bytes
    folder: str
    uidvalidity: int
    uid: int
    state: str
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    note: str | None = None
    case_id: int | None = None
    notice_id: int | None = None
    platform: str | None = None
    matched_by: str | None = None
    outcome: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)


async def is_kept(session: AsyncSession, sha256: str) -> bool:
    found = await session.execute(
        select(col(MailMessage.id)).where(col(MailMessage.sha256) == sha256)
    )
    return found.first() is not None


async def keep(session: AsyncSession, new: NewMessage) -> int | None:
    """Store a message unless one with its SHA-256 is kept; its id if this call stored it."""
    values = {
        "sha256": new.sha256,
        "raw": new.raw,
        "size": len(new.raw),
        "folder": new.folder,
        "uidvalidity": new.uidvalidity,
        "uid": new.uid,
        "message_id": new.message_id,
        "sender": new.sender,
        "subject": new.subject,
        "state": new.state,
        "note": new.note,
        "case_id": new.case_id,
        "notice_id": new.notice_id,
        "platform": new.platform,
        "matched_by": new.matched_by,
        "outcome": new.outcome,
        "suggestions": new.suggestions,
        "created_at": utcnow(),
    }
    stored = await insert_once(
        session, MailMessage, values, unique="sha256", returning=col(MailMessage.id)
    )
    return None if stored is None else int(stored)


async def insert_once(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    *,
    unique: str,
    returning: Any,
) -> Any:
    """`INSERT … ON CONFLICT (unique) DO NOTHING RETURNING returning`: the returned value if this
    call wrote the row, None if one with the same `unique` was there already."""
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(returning)
    )
    return (await session.execute(statement)).scalar()


async def messages(session: AsyncSession, *, state: str | None = None) -> list[MailMessage]:
    """Kept messages, oldest first (all, or those in `state`)."""
    query = select(MailMessage).order_by(col(MailMessage.id))
    if state is not None:
        query = query.where(col(MailMessage.state) == state)
    return list((await session.execute(query)).scalars())


def _distinct(notices: Iterable[Notice]) -> list[Notice]:
    by_id = {notice.id: notice for notice in notices}
    return list(by_id.values())


# --- look-ups for matching ------------------------------------------------------------------------


async def notices_by_message_id(session: AsyncSession, message_ids: Sequence[str]) -> list[Notice]:
    """Notices whose kept email went out with one of `message_ids`."""
    if not message_ids:
        return []
    found = await session.execute(
        select(Notice)
        .join(NoticeRecord, col(NoticeRecord.notice_id) == col(Notice.id))
        .where(col(NoticeRecord.message_id).in_(list(message_ids)))
        .order_by(col(Notice.id))
    )
    return _distinct(found.scalars())


async def notices_by_key(session: AsyncSession, keys: Sequence[str]) -> list[Notice]:
    """Notices by idempotency key (an email notice's Message-ID is made from its key)."""
    if not keys:
        return []
    found = await session.execute(
        select(Notice).where(col(Notice.idempotency_key).in_(list(keys))).order_by(col(Notice.id))
    )
    return list(found.scalars())


async def notices_by_reference(session: AsyncSession, tokens: Iterable[str]) -> list[Notice]:
    """Notices whose platform reference (a complaint number typed at confirmation) is one of
    `tokens`."""
    wanted = list(dict.fromkeys(tokens))
    if not wanted:
        return []
    found = await session.execute(
        select(Notice).where(col(Notice.reference).in_(wanted)).order_by(col(Notice.id))
    )
    return list(found.scalars())


async def notices_of_case(session: AsyncSession, case_id: int) -> list[Notice]:
    found = await session.execute(
        select(Notice).where(col(Notice.case_id) == case_id).order_by(col(Notice.id))
    )
    return list(found.scalars())


async def notices_awaiting_on(session: AsyncSession, platforms: Sequence[str]) -> list[Notice]:
    """Notices to `platforms` that reached them and whose listings are not all decided."""
    found = await session.execute(
        select(Notice)
        .join(Listing, col(Listing.notice_id) == col(Notice.id))
        .where(col(Notice.platform).in_(list(platforms)))
        .where(col(Notice.status).in_(("sent", "awaiting_person")))
        .where(col(Listing.status).in_(OPEN_STATUSES))
        .order_by(col(Notice.id))
    )
    return _distinct(found.scalars())


async def open_listings_by_key(session: AsyncSession, keys: Sequence[str]) -> list[Listing]:
    if not keys:
        return []
    found = await session.execute(
        select(Listing)
        .where(col(Listing.key).in_(list(keys)))
        .where(col(Listing.status).in_(OPEN_STATUSES))
        .order_by(col(Listing.id))
    )
    return list(found.scalars())


async def listings_of(
    session: AsyncSession, *, case_id: int, notice_id: int | None
) -> list[Listing]:
    """A notice's listings (or the case's, when no notice is known), in report order."""
    query = select(Listing).where(col(Listing.case_id) == case_id)
    if notice_id is not None:
        query = query.where(col(Listing.notice_id) == notice_id)
    found = await session.execute(query.order_by(col(Listing.position), col(Listing.id)))
    return list(found.scalars())


async def message_by_sha256(session: AsyncSession, sha256: str) -> MailMessage | None:
    found = await session.execute(select(MailMessage).where(col(MailMessage.sha256) == sha256))
    return found.scalars().first()
