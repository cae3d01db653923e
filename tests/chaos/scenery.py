"""What the added chaos scenarios share: the fake platforms with a lookup outage switch and random
faults, two bots over one PostgreSQL database (each its own worker, HTTP session and clock), a
stream of cases, and the platforms deciding everything they received."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from app_yaml import config_yaml
from conftest import BOT_TOKEN, SIGNING_SECRET
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.server import Scripted
from fakes.slack import FakeSlack
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select, text
from tally import Figures, tally

from bot.app import TakedownBot, create_app
from bot.config.environment import Environment, Settings
from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import Job, Listing, Notice, utcnow

EBAY_TOKEN = "chaos-ebay-token-0123456789"
MELI_TOKEN = "chaos-meli-token-0123456789"
HOOK_SECRET = "chaos-webhook-secret-0123456789"
TABLES = "events, listings, notices, jobs, cases, oauth_tokens"


@dataclass
class Trouble:
    """How a fake platform misbehaves now: every lookup (GET) refused during an outage, and each
    request refused or answered slowly with `probability` (the kinds drawn from `kinds`)."""

    outage: bool = False
    probability: float = 0.0
    kinds: tuple[str, ...] = ("503", "429", "slow")
    rng: random.Random = field(default_factory=random.Random)
    injected: int = 0

    def pick(self, method: str) -> tuple[web.Response | None, Scripted | None] | None:
        if self.outage and method == "GET":
            self.injected += 1
            return web.Response(status=503), None
        if self.probability and self.rng.random() < self.probability:
            self.injected += 1
            kind = self.rng.choice(self.kinds)
            if kind == "slow":
                return None, Scripted("slow", delay=2.0)
            headers = {"Retry-After": "2"} if kind == "429" else {}
            return web.Response(status=int(kind), headers=headers), None
        return None


class TroubledEbay(FakeEbayVero):
    trouble: Trouble

    def _refuse_first(self, request: web.Request) -> Any:
        return self.trouble.pick(request.method) or super()._refuse_first(request)


class TroubledMercadoLibre(FakeMercadoLibre):
    trouble: Trouble

    def _refuse_first(self, request: web.Request) -> Any:
        return self.trouble.pick(request.method) or super()._refuse_first(request)


class TroubledWebhook(FakeWebhookReceiver):
    trouble: Trouble

    def _refuse_first(self, recorded: Any) -> Any:
        return self.trouble.pick(recorded.method) or super()._refuse_first(recorded)


@dataclass
class Platforms:
    slack: FakeSlack
    ebay: TroubledEbay
    meli: TroubledMercadoLibre
    hook: TroubledWebhook

    @classmethod
    async def start(cls, trouble: Trouble) -> Platforms:
        ebay, meli = TroubledEbay(token=EBAY_TOKEN), TroubledMercadoLibre(token=MELI_TOKEN)
        hook = TroubledWebhook(secret=HOOK_SECRET)
        for fake in (ebay, meli, hook):
            fake.trouble = trouble
        platforms = cls(FakeSlack(), ebay, meli, hook)
        for fake in (platforms.slack, ebay, meli, hook):
            await fake.start()
        return platforms

    async def stop(self) -> None:
        for fake in (self.hook, self.meli, self.ebay, self.slack):
            await fake.stop()

    def settings(self, database_url: str, delivery: dict[str, Any]) -> Settings:
        platforms = {
            "ebay": {
                "adapter": "ebay_vero",
                "base_url": self.ebay.base_url,
                "token": "${EBAY_VERO_TOKEN}",
                "reason_codes": {"counterfeit": "1001"},
                "timeout": 4,
                "poll_every": "1s",
            },
            "mercadolibre": {
                "adapter": "mercadolibre",
                "base_url": self.meli.base_url,
                "token": "${MELI_TOKEN}",
                "report_reasons": {"counterfeit": "PPPI1"},
                "timeout": 4,
                "poll_every": "1s",
            },
            "vendor": {
                "adapter": "webhook",
                "serves": ["temu"],
                "base_url": self.hook.base_url,
                "secret": "${WEBHOOK_SECRET}",
                "timeout": 4,
                "poll_every": "1s",
            },
        }
        environ = {
            "EBAY_VERO_TOKEN": EBAY_TOKEN,
            "MELI_TOKEN": MELI_TOKEN,
            "WEBHOOK_SECRET": HOOK_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "DATABASE_URL": database_url,
        }
        config = parse_config(config_yaml(platforms=platforms, delivery=delivery), environ=environ)
        return Settings(config=config, env=Environment.from_environ(environ))

    async def tally(self, db: Database) -> Figures:
        """The four figures of the settled scenario, over every platform's fake."""
        return await tally(db, self.slack, ebay=self.ebay, meli=self.meli, hook=self.hook)

    def decide_everything(self) -> int:
        """Every listing a platform received is removed; returns how many."""
        decided = 0
        for report in self.ebay.reports.values():
            for item_id in report.items:
                self.ebay.decide(report.report_id, item_id, "Removed")
                decided += 1
        for denounce in self.meli.denounces.values():
            self.meli.decide(denounce.denounce_id, "ITEM_REMOVED")
            decided += 1
        for notice in self.hook.notices.values():
            for listing in notice.body.get("listings", []):
                self.hook.decide(listing["key"], "removed")
                decided += 1
        return decided


def seeded(title: str) -> random.Random:
    """The scenario's random source: from TAKEDOWN_CHAOS_SEED (to replay a run) or a fresh seed,
    printed under `title`."""
    seed = int(os.environ.get("TAKEDOWN_CHAOS_SEED") or random.randrange(1_000_000))
    print(f"\n== {title}: seed {seed} ==")
    return random.Random(seed)


async def clean_database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return db


def bots(
    settings: Settings, db: Database, clocks: list[Callable[[], datetime]]
) -> list[TakedownBot]:
    """One bot (its worker, HTTP session, adapters) per clock, over one database."""
    return [create_app(settings, db=db, clock=clock, worker_poll_interval=0.05) for clock in clocks]


def on_time() -> datetime:
    return utcnow()


def urls(n: int, rng: random.Random) -> str:
    """A case's listings: two or three of eBay, Mercado Libre and Temu (the webhook vendor)."""
    lines = []
    for platform in rng.sample(["ebay", "mercadolibre", "temu"], k=rng.choice([2, 3])):
        if platform == "ebay":
            lines.append(f"https://www.ebay.com/itm/{310000000000 + n}")
        elif platform == "mercadolibre":
            lines.append(f"https://articulo.mercadolibre.com.ar/MLA-{1500000000 + n}")
        else:
            lines.append(f"https://www.temu.com/acme-g-{601099500000000 + n}.html")
    return "\n".join(lines)


async def open_cases(db: Database, settings: Settings, count: int, rng: random.Random) -> None:
    for n in range(count):
        draft = ReportDraft(
            urls_text=urls(n, rng),
            brand="Acme",
            right_id="acme-eu-tm",
            infringement="counterfeit",
            description=f"Counterfeit ACME backpacks using our registered mark (chaos {n}).",
        )
        await open_case(
            db,
            config=settings.config,
            draft=draft,
            reporter_id="U0REPORTER",
            team_id="T1",
            channel_id="C0TEAM",
            intake_key=f"chaos-{n}",
        )


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars().all())


async def delivered(db: Database) -> bool:
    """Every notice sent, and every submit and Slack job done."""
    notices, jobs = await rows(db, Notice), await rows(db, Job)
    return all(n.status == "sent" for n in notices) and all(
        job.state == "done" for job in jobs if job.kind in ("submit", "notify")
    )


async def decided(db: Database) -> bool:
    """Every listing removed, and every Slack job done."""
    listings, jobs = await rows(db, Listing), await rows(db, Job)
    return all(item.status == "removed" for item in listings) and all(
        job.state == "done" for job in jobs if job.kind == "notify"
    )


async def wait(check: Callable[[], Any], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"not settled within {timeout:.0f}s: {what}")
