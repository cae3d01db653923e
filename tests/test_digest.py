"""The weekly digest: its figures (SQL aggregates on SQLite and PostgreSQL) checked against numbers
worked out by hand from the seed table (tests/seed.py), its period across a DST change, and its
message (Slack's limits, escaping) and chart."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from seed import NOW, PREVIOUS_WEEK, SLA, WEEK, Group, seed

from bot.config.schema import AppConfig
from bot.figures.digest import build_digest, digest_blocks, digest_period, render_chart
from storage.db import Database
from storage.stats.period import (
    OldListing,
    PeriodFigures,
    PlatformFigures,
    SellerCount,
    period_figures,
)
from storage.stats.scorecard import scorecard

BERLIN = ZoneInfo("Europe/Berlin")

# This week [WEEK, NOW): per platform, listings reported and their outcome at NOW (removed,
# rejected, needs info, open, withdrawn), re-reports of removed listings, and the median and p90
# hours from submission to removal (nearest rank: the ceil(n/2)-th and ceil(0.9 n)-th).
#
# eBay: 40 removed (4 of them relisted since: still removals) in 1, 2, …, 40 h → 20th = 20 h,
#   36th = 36 h; 10 rejected; 5 needs info; open: 1 in review + the 4 re-reports.
# Amazon: 20 removed in 3, 6, …, 60 h → 10th = 30 h, 18th = 54 h; 20 rejected; 10 submitted.
# Taobao: 30 removed in 4, 8, …, 120 h → 15th = 60 h, 27th = 108 h; 5 needs info; 5 queued.
# Etsy: 10 removed in 5, 10, …, 50 h → 5th = 25 h, 9th = 45 h; 5 rejected, 5 needs info,
#   5 in review, 5 withdrawn.
# AliExpress: 10 rejected, 10 failed (open: not delivered yet), nothing removed.
WEEK_FIGURES = {
    "ebay": (60, 40, 10, 5, 5, 0, 4, 20, 36),
    "amazon": (50, 20, 20, 0, 10, 0, 0, 30, 54),
    "taobao": (40, 30, 0, 5, 5, 0, 0, 60, 108),
    "etsy": (30, 10, 5, 5, 5, 5, 0, 25, 45),
    "aliexpress": (20, 0, 10, 0, 10, 0, 0, None, None),
}
WEEK_RATES = {"ebay": 0.8, "amazon": 0.5, "taobao": 1.0, "etsy": 10 / 15, "aliexpress": 0.0}

# The week before [PREVIOUS_WEEK, WEEK), as of WEEK: eBay 10 removed in 2, 4, …, 20 h (5th = 10 h,
# 9th = 18 h) and 10 rejected; Amazon 10 removed in 6 h; Taobao 5 removed in 10 h, 5 rejected.
PREVIOUS_FIGURES = {
    "ebay": (20, 10, 10, 0, 0, 0, 0, 10, 18),
    "amazon": (10, 10, 0, 0, 0, 0, 0, 6, 6),
    "taobao": (10, 5, 5, 0, 0, 0, 0, 10, 10),
}


def _row(item: PlatformFigures) -> tuple[object, ...]:
    return (
        item.reported,
        item.removed,
        item.rejected,
        item.needs_info,
        item.open,
        item.withdrawn,
        item.relisted,
        item.median_hours,
        item.p90_hours,
    )


def _nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(percent / 100 * len(ordered)) - 1]


async def _figures(db: Database, *, start: datetime, end: datetime, now: datetime) -> PeriodFigures:
    async with db.sessions() as session:
        return await period_figures(session, start=start, end=end, now=now, sla=SLA)


async def test_week_figures_match_the_hand_computed_ones(db: Database) -> None:
    await seed(db)
    figures = await _figures(db, start=WEEK, end=NOW, now=NOW)

    assert [item.platform for item in figures.platforms] == list(WEEK_FIGURES)
    assert {item.platform: _row(item) for item in figures.platforms} == WEEK_FIGURES
    assert {item.platform: item.takedown_rate for item in figures.platforms} == WEEK_RATES
    assert figures.cases == 18  # one case per group reported this week

    total = figures.total
    assert _row(total)[:7] == (200, 100, 45, 15, 35, 5, 4)
    assert total.takedown_rate == 100 / 145
    # All 100 removal times: the 50th is 29 h and the 90th 80 h.
    times = (
        [i + 1 for i in range(40)]
        + [3 * (i + 1) for i in range(20)]
        + [4 * (i + 1) for i in range(30)]
        + [5 * (i + 1) for i in range(10)]
    )
    assert (total.median_hours, total.p90_hours) == (29, 80)
    assert (_nearest_rank(times, 50), _nearest_rank(times, 90)) == (29, 80)

    # Past SLA at NOW, whenever reported: eBay o1 and o7 (7 days); Amazon o2; Taobao (3 days):
    # t-info 5 + t-queued 5 + o3; AliExpress o5 (needs info). o4 failed: ours, not the platform's.
    assert figures.past_sla == {"ebay": 2, "amazon": 1, "taobao": 11, "aliexpress": 1}
    assert figures.past_sla_total == 15
    assert [item.key for item in figures.oldest_open] == [
        "ebay:o1-0",
        "amazon:o2-0",
        "taobao:o3-0",
        "etsy:o4-0",
        "aliexpress:o5-0",
    ]
    oldest = figures.oldest_open[0]
    assert (oldest.status, oldest.channel_id) == ("in_review", "C0REPORTS")
    assert oldest.created_at == datetime(2026, 4, 1, 10, tzinfo=UTC)
    assert figures.top_sellers == (
        SellerCount("Shady Deals", 27),  # 12 eBay + 10 + 5 Etsy
        SellerCount("Knockoff Hub", 20),  # every other Amazon listing
        SellerCount("<!channel> Outlet", 10),
        SellerCount("Bazaar 88", 8),
        SellerCount("Tiny Shop", 3),
    )  # the blank seller of e-info is not a seller


async def test_previous_week_as_it_stood_at_its_end(db: Database) -> None:
    await seed(db)
    figures = await _figures(db, start=PREVIOUS_WEEK, end=WEEK, now=WEEK)
    assert {item.platform: _row(item) for item in figures.platforms} == PREVIOUS_FIGURES
    assert figures.cases == 5
    # At WEEK: o1, o7 (eBay), o2 (Amazon), o3 (Taobao), o5 (AliExpress); nothing of this week yet.
    assert figures.past_sla == {"ebay": 2, "amazon": 1, "taobao": 1, "aliexpress": 1}
    assert figures.top_sellers == (SellerCount("Shady Deals", 4),)


async def test_decisions_after_now_count_as_open(db: Database) -> None:
    """Figures as of a past moment show what was known then."""
    base = datetime(2026, 3, 2, 9, tzinfo=UTC)
    groups = [
        Group("early", "ebay", 2, "removed", start=base, hours=lambda i: 10),
        Group("late", "ebay", 3, "removed", start=base, hours=lambda i: 100),
        Group("asked", "ebay", 1, "needs_info", start=base, hours=lambda i: 100),
    ]
    await seed(db, groups=groups)
    at = base + timedelta(hours=50)
    figures = await _figures(db, start=base, end=base + timedelta(hours=1), now=at)
    ebay = figures.platforms[0]
    assert (ebay.reported, ebay.removed, ebay.needs_info, ebay.open) == (6, 2, 0, 4)
    assert (ebay.median_hours, ebay.p90_hours) == (10, 10)
    later = await _figures(
        db, start=base, end=base + timedelta(hours=1), now=base + timedelta(days=30)
    )
    assert (later.platforms[0].removed, later.platforms[0].needs_info) == (5, 1)


async def test_each_status_has_one_outcome_decided_before_now_or_after(db: Database) -> None:
    """A decision counts from the moment it was made; relisted counts as removed; queued,
    submitted, in review and failed are open whatever else."""
    base = datetime(2026, 3, 2, 9, tzinfo=UTC)
    decided = ("removed", "relisted", "rejected", "needs_info", "withdrawn")
    groups = [
        *(Group(f"{s}-early", "ebay", 1, s, start=base, hours=lambda i: 10) for s in decided),
        *(Group(f"{s}-late", "ebay", 1, s, start=base, hours=lambda i: 100) for s in decided),
        *(
            Group(s, "ebay", 1, s, start=base)
            for s in ("queued", "submitted", "in_review", "failed")
        ),
    ]
    await seed(db, groups=groups)
    at = base + timedelta(hours=50)
    figures = await _figures(db, start=base, end=base + timedelta(hours=1), now=at)
    ebay = figures.platforms[0]
    counts = (ebay.reported, ebay.removed, ebay.rejected, ebay.needs_info, ebay.withdrawn)
    # Removed: removed-early and relisted-early. Open: the five decided later, the four undecided.
    assert (*counts, ebay.open) == (14, 2, 1, 1, 1, 9)
    async with db.sessions() as session:
        (score,) = await scorecard(session, since=None, now=at, sla=SLA)
    assert (score.reported, score.removed, score.rejected, score.needed_info) == (14, 2, 1, 1)


async def test_percentiles_are_the_nearest_rank_whatever_the_count(db: Database) -> None:
    """Median and p90, per platform and over all, are the ceil(p·n/100)-th smallest time for
    every n from 1 to 33, ties included: the same on both databases, however they compute it."""
    base = datetime(2026, 1, 5, 9, tzinfo=UTC)
    platforms = ("ebay", "amazon", "taobao", "etsy", "aliexpress")

    def hours(n: int) -> Callable[[int], float]:
        return lambda i: float((i * 7) % ((n + 1) // 2) + 1)  # about two of each: ties

    def nearest_rank(values: list[float], percent: int) -> float:
        return sorted(values)[-(-percent * len(values) // 100) - 1]

    sizes = {n: (n, n + 3) for n in range(1, 31)}  # two platforms a day: n and n + 3 removals
    groups = [
        Group(
            f"{name}{n}",
            platforms[(n + k) % 5],
            size,
            "removed",
            start=base + timedelta(days=n),
            hours=hours(size),
        )
        for n, pair in sizes.items()
        for k, (name, size) in enumerate(zip(("a", "b"), pair, strict=True))
    ]
    await seed(db, groups=groups)
    for n, pair in sizes.items():
        start = base + timedelta(days=n)
        figures = await _figures(
            db, start=start, end=start + timedelta(days=1), now=start + timedelta(days=9)
        )
        times = [[hours(size)(i) for i in range(size)] for size in pair]
        expected = {
            platforms[(n + k) % 5]: (nearest_rank(values, 50), nearest_rank(values, 90))
            for k, values in enumerate(times)
        }
        assert {p.platform: (p.median_hours, p.p90_hours) for p in figures.platforms} == expected
        everything = times[0] + times[1]
        assert (figures.total.median_hours, figures.total.p90_hours) == (
            nearest_rank(everything, 50),
            nearest_rank(everything, 90),
        )


# -- the period -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "start", "hours"),
    [
        # Monday 26 October 2026, 09:00 CET: the week holds the end of summer time (169 h).
        (datetime(2026, 10, 26, 8, tzinfo=UTC), datetime(2026, 10, 19, 7, tzinfo=UTC), 169),
        # Monday 30 March 2026, 09:00 CEST: the week holds its start (167 h).
        (datetime(2026, 3, 30, 7, tzinfo=UTC), datetime(2026, 3, 23, 8, tzinfo=UTC), 167),
        (datetime(2026, 6, 15, 7, tzinfo=UTC), datetime(2026, 6, 8, 7, tzinfo=UTC), 168),
    ],
)
def test_digest_period_is_seven_days_of_wall_clock(
    now: datetime, start: datetime, hours: int
) -> None:
    period_start, period_end = digest_period(now, BERLIN)
    assert (period_start, period_end) == (start, now)
    assert period_end - period_start == timedelta(hours=hours)
    assert period_start.astimezone(BERLIN).hour == now.astimezone(BERLIN).hour == 9


def test_digest_period_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        digest_period(datetime(2026, 6, 15, 9), BERLIN)


async def test_dst_week_counts_the_listings_at_its_edges(db: Database, config: AppConfig) -> None:
    now = datetime(2026, 10, 26, 8, tzinfo=UTC)  # Monday 09:00 CET, after the change on the 25th
    start = datetime(2026, 10, 19, 7, tzinfo=UTC)  # Monday 09:00 CEST
    tick = timedelta(microseconds=1)

    def at(name: str, when: datetime) -> Group:
        return Group(name, "etsy", 1, "queued", start=when, submit=None, notice="pending")

    await seed(
        db,
        groups=[
            at("before", start - tick),  # the previous week's last moment
            at("first", start),  # the week's first moment
            at("morning", start + timedelta(minutes=30)),  # missed by a naive now - 168 h
            at("sunday", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),  # 02:30 local, second time
            at("last", now - tick),
            at("after", now),  # belongs to the next digest
        ],
    )
    digest = await build_digest(db, config, now=now, chart=False)

    assert (digest.period_start, digest.period_end) == (start, now)
    assert digest.period_end - digest.period_start == timedelta(hours=169)
    assert digest.figures.total.reported == 4  # first, morning, sunday, last
    assert digest.figures.cases == 4
    assert digest.previous.total.reported == 1  # before
    assert digest.previous.start == datetime(2026, 10, 12, 7, tzinfo=UTC)
    # "after" was reported at `now`: not open yet at `now`, so not among the oldest.
    assert [item.key for item in digest.figures.oldest_open] == [
        "etsy:before-0",
        "etsy:first-0",
        "etsy:morning-0",
        "etsy:sunday-0",
        "etsy:last-0",
    ]
    assert digest.chart_png is None
    assert "19 Oct – 26 Oct 2026" in digest.blocks[0]["text"]["text"]
    context = digest.blocks[1]["elements"][0]["text"]
    assert context.startswith("Mon 19 Oct 09:00 – Mon 26 Oct 09:00 CET (Europe/Berlin)")


# -- the message ----------------------------------------------------------------------------------


def _limits(blocks: list[dict[str, object]]) -> None:
    """Slack's Block Kit limits for a message."""
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150  # type: ignore[index]
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000  # type: ignore[index]
            fields = block.get("fields", [])
            assert len(fields) <= 10  # type: ignore[arg-type]
            assert all(len(field["text"]) <= 2000 for field in fields)  # type: ignore[attr-defined,index]
        if block["type"] == "context":
            assert len(block["elements"]) <= 10  # type: ignore[arg-type]


async def test_digest_message_on_the_seeded_week(db: Database, config: AppConfig) -> None:
    seeded = await seed(db)
    digest = await build_digest(db, config, now=NOW)

    assert (digest.period_start, digest.period_end) == (WEEK, NOW)
    assert digest.text == (
        "Takedown digest 8 Jun – 15 Jun: 200 listings reported in 18 cases, 100 removed, "
        "45 rejected, takedown rate 69%, 15 past SLA."
    )
    blocks = digest.blocks
    _limits(blocks)
    assert blocks[0]["text"]["text"] == "Takedown digest · 8 Jun – 15 Jun 2026"
    headline = [*blocks[2]["fields"], *blocks[3]["fields"]]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in headline}
    assert fields == {
        "*Cases reported*": "18   ▲ 13 vs last week",
        "*Listings reported*": "200   ▲ 160 vs last week",
        "*Removed*": "100   ▲ 75 vs last week",
        "*Rejected*": "45   ▲ 30 vs last week",
        "*Needs info*": "15   ▲ 15 vs last week",
        "*Awaiting you*": "0   ±0 vs last week",  # no portal notice waits (see test_awaiting_you)
        "*Still open*": "35   ▲ 35 vs last week",
        # 100/145 = 69.0% against 25/40 = 62.5%
        "*Takedown rate*": "69%   ▲ 6.5 pp vs last week",
        # last week: 25 removal times (2, 4, …, 20 h, ten of 6 h, five of 10 h); the 13th is 6 h
        "*Time to removal*": "median 29 h · p90 3.3 d   median ▲ 23 h vs last week",
        "*Past SLA*": "15   ▲ 10 vs last week",
        "*Relisted*": "4   ▲ 4 vs last week",
    }
    table = blocks[4]["text"]["text"].splitlines()
    assert table[0] == "*By platform*"
    assert table[2].split() == [
        "Platform",
        "Rep",
        "Rem",
        "Rej",
        "Info",
        "You",
        "Open",
        "Rate",
        "Median",
        "p90",
    ]
    assert table[3].split() == [
        "eBay",
        "60",
        "▲40",
        "40",
        "10",
        "5",
        "0",
        "5",
        "80%",
        "▲30",
        "20",
        "h",
        "36",
        "h",
    ]
    assert table[7].split() == [
        "AliExpress", "20", "▲20", "0", "10", "0", "0", "10", "0%", "—", "—"
    ]  # fmt: skip

    sla = blocks[5]["text"]["text"]
    assert sla.startswith(":alarm_clock: *15 listings past their SLA*")
    assert "Taobao 11 (3 d SLA) · eBay 2 (7 d SLA)" in sla

    oldest = blocks[6]["text"]["text"].splitlines()
    assert oldest[0] == "*Oldest open listings*"
    case_id = seeded.cases["o1"][0]
    assert oldest[1].startswith(
        f"• <https://slack.com/archives/C0REPORTS/p1780000023000100|TD-{case_id}> · eBay"
    )
    assert "— in review, reported 1 Apr 2026 (74 days ago)" in oldest[1]
    assert len(oldest) == 6

    sellers = blocks[7]["text"]["text"]
    assert "3. &lt;!channel&gt; Outlet — 10" in sellers
    assert "<!channel>" not in json.dumps(blocks)
    assert blocks[-1]["type"] == "context"
    assert "Chart in the thread." in blocks[-1]["elements"][0]["text"]

    assert digest.chart_png is not None
    assert digest.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert digest.chart_png[12:16] == b"IHDR"


async def test_digest_of_an_empty_week(db: Database, config: AppConfig) -> None:
    digest = await build_digest(db, config, now=NOW)
    assert digest.chart_png is None
    _limits(digest.blocks)
    assert digest.text.startswith("Takedown digest 8 Jun – 15 Jun: 0 listings reported in 0 cases")
    dumped = json.dumps(digest.blocks, ensure_ascii=False)
    assert "No listings reported in this period or the one before." in dumped
    assert "Takedown rate*\\n—   — vs last week" in dumped
    assert "Oldest open" not in dumped


def test_digest_blocks_stay_within_slack_limits_and_escape_everything() -> None:
    hostile = "<!channel> <@U123> <https://evil.example|click> & " + "x" * 3000
    platforms = tuple(
        PlatformFigures(f"{hostile}{n}", 100 - n, 50, 10, 5, 30, 5, 1, 12.5, 80.0)
        for n in range(60)
    )
    oldest = tuple(
        OldListing(
            n, n, f"{hostile}", f"{hostile}:{n}", f"https://evil.example/a>b|c<d?{n}", "queued",
            datetime(2026, 1, 1, tzinfo=UTC), "C0REPORTS", "1700000000.000100",
        )
        for n in range(5)
    )  # fmt: skip
    figures = PeriodFigures(
        start=WEEK,
        end=NOW,
        now=NOW,
        cases=10**6,
        platforms=platforms,
        total=PlatformFigures("", 10**6, 10**5, 10**4, 10, 10, 10, 10, 1.0, 2.0),
        past_sla={item.platform: 10**4 for item in platforms},
        oldest_open=oldest,
        top_sellers=tuple(SellerCount(f"{hostile}{n}", 10) for n in range(5)),
    )
    empty = PeriodFigures(
        start=PREVIOUS_WEEK,
        end=WEEK,
        now=WEEK,
        cases=0,
        platforms=(),
        total=PlatformFigures("", 0, 0, 0, 0, 0, 0, 0, None, None),
        past_sla={},
        oldest_open=(),
        top_sellers=(),
    )
    text, blocks = digest_blocks(figures, empty, zone=BERLIN, sla={}, chart=True)
    _limits(blocks)
    dumped = json.dumps(blocks)
    for raw in ("<!channel>", "<@U123>", "<https://evil.example|click>", "a>b", "c<d"):
        assert raw not in dumped
    assert "… and 40 more platforms" in json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in text

    png = render_chart(figures, zone=BERLIN)
    assert png is not None and png.startswith(b"\x89PNG")
