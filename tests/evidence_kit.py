"""What the evidence tests share: the bot with captures on and its evidence in a test folder.

async with capturing_bot(config=capture_config(), slack=slack, db=db,
                         database_url=database_url, folder=tmp_path, market=market) as bot:
    await bot.submit_report(urls=...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from app_yaml import build_config
from conftest import BOT_TOKEN, SIGNING_SECRET, SlackDriver
from fakes.marketplace import FakeMarketplace
from fakes.slack import FakeSlack

from bot.app import create_app
from bot.config.environment import Environment, Settings
from bot.config.schema import AppConfig
from storage.db import Database


def capture_config(**changes: Any) -> AppConfig:
    """The tests' configuration with captures on (the base turns them off)."""
    evidence = {"capture": True, **changes.pop("evidence", {})}
    return build_config(evidence=evidence, **changes)


@asynccontextmanager
async def capturing_bot(
    *, config: AppConfig, slack: FakeSlack, db: Database, database_url: str, folder: Path,
    market: FakeMarketplace | None = None, run_worker: bool = True,
) -> AsyncIterator[SlackDriver]:  # fmt: skip
    """The bot with captures on, its evidence in `folder`, the marketplace hosts served by
    `market` (the only relaxation of the guard: explicit, host by host); without `run_worker`,
    its worker held back (the test runs the jobs: `delivery_kit.run_jobs`)."""
    env = Environment.from_environ(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url,
            "EVIDENCE_URL": f"file://{folder}",
        }
    )
    app = create_app(
        Settings(config=config, env=env), db=db, run_worker=run_worker, worker_poll_interval=0.05
    )
    if market is not None:
        app.runtime.capture_hosts = market.policy()
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield SlackDriver(
                http=http, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app
            )
    finally:
        await server.close()
