"""Benchmark 4 (and 5, its memory): the weekly digest and the platform scorecard over 1,000,000
listings, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.figures [--listings 1000000] [--postgres URL] [--skip-sqlite]

The data is generated inside the database (generate_series / a recursive CTE): 20,000 cases of
50 listings on 8 platforms over 60 days, with a realistic mix of statuses and decision times and
a needs-info event for 5 % of listings. Prints the time of each figure and this process's peak
RSS (the same code a worker runs for a scheduled digest). Target: ≤ 1 s on PostgreSQL, ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from sqlalchemy import text

from bench._common import machine, peak_rss_mb, scratch_postgres
from bot.config.loading import load_config
from bot.figures.digest import build_digest
from bot.figures.scorecard import build_scorecard
from storage.db import Database
from storage.models import utcnow

PLATFORMS = "ARRAY['ebay','amazon','aliexpress','taobao','etsy','shopee','temu','mercadolibre']"
SPAN = 60 * 86400  # seconds of history


def _statements(dialect: str, listings: int) -> list[str]:
    cases = listings // 50
    if dialect == "postgresql":
        series = "generate_series(1::bigint, {n}) AS g"
        ago = "now() - ({expr}) * interval '1 second'"
        platform = f"({PLATFORMS})[1 + g % 8]"
        text_of = "g::text"
    else:
        series = "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s)"
        ago = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ({expr}) || ' seconds')"
        platform = (
            "CASE g % 8 WHEN 0 THEN 'ebay' WHEN 1 THEN 'amazon' WHEN 2 THEN 'aliexpress' WHEN 3 THEN 'taobao' "
            "WHEN 4 THEN 'etsy' WHEN 5 THEN 'shopee' WHEN 6 THEN 'temu' ELSE 'mercadolibre' END"
        )
        text_of = "CAST(g AS TEXT)"
    # Reported up to 60 days (+ 202 h) ago, submitted an hour later, decided 0-199 h after that:
    # every moment is in the past.
    base = f"((g * 7919) % {SPAN} + 202 * 3600)"
    created = ago.format(expr=base)
    submitted = ago.format(expr=f"{base} - 3600")
    decided = ago.format(expr=f"{base} - 3600 - (g % 200) * 3600")
    status = (
        "CASE WHEN g % 20 < 8 THEN 'removed' WHEN g % 20 < 10 THEN 'rejected' WHEN g % 20 < 16 THEN 'in_review' "
        "WHEN g % 20 = 16 THEN 'needs_info' WHEN g % 20 = 17 THEN 'queued' ELSE 'submitted' END"
    )
    decided_when = f"CASE WHEN g % 20 < 10 OR g % 20 = 16 THEN {decided} END"
    submitted_when = f"CASE WHEN g % 20 = 17 THEN NULL ELSE {submitted} END"
    empty_json = "'[]'" if dialect == "sqlite" else "'[]'::json"
    empty_obj = "'{}'" if dialect == "sqlite" else "'{}'::json"
    detail = '\'{"to": "needs_info"}\'' + ("" if dialect == "sqlite" else "::json")
    return [
        "INSERT INTO cases (id, brand, right_id, infringement, description, evidence, reporter_id, created_at, updated_at) "
        f"SELECT g, 'Acme', 'acme-eu-tm', 'counterfeit', 'bench', {empty_json}, 'U0BENCH', "
        f"{ago.format(expr=f'(g * 50 * 7919) % {SPAN}')}, {ago.format(expr='0')} FROM {series.format(n=cases)}",
        "INSERT INTO listings (case_id, position, platform, key, url, submitted_url, seller, status, created_at, "
        "updated_at, submitted_at, decided_at) "
        f"SELECT (g - 1) / 50 + 1, (g - 1) % 50, {platform}, 'bench:' || {text_of}, 'https://example.com/' || {text_of}, "
        f"'https://example.com/' || {text_of}, 'seller' || ({text_of}), {status}, {created}, {created}, "
        f"{submitted_when}, {decided_when} FROM {series.format(n=listings)}",
        "INSERT INTO events (case_id, listing_id, actor, kind, detail, created_at) "
        f"SELECT (g - 1) / 50 + 1, g, 'platform', 'status_changed', {detail}, {decided} "
        f"FROM {series.format(n=listings)} WHERE g % 20 = 16",
        f"INSERT INTO events (case_id, actor, kind, detail, created_at) SELECT g, 'U0BENCH', 'opened', {empty_obj}, "
        f"{ago.format(expr='0')} FROM {series.format(n=cases)}",
    ]


async def run(url: str, listings: int, label: str) -> None:
    config = load_config("app.yaml")
    db = Database(url)
    await db.migrate()
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        for statement in _statements(db.dialect, listings):
            await conn.execute(text(statement))
        if db.is_postgres:
            await conn.execute(text("ANALYZE"))
    print(f"  {label}: {listings:,} listings generated in {time.perf_counter() - started:.1f} s")
    now = utcnow()
    for name, work in (
        ("digest figures (no chart)", lambda: build_digest(db, config, now=now, chart=False)),
        ("digest with chart", lambda: build_digest(db, config, now=now)),
        ("scorecard, all time", lambda: build_scorecard(db, config, since=None, now=now)),
    ):
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            await work()
            timings.append(time.perf_counter() - started)
        print(
            f"  {label}: {name:28} best {min(timings):6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in timings)})"
        )
    print(f"  {label}: peak RSS of this process {peak_rss_mb():.0f} MB")
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"figures over {args.listings:,} listings — machine: {machine()}")
    try:
        async with scratch_postgres(args.postgres) as url:
            await run(url, args.listings, "PostgreSQL")
    except OSError as exc:
        print(f"  PostgreSQL: not reachable ({exc})")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.listings, "SQLite")


if __name__ == "__main__":
    asyncio.run(main())
