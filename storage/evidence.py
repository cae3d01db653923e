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

from storage.models import EvidenceItem


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
