"""Benchmark 2: intake of 10,000 URLs — parsed, validated, deduplicated and stored as one case.

    .venv/bin/python -m bench.intake [--urls 10000] [--postgres postgresql://postgres@127.0.0.1/postgres]

Prints URLs per second on SQLite and (when reachable) PostgreSQL. Target: ≥ 5,000 URLs/s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

from bench._common import machine, scratch_postgres
from bot.config.loading import load_config
from bot.intake.cases import ReportDraft, open_case, parse_report
from storage.db import Database

HOSTS = (
    "https://www.ebay.com/itm/{n}",
    "https://www.amazon.de/dp/B0{n:08d}",
    "https://item.taobao.com/item.htm?id={n}",
    "https://www.aliexpress.com/item/{n}.html",
    "https://www.etsy.com/listing/{n}/acme",
)


def urls(count: int, offset: int) -> str:
    lines = []
    for i in range(count):
        n = 100_000_000_000 + offset + i
        template = HOSTS[i % len(HOSTS)]
        lines.append(template.format(n=n % 100_000_000 if "amazon" in template else n))
    return "\n".join(lines)


async def run(url: str, count: int) -> tuple[float, float]:
    config = load_config("app.yaml")
    db = Database(url)
    await db.migrate()
    draft = ReportDraft(
        urls_text=urls(count, offset=int(time.time() * 1000) % 10_000_000 * 1000),
        brand="Acme",
        right_id="acme-eu-tm",
        infringement="counterfeit",
        description="Counterfeit ACME backpacks sold with our registered mark.",
    )
    started = time.perf_counter()
    parse_report(config, draft)
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    await open_case(
        db,
        config=config,
        draft=draft,
        reporter_id="U0BENCH",
        team_id=None,
        channel_id="C0BENCH",
        intake_key=uuid.uuid4().hex,
    )
    total = time.perf_counter() - started
    await db.dispose()
    return count / parsed, count / total


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"intake of {args.urls:,} URLs as one case — machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        parse_rate, rate = await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.urls)
        print(f"  parse + validate only   {parse_rate:10,.0f} URLs/s")
        print(f"  SQLite (open_case)      {rate:10,.0f} URLs/s   (target ≥ 5,000)")
    try:
        async with scratch_postgres(args.postgres) as url:
            _, rate = await run(url, args.urls)
        print(f"  PostgreSQL (open_case)  {rate:10,.0f} URLs/s")
    except OSError as exc:
        print(f"  PostgreSQL: not reachable ({exc})")


if __name__ == "__main__":
    asyncio.run(main())
