"""Status changes, guarded: the one way a notice's or a listing's status is written.

Each move asks `bot.core.states` which statuses its target may be reached from and writes with a
guarded UPDATE (`… WHERE status IN (those)`). A row that another writer moved since the caller read
it (a withdrawal between a job loading a notice and sending it) is left alone, and the caller
learns that it was: each function returns what moved. `only_from` narrows the sources to those the
caller expects (a receipt is recorded only on a notice being sent).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import (
    LISTING_CORRECTIONS,
    LISTING_TRANSITIONS,
    LISTING_TRANSITIONS_BY_PERSON,
    NOTICE_TRANSITIONS,
    ListingStatus,
    NoticeState,
    S,
    sources,
)
from storage.listings import set_listings_status
from storage.notices import UNCHANGED, Kept, set_notices_status


def _guard(allowed: frozenset[S], target: S, only_from: Collection[S] | None) -> frozenset[S]:
    if only_from is None:
        return allowed
    if stray := set(only_from) - allowed:
        raise ValueError(f"no move from {sorted(stray)} to {target} in the transition table")
    return frozenset(only_from)


async def move_notices(
    session: AsyncSession,
    notice_ids: Sequence[int],
    to: NoticeState,
    *,
    only_from: Collection[NoticeState] | None = None,
    last_error: str | Kept | None = UNCHANGED,
    reference: str | Kept | None = UNCHANGED,
    sent_at: datetime | Kept | None = UNCHANGED,
    count_attempt: bool = False,
) -> set[int]:
    """Move the notices that may go `to` from where they stand now; returns the ids moved."""
    return await set_notices_status(
        session,
        notice_ids,
        status=to,
        sources=_guard(sources(NOTICE_TRANSITIONS, to), to, only_from),
        last_error=last_error,
        reference=reference,
        sent_at=sent_at,
        count_attempt=count_attempt,
    )


async def move_notice(
    session: AsyncSession,
    notice_id: int,
    to: NoticeState,
    *,
    only_from: Collection[NoticeState] | None = None,
    last_error: str | Kept | None = UNCHANGED,
    reference: str | Kept | None = UNCHANGED,
    sent_at: datetime | Kept | None = UNCHANGED,
) -> bool:
    """Move one notice `to`, if it may go there from where it stands now; did it move?"""
    moved = await move_notices(
        session,
        [notice_id],
        to,
        only_from=only_from,
        last_error=last_error,
        reference=reference,
        sent_at=sent_at,
    )
    return notice_id in moved


async def move_listings(
    session: AsyncSession,
    listing_ids: Sequence[int],
    to: ListingStatus,
    *,
    by_person: bool = False,
    correcting: bool = False,
    only_from: Collection[ListingStatus] | None = None,
    reason: str | None = None,
    reference: str | None = None,
) -> set[int]:
    """Move the listings that may go `to` from where they stand now (a person may also move an
    open listing from one decision to another); returns the ids moved.

    `correcting`: an approver's correction of a recorded decision (`LISTING_CORRECTIONS`), the
    only move out of removed or rejected back to an open status. A correction from one decision
    to another keeps the time the decision was recorded (the platform decided then; what was
    recorded was wrong); one back to in review clears it."""
    if correcting:
        table = LISTING_CORRECTIONS
    else:
        table = LISTING_TRANSITIONS_BY_PERSON if by_person else LISTING_TRANSITIONS
    return await set_listings_status(
        session,
        listing_ids=listing_ids,
        status=to,
        sources=_guard(sources(table, to), to, only_from),
        reason=reason,
        reference=reference,
        keep_decided_at=correcting,
    )
