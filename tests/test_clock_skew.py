"""Two bots on hosts whose clocks differ by 2 minutes (the skew injected through each bot's
`clock`) share one queue and never run one job twice: lease deadlines, claims, heartbeats and due
times are the database's, so a host whose clock lags neither runs a retry before its time nor
lets its leases look expired to the other. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from app_yaml import build_config
from conftest import EBAY_TOKEN, eventually
from fakes.ebay import FakeEbayVero
from fakes.slack import FakeSlack
from sqlalchemy import select

from bot.app import TakedownBot, create_app
from bot.config.schema import AppConfig
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import Job, utcnow

SKEW = timedelta(minutes=2)


@pytest.fixture
def config(ebay: FakeEbayVero) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "poll_every": "1h",
            "timeout": 5,
        }
    }
    return build_config(
        platforms=platforms,
        delivery={"lease": "2s"},  # shorter than the slow answers below: leases must be renewed
        environ={"EBAY_VERO_TOKEN": EBAY_TOKEN},
    )


def _host(offset: timedelta) -> Callable[[], datetime]:
    return lambda: utcnow() + offset


@pytest.fixture
async def hosts(settings_for: Any, db: Database) -> AsyncIterator[list[TakedownBot]]:
    """The bot on the database's host, and one on a host whose clock is 2 minutes behind."""
    bots = [
        create_app(settings_for(), db=db, clock=_host(offset), worker_poll_interval=0.05)
        for offset in (timedelta(0), -SKEW)
    ]
    yield bots
    for bot in bots:
        await bot.close()


async def _open(bot: TakedownBot, n: int) -> None:
    draft = ReportDraft(
        urls_text=f"https://www.ebay.com/itm/{310000000000 + n}",
        brand="Acme",
        right_id="acme-eu-tm",
        infringement="counterfeit",
        description=f"Counterfeit ACME backpacks using our registered mark ({n}).",
    )
    await open_case(
        bot.db,
        config=bot.settings.config,
        draft=draft,
        reporter_id="U0REPORTER",
        team_id="T1",
        channel_id="C0TEAM",
        intake_key=f"skew-{n}",
    )


async def _jobs(db: Database) -> list[Job]:
    async with db.sessions() as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def _settled(db: Database, count: int) -> bool:
    """`count` submit jobs have each run and ended their run; every Slack post is done."""
    jobs = await _jobs(db)
    submits = [job for job in jobs if job.kind == "submit"]
    return (
        len(submits) == count
        and all(job.attempts >= 1 and job.state != "running" for job in submits)
        and all(job.state == "done" for job in jobs if job.kind == "notify")
    )


async def test_workers_whose_clocks_differ_by_two_minutes_never_run_one_job_twice(
    hosts: list[TakedownBot], ebay: FakeEbayVero, slack: FakeSlack, db: Database
) -> None:
    here, behind = hosts
    # The lagging host alone first: eBay asks it to come back in a minute. Its retries are due a
    # minute after the database's now, not a minute after its own (already past) now.
    ebay.rate_limit_next(retry_after="60", times=3)
    await behind.start()
    for n in range(3):
        await _open(behind, n)
    await eventually(lambda: _settled(db, 3), timeout=20)

    # Both hosts: answers slower than the lease, so each run outlives it and must renew it.
    await here.start()
    ebay.slow_next(delay=3, times=3)
    for n in range(3, 6):
        await _open(here if n % 2 else behind, n)
    await eventually(lambda: _settled(db, 6), timeout=30)

    posts = Counter(
        item["itemId"]
        for request in ebay.requests
        if request.method == "POST"
        for item in request.json["reportItems"]
    )
    assert len(posts) == 6 and set(posts.values()) == {1}, posts  # each notice sent once
    submits = [job for job in await _jobs(db) if job.kind == "submit"]
    assert [job.attempts for job in submits] == [1] * 6  # never claimed a second time
    assert [job.state for job in submits] == ["queued"] * 3 + ["done"] * 3
    parents = Counter(
        call.params["text"]
        for call in slack.calls_to("chat.postMessage")
        if not call.params.get("thread_ts")
    )
    assert len(parents) == 6 and set(parents.values()) == {1}, parents  # each posted once
