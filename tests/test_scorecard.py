"""The platform scorecard: figures computed by the database (SQLite and PostgreSQL) and checked
against numbers worked out by hand from the seed table (tests/seed.py), its message and its CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime

from conftest import TABLES
from seed import NOW, SLA, WEEK, seed
from sqlalchemy import text

from bot.config.schema import AppConfig
from bot.figures.digest import load_scores
from bot.figures.scorecard import (
    build_scorecard,
    scorecard_blocks,
    scorecard_csv,
    sla_days_by_platform,
)
from storage.db import Database
from storage.stats.scorecard import PlatformScore, scorecard
from storage.stats.sql import NEAREST_RANK_FRACTIONS

# All time, at NOW. Per platform: notices sent, listings reported, removed, rejected, median and
# p90 hours to removal (nearest rank), SLA breaches, listings that needed information.
#
# eBay: 60 this week + 20 the week before + o1, o6, o7 = 83 listings. Removed: 40 + 10 + o6 = 51
#   (4 of them relisted since, still removals); rejected 10 + 10 = 20. Removal times: 1..40 h,
#   2, 4, …, 20 h and 30 h = 51 values; the median is the 26th: 18 h (27 values are ≤ 18 h, 25 are
#   ≤ 17 h); p90 the ceil(45.9) = 46th: 35 h (46 values ≤ 35 h, 45 ≤ 34 h). Nothing was decided
#   after 7 days; o1 and o7 are still waiting past them: 2 breaches. Needed info: e-info's 5.
#   Notices sent: e-removed, e-rejected, e-info, e-review, pe-removed, pe-rejected, o1, o6, o7.
# Amazon: 50 + 10 + o2 = 61; removed 20 + 10; rejected 20. Times 3, 6, …, 60 h and ten times 6 h:
#   30 values; the 15th is 15 h (6 h eleven times, then 3, 9, 12, 15 → 15 values ≤ 15 h), the 27th
#   51 h (values ≤ 51 h: 17 + 10 = 27). Breaches: o2. Needed info: the 2 asked before removal.
# Taobao (SLA 3 days): 40 + 10 + o3 = 51; removed 30 + 5, rejected 5. Times 4, 8, …, 120 h and
#   five times 10 h: 35 values; the 18th is 52 h (≤ 52 h: 13 + 5 = 18), the 32nd 108 h
#   (≤ 108 h: 27 + 5 = 32). Breaches: 12 removals after more than 72 h (76..120 h; the one at
#   exactly 72 h is on time) + 5 rejections after 80 h + t-info 5 + t-queued 5 + o3 = 28.
# Etsy: 30 + o4 = 31; 10 removed in 5..50 h (median 25 h, p90 45 h), 5 rejected, no breach
#   (o4's delivery failed: ours to fix, not the platform's). Needed info: s-info's 5.
# AliExpress: 20 + o5 = 21; nothing removed, 10 rejected; o5 waits for us past its SLA: 1 breach
#   and 1 listing that needed information.
ALL_TIME = {
    "ebay": (9, 83, 51, 20, 18, 35, 2, 5),
    "amazon": (5, 61, 30, 20, 15, 51, 1, 2),
    "taobao": (4, 51, 35, 5, 52, 108, 28, 5),
    "etsy": (4, 31, 10, 5, 25, 45, 0, 5),
    "aliexpress": (2, 21, 0, 10, None, None, 1, 1),
}

# Since WEEK: only this week's listings, and the notices sent this week.
SINCE_WEEK = {
    "ebay": (4, 60, 40, 10, 20, 36, 0, 5),
    "amazon": (3, 50, 20, 20, 30, 54, 0, 2),
    "taobao": (2, 40, 30, 0, 60, 108, 22, 5),  # 12 late removals + 10 waiting past 3 days
    "etsy": (4, 30, 10, 5, 25, 45, 0, 5),
    "aliexpress": (1, 20, 0, 10, None, None, 0, 0),
}


def _row(score: PlatformScore) -> tuple[object, ...]:
    return (
        score.notices_sent,
        score.reported,
        score.removed,
        score.rejected,
        score.median_hours,
        score.p90_hours,
        score.sla_breaches,
        score.needed_info,
    )


async def _scorecard(db: Database, *, since: datetime | None) -> list[PlatformScore]:
    async with db.sessions() as session:
        return await scorecard(session, since=since, now=NOW, sla=SLA)


async def test_scorecard_all_time_matches_the_hand_computed_figures(db: Database) -> None:
    seeded = await seed(db)
    assert seeded.listing_count == 247

    scores = await _scorecard(db, since=None)

    assert [score.platform for score in scores] == list(ALL_TIME)  # most listings first
    assert {score.platform: _row(score) for score in scores} == ALL_TIME
    rates = {score.platform: score.takedown_rate for score in scores}
    assert rates == {
        "ebay": 51 / 71,
        "amazon": 30 / 50,
        "taobao": 35 / 40,
        "etsy": 10 / 15,
        "aliexpress": 0.0,
    }
    shares = {score.platform: score.needs_info_share for score in scores}
    assert shares == {
        "ebay": 5 / 83,
        "amazon": 2 / 61,
        "taobao": 5 / 51,
        "etsy": 5 / 31,
        "aliexpress": 1 / 21,
    }


async def test_scorecard_since_a_date(db: Database) -> None:
    await seed(db)
    scores = await _scorecard(db, since=WEEK)
    assert {score.platform: _row(score) for score in scores} == SINCE_WEEK


async def test_scorecard_through_the_config(db: Database, config: AppConfig) -> None:
    await seed(db)
    assert sla_days_by_platform(config)["taobao"] == 3
    assert sla_days_by_platform(config)["ebay"] == 7
    scores = await build_scorecard(db, config, since=None, now=NOW)
    assert {score.platform: _row(score) for score in scores} == ALL_TIME
    assert await load_scores(db, config, now=NOW) == scores  # what App Home shows


async def test_scale_multiplies_counts_and_keeps_percentiles(db: Database) -> None:
    seeded = await seed(db, scale=3)
    assert seeded.listing_count == 3 * 247
    scores = {score.platform: score for score in await _scorecard(db, since=WEEK)}
    for platform, (
        notices,
        reported,
        removed,
        rejected,
        median,
        p90,
        late,
        info,
    ) in SINCE_WEEK.items():
        score = scores[platform]
        assert (score.notices_sent, score.reported, score.removed, score.rejected) == (
            3 * notices,
            3 * reported,
            3 * removed,
            3 * rejected,
        )
        assert (score.median_hours, score.p90_hours) == (median, p90)
        assert (score.sla_breaches, score.needed_info) == (3 * late, 3 * info)


async def test_nearest_rank_is_what_postgres_percentile_disc_returns(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await seed(db)
        async with db.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT platform,"
                    " percentile_disc(0.5) WITHIN GROUP (ORDER BY seconds),"
                    " percentile_disc(0.9) WITHIN GROUP (ORDER BY seconds)"
                    " FROM (SELECT platform, floor(extract(epoch FROM decided_at))"
                    "   - floor(extract(epoch FROM submitted_at)) AS seconds"
                    "   FROM listings WHERE status IN ('removed', 'relisted')) AS d"
                    " GROUP BY platform"
                )
            )
            expected = {platform: (mid / 3600, high / 3600) for platform, mid, high in rows}
        scores = await _scorecard(db, since=None)
        assert {s.platform: (s.median_hours, s.p90_hours) for s in scores if s.removed} == expected
    finally:
        await db.dispose()


def test_percentile_disc_fractions_pick_the_nearest_rank_for_any_count() -> None:
    """PostgreSQL's percentile_disc(f) returns the row at ceil(f · n), computed in float8; for the
    fractions the figures use that is the nearest rank ceil(p · n / 100) for every n."""
    counts = [*range(1, 200_001), *(10**k + d for k in range(6, 16) for d in range(-20, 21))]
    for percent, fraction in NEAREST_RANK_FRACTIONS.items():
        wrong = [n for n in counts if math.ceil(fraction * n) != -(-percent * n // 100)]
        assert wrong == [], (percent, wrong[:5])


async def test_notices_alone_make_a_row(db: Database) -> None:
    """A platform with sent notices but no listing in the range still shows."""
    await seed(db)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE notices SET platform = 'walmart' WHERE idempotency_key = 'seed-o7-0'")
        )
    scores = {s.platform: s for s in await _scorecard(db, since=datetime(2026, 5, 26, tzinfo=UTC))}
    assert scores["walmart"].notices_sent == 1
    assert scores["walmart"].reported == 0
    assert scores["walmart"].takedown_rate is None


# -- the message and the CSV ----------------------------------------------------------------------


def _score(platform: str, **overrides: object) -> PlatformScore:
    values: dict[str, object] = {
        "platform": platform,
        "notices_sent": 3,
        "reported": 10,
        "removed": 6,
        "rejected": 2,
        "median_hours": 20.0,
        "p90_hours": 100.5,
        "sla_breaches": 1,
        "needed_info": 2,
    }
    values.update(overrides)
    return PlatformScore(**values)  # type: ignore[arg-type]


def test_scorecard_blocks() -> None:
    scores = [_score("ebay"), _score("<!channel> & co", removed=0, rejected=0, median_hours=None)]
    text_, blocks = scorecard_blocks(scores, since=datetime(2026, 6, 1, tzinfo=UTC))

    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Platform scorecard (since 2026-06-01)",
            "emoji": False,
        },
    }
    table = blocks[1]["text"]["text"]
    lines = table.splitlines()
    assert lines[0] == "```" and lines[-1] == "```"
    assert lines[1].split() == [
        "Platform",
        "Notices",
        "Listings",
        "Removed",
        "Rate",
        "Median",
        "p90",
        "Late",
        "Info",
    ]
    assert lines[2].split() == ["eBay", "3", "10", "6/8", "75%", "20", "h", "4.2", "d", "1", "20%"]
    assert lines[3].startswith("&lt;!channel&gt; &amp; …  ")  # cut to the column, then escaped
    assert "—" in lines[3]  # no removal time, no rate
    dumped = json.dumps(blocks)
    assert "<!channel>" not in dumped
    assert text_.startswith(
        "Platform scorecard (since 2026-06-01): eBay 75% taken down, median 20 h"
    )


def test_scorecard_blocks_all_time_and_empty() -> None:
    text_, blocks = scorecard_blocks([], since=None)
    assert text_ == "Platform scorecard (all time): no listings reported."
    assert blocks[1]["text"]["text"] == "No listings reported all time."


def test_scorecard_blocks_stay_within_slack_limits() -> None:
    scores = [_score(f"platform-{n}-" + "x" * 200) for n in range(60)]
    _, blocks = scorecard_blocks(scores, since=None)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    assert "… and 35 more platforms" in json.dumps(blocks, ensure_ascii=False)


def test_scorecard_csv() -> None:
    scores = [_score("ebay"), _score("aliexpress", removed=0, median_hours=None, p90_hours=None)]
    rows = list(csv.DictReader(io.StringIO(scorecard_csv(scores))))
    assert rows[0] == {
        "platform": "ebay",
        "name": "eBay",
        "notices_sent": "3",
        "listings_reported": "10",
        "removed": "6",
        "rejected": "2",
        "takedown_rate": "0.7500",
        "median_hours_to_removal": "20.00",
        "p90_hours_to_removal": "100.50",
        "sla_breaches": "1",
        "needed_info": "2",
        "needs_info_share": "0.2000",
    }
    assert rows[1]["takedown_rate"] == "0.0000"
    assert rows[1]["median_hours_to_removal"] == ""
    assert scorecard_csv([]).strip() == ",".join(
        [
            "platform",
            "name",
            "notices_sent",
            "listings_reported",
            "removed",
            "rejected",
            "takedown_rate",
            "median_hours_to_removal",
            "p90_hours_to_removal",
            "sla_breaches",
            "needed_info",
            "needs_info_share",
        ]
    )
