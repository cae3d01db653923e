"""Benchmark: evidence captures of 1,000 listings against a fake marketplace answering in 50 ms,
bounded by the platform's configured concurrency.

    .venv/bin/python -m bench.capture [--listings 1000] [--concurrency 8] [--postgres URL]

One case of `--listings` eBay listings is filed (`open_case`, which queues a capture job per
listing); the bot (its real worker, in this process) captures each page from the fake marketplace
(tests/fakes/marketplace.py, on loopback, 50 ms per answer) into a folder evidence store. Prints
the captures per second (from the first capture recorded to the last, and from the worker's
start), the most requests the marketplace saw at once, the bound `concurrency / latency`, and this
process's peak RSS (the bot, the fake marketplace and the fake Slack together).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench._common import machine, peak_rss_mb, scratch_postgres
from bot.app import create_app
from bot.config.environment import Environment, Settings
from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import EvidenceItem

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.marketplace import FakeMarketplace
from fakes.slack import FakeSlack

LATENCY = 0.05

CONFIG = """
team: {{timezone: Europe/Berlin, report_channel: C0BENCH}}
rights_holder: {{name: Acme Outdoor GmbH, email: bp@acme.example, address: "Hauptstr. 1, Berlin", signatory: Jane Roe}}
brands:
  - name: Acme
    rights: [{{id: acme-eu-tm, kind: trademark, mark: ACME, number: "018123456", office: EUIPO, classes: [18]}}]
platforms:
  ebay: {{adapter: portal, max_concurrency: {concurrency}}}
limits: {{reports_per_hour: 100000}}
"""


async def _count(db: Database) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(EvidenceItem)) or 0)


async def run(url: str, *, listings: int, concurrency: int, folder: Path) -> None:
    config = parse_config(CONFIG.format(concurrency=concurrency), environ={})
    db = Database(url)
    await db.migrate()
    urls = [f"https://www.ebay.com/itm/{300000000000 + n}" for n in range(listings)]
    async with FakeMarketplace() as market, FakeSlack() as slack:
        for item in urls:
            market.page(item, "ebay_listing.html")
        market.latency = LATENCY
        await open_case(
            db,
            config=config,
            draft=ReportDraft(
                urls_text="\n".join(urls),
                brand="Acme",
                right_id="acme-eu-tm",
                infringement="counterfeit",
                description="Counterfeit ACME backpacks sold with our registered mark.",
            ),
            reporter_id="U0BENCH",
            team_id=None,
            channel_id="C0BENCH",
            intake_key="bench-capture",
        )
        env = Environment.from_environ(
            {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": "bench",
                "SLACK_API_URL": slack.api_url,
                "DATABASE_URL": url,
                "EVIDENCE_URL": f"file://{folder}",
            }
        )
        app = create_app(Settings(config=config, env=env), db=db, worker_poll_interval=0.05)
        app.runtime.capture_hosts = market.policy()
        started = time.perf_counter()
        await app.start()
        first: tuple[float, int] | None = None
        done = 0
        while done < listings:
            await asyncio.sleep(0.1)
            done = await _count(db)
            if first is None and done:
                first = (time.perf_counter(), done)
        ended = time.perf_counter()
        await app.close()
    await db.dispose()
    assert first is not None
    steady = (listings - first[1]) / max(ended - first[0], 1e-9)
    print(f"  listings {listings}, concurrency {concurrency}, latency {LATENCY * 1000:.0f} ms")
    print(f"  captures/s: {steady:.1f} steady ({listings / (ended - started):.1f} from the start)")
    print(f"  bound: {concurrency / LATENCY:.0f}/s; most requests at once: {market.in_flight_max}")
    print(f"  peak RSS of this process: {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL server")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as workdir:
        print("SQLite:")
        asyncio.run(
            run(
                f"sqlite+aiosqlite:///{workdir}/bench.db",
                listings=args.listings,
                concurrency=args.concurrency,
                folder=Path(workdir) / "evidence",
            )
        )
    if args.postgres:

        async def on_postgres(workdir: str) -> None:
            async with scratch_postgres(args.postgres) as url:
                await run(
                    url,
                    listings=args.listings,
                    concurrency=args.concurrency,
                    folder=Path(workdir) / "evidence",
                )

        with tempfile.TemporaryDirectory() as workdir:
            print("PostgreSQL:")
            asyncio.run(on_postgres(workdir))


if __name__ == "__main__":
    main()
