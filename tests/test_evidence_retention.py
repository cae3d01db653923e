"""Retention (`evidence.keep_days`): the hourly sweep deletes evidence older than that, rows and
bytes, but keeps bytes another item still names; it is scheduled once an hour across workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evidence_kit import capture_config, capturing_bot
from fakes.slack import FakeSlack
from sqlalchemy import select

from bot.evidence.retention import sweep_evidence
from bot.jobs.schedule import Scheduler
from storage import evidence
from storage.db import Database
from storage.models import Case, EvidenceItem, Job, Listing

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _item(case_id: int, listing_id: int, sha256: str, *, age_days: int) -> EvidenceItem:
    return EvidenceItem(
        case_id=case_id,
        listing_id=listing_id,
        kind="capture",
        sha256=sha256,
        media_type="application/warc",
        size=1,
        name="x.warc.gz",
        verdict="listing",
        created_at=NOW - timedelta(days=age_days),
    )


async def test_the_sweep_deletes_old_items_and_only_bytes_no_other_item_names(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path
) -> None:
    config = capture_config(evidence={"capture": False, "keep_days": 30})
    # The worker is held back: its own hourly sweep, on today's clock, would race this one.
    async with capturing_bot(
        config=config,
        slack=slack,
        db=db,
        database_url=database_url,
        folder=tmp_path / "ev",
        run_worker=False,
    ) as bot:
        await bot.submit_report(urls="https://www.ebay.com/itm/123456789012")
        rt = bot.bot.runtime
        alone = await rt.evidence.put(b"only an old capture names this")
        shared = await rt.evidence.put(b"an old and a recent item name this")
        async with db.transaction() as session:
            case_id = (await session.execute(select(Case.id))).scalar_one()
            listing_id = (await session.execute(select(Listing.id))).scalar_one()
            for sha, age in ((alone.sha256, 31), (shared.sha256, 40), (shared.sha256, 2)):
                await evidence.add_item(session, _item(case_id, listing_id, sha, age_days=age))

        swept = await sweep_evidence(rt, now=NOW)

        async with db.reading() as session:
            left = await evidence.items_of_case(session, case_id)
        assert swept == (2, 1)
        assert [(item.sha256, item.created_at.date()) for item in left] == [
            (shared.sha256, (NOW - timedelta(days=2)).date())
        ]
        assert not await rt.evidence.exists(alone.sha256)
        assert await rt.evidence.get(shared.sha256) == b"an old and a recent item name this"


async def test_the_sweep_is_scheduled_hourly_once_and_only_with_keep_days(db: Database) -> None:
    keeping = capture_config(evidence={"keep_days": 90})
    schedulers = [Scheduler(db=db, config=keeping, clock=lambda: NOW) for _ in range(3)]
    await asyncio.gather(*(s.tick() for s in schedulers))
    await Scheduler(db=db, config=capture_config(), clock=lambda: NOW + timedelta(hours=1)).tick()

    async with db.reading() as session:
        kinds = list((await session.execute(select(Job.kind).order_by(Job.id))).scalars())  # type: ignore[call-overload]
    assert kinds.count("evidence_sweep") == 1
    assert kinds.count("remind") == 2
