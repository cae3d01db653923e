"""A case's evidence items: what each is, whose it is, and where its bytes are (by SHA-256).

Module functions over the caller's session; none commits. Items are only inserted; the retention
sweep (`evidence.keep_days`) is the one place that deletes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import EvidenceItem, Listing


async def add_item(session: AsyncSession, item: EvidenceItem) -> EvidenceItem:
    session.add(item)
    await session.flush()
    return item


async def items_of_case(session: AsyncSession, case_id: int) -> list[EvidenceItem]:
    rows = await session.execute(
        select(EvidenceItem)
        .where(col(EvidenceItem.case_id) == case_id)
        .order_by(col(EvidenceItem.id))
    )
    return list(rows.scalars())


async def case_bytes(session: AsyncSession, case_id: int, *, kind: str = "file") -> int:
    """The bytes a case's items of `kind` hold (the per-case limit on files people add)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(col(EvidenceItem.size)), 0))
        .where(col(EvidenceItem.case_id) == case_id)
        .where(col(EvidenceItem.kind) == kind)
    )
    return int(total or 0)


async def items_older_than(session: AsyncSession, moment: datetime) -> list[EvidenceItem]:
    rows = await session.execute(
        select(EvidenceItem)
        .where(col(EvidenceItem.created_at) < moment)
        .order_by(col(EvidenceItem.id))
    )
    return list(rows.scalars())


async def delete_items(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(EvidenceItem).where(col(EvidenceItem.id).in_(list(ids))))


async def still_used(session: AsyncSession, digests: Sequence[str]) -> set[str]:
    """Which of these SHA-256s another item still names (its bytes must stay in the store)."""
    if not digests:
        return set()
    rows = await session.execute(
        select(col(EvidenceItem.sha256))
        .where(col(EvidenceItem.sha256).in_(list(digests)))
        .distinct()
    )
    return set(rows.scalars())


# -- captures (bot.evidence.capture) --------------------------------------------------------------


CAPTURE_LOCK_SPACE = 0x7C  # advisory-lock namespace (first key) of a case's capture results


async def lock_case_captures(session: AsyncSession, case_id: int) -> None:
    """PostgreSQL: the captures of one case record their results one at a time, until this
    transaction ends, so exactly one of them sees the last (and says so in the thread).

    An advisory lock of its own, not a lock on the case's row: a row lock conflicts with what
    other transactions take on that row without asking (an insert referencing the case takes a
    key-share lock), and one of those holding a thread's serial-key lock while it waits for the
    case row, against a capture holding the row while it waits for that serial key, deadlocked.
    Nothing else takes this lock. SQLite runs one write transaction at a time anyway (each begins
    IMMEDIATE)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(CAPTURE_LOCK_SPACE, case_id)))


async def listing_at(session: AsyncSession, case_id: int, position: int) -> Listing | None:
    rows = await session.execute(
        select(Listing)
        .where(col(Listing.case_id) == case_id)
        .where(col(Listing.position) == position)
    )
    return rows.scalars().first()


async def has_capture(session: AsyncSession, listing_id: int) -> bool:
    found = await session.scalar(
        select(col(EvidenceItem.id))
        .where(col(EvidenceItem.listing_id) == listing_id)
        .where(col(EvidenceItem.kind) == "capture")
        .limit(1)
    )
    return found is not None


async def listing_platforms(session: AsyncSession, case_id: int) -> dict[str, int]:
    """How many listings the case has on each platform."""
    rows = await session.execute(
        select(col(Listing.platform), func.count())
        .where(col(Listing.case_id) == case_id)
        .group_by(col(Listing.platform))
    )
    return {str(platform): int(count) for platform, count in rows.all()}


async def capture_verdicts(session: AsyncSession, case_id: int) -> list[tuple[str, str]]:
    """(platform, verdict) of each listing of the case captured so far."""
    rows = await session.execute(
        select(col(Listing.platform), col(EvidenceItem.verdict))
        .join(Listing, col(Listing.id) == col(EvidenceItem.listing_id))
        .where(col(EvidenceItem.case_id) == case_id)
        .where(col(EvidenceItem.kind) == "capture")
        .order_by(col(Listing.position))
    )
    return [(str(platform), str(verdict)) for platform, verdict in rows.all()]


async def capture_count(session: AsyncSession, case_id: int) -> int:
    """How many of the case's listings have a capture (one each)."""
    count = await session.scalar(
        select(func.count())
        .select_from(EvidenceItem)
        .where(col(EvidenceItem.case_id) == case_id)
        .where(col(EvidenceItem.kind) == "capture")
    )
    return int(count or 0)


# -- what goes with a notice (bot.delivery.sent_evidence), and what the bot serves ---------------

# Kinds a platform may be sent: files people added, and a capture's screenshot, PDF and WARC.
SENDABLE_KINDS = ("file", "screenshot", "page_pdf", "capture")


async def items_for_notice(
    session: AsyncSession, case_id: int, listing_ids: Sequence[int]
) -> list[EvidenceItem]:
    """The case's items that may go with a notice on `listing_ids`: the files people added to
    the case, and the captures of those listings that show the listing (verdict `listing`; a
    captcha, login or home page is never sent as the listing)."""
    rows = await session.execute(
        select(EvidenceItem)
        .where(col(EvidenceItem.case_id) == case_id)
        .where(col(EvidenceItem.kind).in_(SENDABLE_KINDS))
        .where(
            (col(EvidenceItem.kind) == "file")
            | (
                col(EvidenceItem.listing_id).in_(list(listing_ids))
                & (col(EvidenceItem.verdict) == "listing")
            )
        )
        .order_by(col(EvidenceItem.id))
    )
    return list(rows.scalars())


async def item_by_sha256(session: AsyncSession, sha256: str) -> EvidenceItem | None:
    """The first item whose bytes are `sha256` (any case's), or None: only these are served."""
    rows = await session.execute(
        select(EvidenceItem)
        .where(col(EvidenceItem.sha256) == sha256)
        .where(col(EvidenceItem.kind).in_(SENDABLE_KINDS))
        .order_by(col(EvidenceItem.id))
        .limit(1)
    )
    return rows.scalars().first()
