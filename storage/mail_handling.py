"""What becomes of each message from the mailbox (`MailHandling`, beside the write-once
`mail_messages`): suggested in a case's thread, applied, waiting in the triage inbox, dismissed;
and the messages the reader skipped, kept but not read, which get a row once a person acts.

Module functions over the caller's session; none commits. A state changes only with a guarded
write, `UPDATE … WHERE mail_id = :id AND state IN (:expected)`, which says whether it changed: of
two presses of one button, exactly one finds the state it expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.mailbox import insert_once
from storage.models import MailHandling, MailMessage, utcnow

SUGGESTED = "suggested"
APPLIED = "applied"
INBOX = "inbox"
DISMISSED = "dismissed"


async def start(
    session: AsyncSession,
    *,
    mail_id: int,
    state: str,
    source: str,
    case_id: int | None = None,
    notice_id: int | None = None,
    matched_by: str | None = None,
    suggestions: list[dict[str, Any]] | None = None,
    actor: str | None = None,
) -> None:
    """The first handling of a message just kept."""
    now = utcnow()
    session.add(
        MailHandling(
            mail_id=mail_id,
            state=state,
            source=source,
            case_id=case_id,
            notice_id=notice_id,
            matched_by=matched_by,
            suggestions=suggestions or [],
            actor=actor,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()


async def move(
    session: AsyncSession, mail_id: int, *, only_from: Iterable[str], to: str, **values: Any
) -> bool:
    """Set the message's state to `to` (and `values`) if it is in one of `only_from`; whether
    it changed."""
    changed = await session.execute(
        update(MailHandling)
        .where(col(MailHandling.mail_id) == mail_id)
        .where(col(MailHandling.state).in_(list(only_from)))
        .values(state=to, updated_at=utcnow(), **values)
        .returning(col(MailHandling.mail_id))
        .execution_options(synchronize_session=False)  # rows read before stay as they were read
    )
    return changed.first() is not None


async def get(session: AsyncSession, mail_id: int) -> tuple[MailMessage, MailHandling] | None:
    """A kept message and what became of it."""
    found = await session.execute(
        select(MailMessage, MailHandling)
        .join(MailHandling, col(MailHandling.mail_id) == col(MailMessage.id))
        .where(col(MailMessage.id) == mail_id)
        .execution_options(populate_existing=True)  # as it is now, after a guarded write
    )
    row = found.first()
    return None if row is None else (row[0], row[1])


async def waiting(session: AsyncSession, *, limit: int) -> list[tuple[MailMessage, MailHandling]]:
    """Messages in the triage inbox, oldest first."""
    found = await session.execute(
        select(MailMessage, MailHandling)
        .join(MailHandling, col(MailHandling.mail_id) == col(MailMessage.id))
        .where(col(MailHandling.state) == INBOX)
        .order_by(col(MailMessage.id))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in found.all()]


async def waiting_count(session: AsyncSession) -> int:
    found = await session.execute(
        select(func.count()).select_from(MailHandling).where(col(MailHandling.state) == INBOX)
    )
    return int(found.scalar_one())


async def of_case(session: AsyncSession, case_id: int) -> list[tuple[MailMessage, MailHandling]]:
    """The messages about a case (suggested or applied there), oldest first."""
    found = await session.execute(
        select(MailMessage, MailHandling)
        .join(MailHandling, col(MailHandling.mail_id) == col(MailMessage.id))
        .where(col(MailHandling.case_id) == case_id)
        .order_by(col(MailMessage.id))
    )
    return [(row[0], row[1]) for row in found.all()]


# --- messages kept but not read ---------------------------------------------------------------
# A message the reader skipped (`mail_messages.state`: malformed, too large, too long, not
# matched) has no handling row until a person acts on it: listed as "kept but not read" until
# then. One of our own notices come back (`loop`) is never listed, only counted.
SKIPPED_MAIL = "skipped"  # bot.mailbox.reader.MailState.SKIPPED
LOOP_MAIL = "loop"  # bot.mailbox.reader.MailState.LOOP


def _unread() -> Any:
    return (
        select(MailMessage)
        .outerjoin(MailHandling, col(MailHandling.mail_id) == col(MailMessage.id))
        .where(col(MailMessage.state) == SKIPPED_MAIL)
        .where(col(MailHandling.mail_id).is_(None))
    )


async def unread(session: AsyncSession, *, limit: int) -> list[MailMessage]:
    """Skipped messages nobody has acted on, oldest first."""
    found = await session.execute(_unread().order_by(col(MailMessage.id)).limit(limit))
    return list(found.scalars())


async def unread_count(session: AsyncSession) -> int:
    found = await session.execute(select(func.count()).select_from(_unread().subquery()))
    return int(found.scalar_one())


async def loop_count(session: AsyncSession) -> int:
    """How many of our own notices came back to the mailbox (kept, never listed)."""
    found = await session.execute(
        select(func.count()).select_from(MailMessage).where(col(MailMessage.state) == LOOP_MAIL)
    )
    return int(found.scalar_one())


async def unread_message(session: AsyncSession, mail_id: int) -> MailMessage | None:
    """The message if it was skipped and nobody has acted on it yet."""
    found = await session.execute(_unread().where(col(MailMessage.id) == mail_id))
    return found.scalars().first()


async def start_once(session: AsyncSession, *, mail_id: int, state: str, **values: Any) -> bool:
    """The first handling of a message kept before (one skipped by the reader), unless one was
    written meanwhile: `INSERT … ON CONFLICT DO NOTHING`, so of two presses exactly one acts.
    Whether this call wrote it."""
    now = utcnow()
    row = {"mail_id": mail_id, "state": state, "suggestions": [], "created_at": now,
           "updated_at": now, **values}  # fmt: skip
    written = await insert_once(
        session, MailHandling, row, unique="mail_id", returning=col(MailHandling.mail_id)
    )
    return written is not None
