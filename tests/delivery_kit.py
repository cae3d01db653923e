"""What the exactly-once tests share: the eBay and Mercado Libre configuration (fake servers on
loopback, approvers named), a bot whose worker runs only when a test says (so a test can stop
"the worker" between two of its steps, as a kill -9 would), and readers of what the bot stored
and said.

    async with held_back_bot(settings, db, slack) as bot:   # no worker running
        await bot.submit_report(urls=EBAY)
        await run_jobs(bot)                                   # every due job, until none is due
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from app_yaml import build_config
from conftest import EBAY_TOKEN, MELI_TOKEN, SlackDriver, eventually
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from sqlalchemy import select

from bot.app import create_app
from bot.config.environment import Settings
from bot.config.schema import AppConfig
from storage.db import Database
from storage.models import Event, Job, Listing, Notice

EBAY = "https://www.ebay.com/itm/123456789012"
MELI = "https://articulo.mercadolibre.com.ar/MLA-1234567890-mochila-acme-_JM"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
REPORTER = "U0REPORTER"  # files the reports; not an approver
APPROVER = "U0LEGAL"
APPROVER_2 = "U0LEGAL2"


def platforms_config(ebay: FakeEbayVero, meli: FakeMercadoLibre, **changes: Any) -> AppConfig:
    """eBay and Mercado Libre on their fakes (Taobao is a portal), two approvers, a short
    backoff: a submit job gets two runs, one second apart."""
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "poll_every": "1s",
            "timeout": 6,
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1"},
            "poll_every": "1s",
            "timeout": 6,
        },
    }
    return build_config(
        platforms=platforms,
        access={"approvers": [APPROVER, APPROVER_2]},
        delivery={"backoff": ["1s"]},
        environ={"EBAY_VERO_TOKEN": EBAY_TOKEN, "MELI_TOKEN": MELI_TOKEN},
        **changes,
    )


@asynccontextmanager
async def held_back_bot(
    settings: Settings, db: Database, slack: FakeSlack
) -> AsyncIterator[SlackDriver]:
    """The bot behind its real endpoint, its worker not running: `run_jobs` runs what is due."""
    app = create_app(settings, db=db, run_worker=False, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("")).rstrip("/")
            yield SlackDriver(http=http, url=url, slack=slack, bot=app)
    finally:
        await server.close()


async def run_jobs(bot: SlackDriver) -> None:
    """Run every job that is due, and those they queue, until none is due."""
    await bot.bot.worker.run_until_idle(timeout=60)


async def run_jobs_until(bot: SlackDriver, check: Callable[[], Awaitable[Any]]) -> Any:
    """Run due jobs again and again (retries fall due after their backoff) until `check()`."""

    async def ran() -> Any:
        await run_jobs(bot)
        return await check()

    return await eventually(ran, timeout=30, interval=0.2)


async def rows(bot: SlackDriver, model: Any) -> list[Any]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())


async def notices(bot: SlackDriver) -> list[Notice]:
    return await rows(bot, Notice)


async def only_notice(bot: SlackDriver) -> Notice:
    [notice] = await notices(bot)
    return notice


async def listings(bot: SlackDriver) -> list[Listing]:
    return await rows(bot, Listing)


async def events(bot: SlackDriver, kind: str | None = None) -> list[Event]:
    found = await rows(bot, Event)
    return [event for event in found if kind is None or event.kind == kind]


async def jobs(bot: SlackDriver, kind: str) -> list[Job]:
    return [job for job in await rows(bot, Job) if job.kind == kind]


def thread(bot: SlackDriver) -> str:
    """Every reply posted in a case thread, text and blocks, as one string."""
    return "\n".join(
        json.dumps(call.params.get("blocks")) + str(call.params.get("text", ""))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts")
    )


def told(bot: SlackDriver, user: str | None = None) -> list[str]:
    """The ephemeral answers the bot gave (to `user`)."""
    return [
        str(call.params.get("text"))
        for call in bot.slack.calls_to("chat.postEphemeral")
        if user is None or call.params.get("user") == user
    ]


def creates(ebay: FakeEbayVero) -> list[Any]:
    """The VeRO reports the bot tried to file (each POST, answered or not)."""
    return [r for r in ebay.requests if r.method == "POST"]
