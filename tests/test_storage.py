"""Storage on SQLite files and PostgreSQL: schema, case numbers, open-listing uniqueness."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.config.schema import AppConfig
from bot.core.cases import case_ref
from bot.intake.cases import ReportDraft, ReportRejected, open_case
from storage.cases import insert_case
from storage.db import Database, normalise_url
from storage.listings import NewListing, insert_listings
from storage.models import Case, Listing


def _draft(urls: str) -> ReportDraft:
    return ReportDraft(
        urls_text=urls,
        brand="Acme",
        right_id="acme-eu-tm",
        infringement="counterfeit",
        description="Counterfeit ACME backpacks using our registered mark.",
    )


async def _report(db: Database, config: AppConfig, urls: str, intake_key: str) -> int | str:
    """A report's case number, or the error its URLs field gets."""
    try:
        opened = await open_case(
            db,
            config=config,
            draft=_draft(urls),
            reporter_id="U1",
            team_id=None,
            channel_id="C1",
            intake_key=intake_key,
        )
    except ReportRejected as exc:
        return exc.errors["urls"]
    return opened.case_id


async def test_fresh_database_reports_missing_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    status = await db.schema_status()
    assert not status.ok
    assert "run `takedown-bot migrate`" in (status.problem() or "")
    await db.migrate()
    assert (await db.schema_status()).ok
    await db.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() > 0
    await db.dispose()


def test_database_urls_pick_async_drivers() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_url("sqlite:///./data/x.db") == "sqlite+aiosqlite:///./data/x.db"


async def test_concurrent_intakes_get_distinct_consecutive_case_numbers(
    db: Database, config: AppConfig
) -> None:
    async def report(n: int) -> int:
        opened = await open_case(
            db,
            config=config,
            draft=_draft(f"https://www.ebay.com/itm/{100000000000 + n}"),
            reporter_id="U1",
            team_id="T1",
            channel_id="C1",
            intake_key=f"k{n}",
        )
        return opened.case_id

    ids = await asyncio.gather(*(report(n) for n in range(20)))
    assert sorted(ids) == list(range(1, 21))


async def test_same_listing_reported_concurrently_lands_in_one_case(
    db: Database, config: AppConfig
) -> None:
    url = "https://www.ebay.com/itm/123456789012"
    results = await asyncio.gather(*(_report(db, config, url, f"race{n}") for n in range(6)))
    [winner] = [r for r in results if isinstance(r, int)]  # (a loser's case number is not reused)
    refused = [r for r in results if isinstance(r, str)]
    assert len(refused) == 5
    assert all(f"already reported in open case {case_ref(winner)}" in r for r in refused)


async def test_database_refuses_second_open_listing_with_same_key(db: Database) -> None:
    async with db.transaction() as session:
        first = await insert_case(
            session, Case(brand="Acme", right_id="r", infringement="counterfeit", reporter_id="U1")
        )
        item = NewListing(
            "ebay", "ebay:1", "https://www.ebay.com/itm/1", "https://www.ebay.com/itm/1"
        )
        assert first.id is not None
        await insert_listings(
            session, case_id=first.id, listings=[item], relisted={}, notice_ids=[None]
        )
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await insert_listings(
                session, case_id=first.id, listings=[item], relisted={}, notice_ids=[None]
            )
    async with db.transaction() as session:
        await session.execute(update(Listing).values(status="rejected"))
    async with db.transaction() as session:  # closed listings no longer block a new report
        await insert_listings(
            session, case_id=first.id, listings=[item], relisted={}, notice_ids=[None]
        )


async def test_removed_listing_reported_again_is_marked_relisted(
    db: Database, config: AppConfig
) -> None:
    url = "https://www.etsy.com/listing/1234567890/fake-acme-bag"
    await open_case(
        db,
        config=config,
        draft=_draft(url),
        reporter_id="U1",
        team_id=None,
        channel_id="C1",
        intake_key="a",
    )
    async with db.transaction() as session:
        await session.execute(update(Listing).values(status="removed"))
    second = await open_case(
        db,
        config=config,
        draft=_draft(url),
        reporter_id="U1",
        team_id=None,
        channel_id="C1",
        intake_key="b",
    )
    async with db.sessions() as session:
        rows = (await session.execute(select(Listing).order_by(Listing.id))).scalars().all()
    assert [(r.case_id, r.status, r.relisted_from) for r in rows] == [
        (1, "relisted", None),
        (second.case_id, "queued", rows[0].id),
    ]


async def test_opening_a_case_queues_its_thread_post_and_one_notice_per_platform(
    db: Database, config: AppConfig
) -> None:
    from storage.models import Job, Notice

    await open_case(
        db,
        config=config,
        draft=_draft(
            "https://www.ebay.com/itm/123456789012\nhttps://item.taobao.com/item.htm?id=1234567\nhttps://www.ebay.de/itm/223456789012"
        ),
        reporter_id="U1",
        team_id=None,
        channel_id="C1",
        intake_key="n",
    )
    async with db.sessions() as session:
        notices = (await session.execute(select(Notice).order_by(Notice.id))).scalars().all()
        jobs = (await session.execute(select(Job).order_by(Job.id))).scalars().all()
        listings = (await session.execute(select(Listing).order_by(Listing.id))).scalars().all()
    assert [(n.platform, n.adapter) for n in notices] == [("ebay", "portal"), ("taobao", "portal")]
    assert [listing.notice_id for listing in listings] == [
        notices[0].id,
        notices[1].id,
        notices[0].id,
    ]
    assert [(j.kind, j.payload.get("op") or j.payload.get("notice_id")) for j in jobs] == [
        ("notify", "post_parent"),
        ("submit", notices[0].id),
        ("submit", notices[1].id),
    ]


async def test_bulk_reports_of_the_same_listings_in_opposite_orders_file_one_case(
    db: Database, config: AppConfig
) -> None:
    """Two 3,000-line reports of the same listings, one reversed, at once: their inserts take the
    listings' unique index entries in opposite orders (PostgreSQL may find a deadlock); one case is
    filed and the other report is told which listings are taken, never a database error."""
    urls = [f"https://www.ebay.com/itm/{300000000000 + n}" for n in range(3000)]

    results = await asyncio.gather(
        _report(db, config, "\n".join(urls), "bulk1"),
        _report(db, config, "\n".join(urls[::-1]), "bulk2"),
    )
    assert len([r for r in results if isinstance(r, int)]) == 1, results
    [refused] = [r for r in results if isinstance(r, str)]
    assert "already reported in open case" in refused
