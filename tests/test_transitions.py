"""Guarded status writes, on SQLite and PostgreSQL: a notice or a listing moves only from a status
the transition table allows, and the caller learns whether it moved."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.core.states import (
    CORRECTION_TARGETS,
    LISTING_CORRECTIONS,
    LISTING_TRANSITIONS,
    LISTING_TRANSITIONS_BY_PERSON,
    NOTICE_TRANSITIONS,
    ListingStatus,
    NoticeState,
    allowed,
    sources,
)
from bot.delivery.states import move_listings, move_notice, move_notices
from bot.jobs.loaders import Loaders
from storage.cases import insert_case
from storage.db import Database
from storage.listings import NewListing, insert_listings, mark_listings
from storage.models import Case, Listing, Notice, utcnow
from storage.notices import PlannedNotice, insert_notices, mark_notice_reminded

N, L = NoticeState, ListingStatus


async def _case(db: Database) -> int:
    async with db.transaction() as session:
        case = await insert_case(
            session, Case(brand="Acme", right_id="r", infringement="counterfeit", reporter_id="U1")
        )
    assert case.id is not None
    return case.id


async def _notices(db: Database, statuses: Sequence[NoticeState]) -> list[int]:
    """One notice in each of `statuses`, in that order."""
    case_id = await _case(db)
    async with db.transaction() as session:
        ids = await insert_notices(
            session,
            case_id=case_id,
            planned=[
                PlannedNotice("ebay", "ebay", "ebay_vero", n, f"TD-{case_id}.ebay.{n}")
                for n in range(len(statuses))
            ],
        )
        for notice_id, status in zip(ids, statuses, strict=True):
            await session.execute(
                update(Notice).where(Notice.id == notice_id).values(status=status)
            )
    return ids


async def _listings(db: Database, statuses: Sequence[ListingStatus]) -> list[int]:
    """One listing in each of `statuses`, in that order."""
    case_id = await _case(db)
    async with db.transaction() as session:
        await insert_listings(
            session,
            case_id=case_id,
            listings=[
                NewListing("ebay", f"ebay:{n}", f"https://www.ebay.com/itm/{n}", "u")
                for n in range(len(statuses))
            ],
            relisted={},
            notice_ids=[None] * len(statuses),
        )
        rows = await session.execute(
            select(Listing.id).where(Listing.case_id == case_id).order_by(Listing.position)
        )
        ids = list(rows.scalars())
        for listing_id, status in zip(ids, statuses, strict=True):
            await session.execute(
                update(Listing).where(Listing.id == listing_id).values(status=status)
            )
    return ids


async def _statuses(db: Database, model: type[Notice] | type[Listing], ids: list[int]) -> list[str]:
    async with db.sessions() as session:
        rows = await session.execute(select(model.id, model.status).where(model.id.in_(ids)))
        found = dict(rows.all())
    return [found[item] for item in ids]


def test_every_status_has_a_row_and_every_target_is_a_status() -> None:
    for table, members in (
        (NOTICE_TRANSITIONS, set(NoticeState)),
        (LISTING_TRANSITIONS, set(ListingStatus)),
        (LISTING_TRANSITIONS_BY_PERSON, set(ListingStatus)),
        (LISTING_CORRECTIONS, set(ListingStatus)),
    ):
        assert set(table) == members
        assert all(targets <= members for targets in table.values())


def test_a_closed_decision_is_left_only_by_a_correction() -> None:
    assert allowed(LISTING_TRANSITIONS_BY_PERSON, "in_review", "submitted")
    assert not allowed(LISTING_TRANSITIONS_BY_PERSON, "removed", "in_review")
    assert not allowed(LISTING_TRANSITIONS, "removed", "in_review")
    for source in ("removed", "rejected", "needs_info"):
        assert {*LISTING_CORRECTIONS[L(source)], L(source)} == set(CORRECTION_TARGETS)
    for source in ("withdrawn", "relisted", "failed", "queued", "submitted", "in_review"):
        assert not LISTING_CORRECTIONS[L(source)], source
    assert sources(NOTICE_TRANSITIONS, N.SENDING) == {N.PENDING, N.SENDING}


async def test_a_notice_moves_only_where_the_table_allows(db: Database) -> None:
    pairs = list(itertools.product(NoticeState, NoticeState))
    ids = await _notices(db, [source for source, _ in pairs])
    moved = []
    async with db.transaction() as session:
        for notice_id, (_, target) in zip(ids, pairs, strict=True):
            moved.append(await move_notice(session, notice_id, target))
    after = await _statuses(db, Notice, ids)
    for (source, target), did, status in zip(pairs, moved, after, strict=True):
        may = target in NOTICE_TRANSITIONS[source]
        assert did is may, (source, target)
        assert status == (target if may else source), (source, target)


async def test_a_listing_moves_only_where_the_table_allows(db: Database) -> None:
    tables = {
        "platform": LISTING_TRANSITIONS,
        "person": LISTING_TRANSITIONS_BY_PERSON,
        "correction": LISTING_CORRECTIONS,
    }
    pairs = list(itertools.product(ListingStatus, ListingStatus, tables))
    ids = await _listings(db, [source for source, _, _ in pairs])
    moved: set[int] = set()
    async with db.transaction() as session:
        for listing_id, (_, target, by) in zip(ids, pairs, strict=True):
            moved |= await move_listings(
                session,
                [listing_id],
                target,
                by_person=by == "person",
                correcting=by == "correction",
            )
    after = await _statuses(db, Listing, ids)
    for listing_id, (source, target, by), status in zip(ids, pairs, after, strict=True):
        may = target in tables[by][source]
        assert (listing_id in moved) is may, (source, target, by)
        assert status == (target if may else source), (source, target, by)


async def test_a_decision_time_is_stamped_kept_by_a_correction_and_cleared_by_a_reopen(
    db: Database,
) -> None:
    rejected, removed, needs_info = await _listings(db, [L.SUBMITTED, L.SUBMITTED, L.SUBMITTED])
    async with db.transaction() as session:
        await move_listings(session, [rejected, removed, needs_info], L.REJECTED)
    first = await _decided_at(db, [rejected, removed, needs_info])
    assert None not in first
    async with db.transaction() as session:
        assert await move_listings(session, [removed], L.REMOVED, correcting=True)
        assert await move_listings(session, [needs_info], L.NEEDS_INFO, correcting=True)
        assert await move_listings(session, [rejected], L.IN_REVIEW, correcting=True)
    assert await _decided_at(db, [rejected, removed, needs_info]) == [None, first[1], first[2]]
    async with db.transaction() as session:  # in review again: the next decision is stamped
        assert await move_listings(session, [rejected], L.REMOVED)
    [again] = await _decided_at(db, [rejected])
    assert again is not None and again >= first[0]


async def _decided_at(db: Database, ids: list[int]) -> list[Any]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Listing.id, Listing.decided_at).where(Listing.id.in_(ids))
        )
        found = dict(rows.all())
    return [found[item] for item in ids]


async def test_a_batch_move_reports_the_notices_it_moved(db: Database) -> None:
    ids = await _notices(db, [N.PENDING, N.WITHDRAWN, N.SENDING, N.SENT])
    async with db.transaction() as session:
        moved = await move_notices(session, ids, N.SENDING, count_attempt=True)
    assert moved == {ids[0], ids[2]}
    async with db.sessions() as session:
        attempts = dict((await session.execute(select(Notice.id, Notice.attempts))).all())
    assert [attempts[i] for i in ids] == [1, 0, 1, 0]


async def test_a_move_narrowed_to_the_expected_source_leaves_others_alone(db: Database) -> None:
    (notice_id,) = await _notices(db, [N.FAILED])
    async with db.transaction() as session:
        # A receipt is recorded only on a notice being sent; this one failed meanwhile.
        assert not await move_notice(session, notice_id, N.SENT, only_from={N.SENDING})
        assert await move_notice(session, notice_id, N.SENT, only_from={N.FAILED}, reference="R1")
    async with db.sessions() as session:
        notice = await session.get(Notice, notice_id)
    assert notice is not None and (notice.status, notice.reference) == ("sent", "R1")


async def test_narrowing_to_a_source_the_table_forbids_is_a_mistake(db: Database) -> None:
    (notice_id,) = await _notices(db, [N.SENT])
    async with db.transaction() as session:
        with pytest.raises(ValueError, match="transition table"):
            await move_notice(session, notice_id, N.PENDING, only_from={N.SENT})


async def test_a_notice_withdrawn_before_its_job_marks_it_is_not_sent(db: Database) -> None:
    ready, withdrawn = await _notices(db, [N.PENDING, N.WITHDRAWN])
    loads = Loaders(db)
    assert await loads.mark_sending(ready) is True
    assert await loads.mark_sending(withdrawn) is False
    assert await _statuses(db, Notice, [ready, withdrawn]) == ["sending", "withdrawn"]


async def test_reminders_mark_only_what_still_awaits(db: Database) -> None:
    waiting, decided = await _listings(db, [L.SUBMITTED, L.REMOVED])
    portal, filed = await _notices(db, [N.AWAITING_PERSON, N.SENT])
    async with db.transaction() as session:
        marked = await mark_listings(
            session, listing_ids=[waiting, decided], column="sla_reminded_at", when=utcnow()
        )
        assert marked == {waiting}
        assert await mark_notice_reminded(session, portal, when=utcnow())
        assert not await mark_notice_reminded(session, filed, when=utcnow())
