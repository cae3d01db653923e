"""Whatever a Retry-After says, a job is rescheduled within `delivery.max_retry_after`: a huge
number of seconds and a date in 9999 wait the ceiling; `-1`, `inf`, `1e12`, NaN (not seconds as
HTTP writes them, so ignored) and a date in 1970 mean now. Nothing a
platform answers can leave a job `running` to be claimed again at every lease and sent again.

Through the fake eBay answering 429 and 503 to the bot's real worker, and through the worker alone
(whatever number an adapter hands it); on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from app_yaml import build_config
from conftest import EBAY_TOKEN, SlackDriver, eventually
from fakes.ebay import FakeEbayVero
from sqlalchemy import select

from bot.config.loading import parse_config
from bot.config.schema import AppConfig, ConfigError
from bot.jobs.worker import JobContext, JobHandler, RetryLater, Worker
from storage import jobs
from storage.db import Database
from storage.models import Job, Notice, utcnow

EBAY_1 = "https://www.ebay.com/itm/123456789012"
HOUR = timedelta(hours=1)
LONG = ("999999999999", "Fri, 31 Dec 9999 23:59:59 GMT")  # wait the ceiling
# Not delay-seconds (digits only) nor a date, so ignored; or a date passed: nothing to wait for.
NOW = ("-1", "inf", "1e12", "nan", "Thu, 01 Jan 1970 00:00:00 GMT")


@pytest.fixture
def config(ebay: FakeEbayVero) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "poll_every": "1h",
            "timeout": 2,
        }
    }
    return build_config(platforms=platforms, environ={"EBAY_VERO_TOKEN": EBAY_TOKEN})


def _refuse(ebay: FakeEbayVero, status: int, retry_after: str) -> None:
    ebay.refuse_next(status=status, headers={"Retry-After": retry_after})


async def _submit_job(bot: SlackDriver) -> Job | None:
    async with bot.bot.db.sessions() as session:
        found = (await session.execute(select(Job).where(Job.kind == "submit"))).scalars().all()
    return found[0] if found and found[0].attempts >= 1 and found[0].state != "running" else None


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", LONG)
async def test_an_absurdly_long_retry_after_waits_the_ceiling(
    bot: SlackDriver, ebay: FakeEbayVero, status: int, retry_after: str
) -> None:
    _refuse(ebay, status, retry_after)
    before = utcnow()
    await bot.submit_report(urls=EBAY_1)
    job = await eventually(lambda: _submit_job(bot), timeout=20)
    assert (job.state, job.attempts) == ("queued", 1)
    assert (
        before + HOUR - timedelta(minutes=1) < job.run_at < utcnow() + HOUR + timedelta(minutes=1)
    )
    assert len([r for r in ebay.requests if r.method == "POST"]) == 1  # sent once, not re-sent
    async with bot.bot.db.sessions() as session:
        [notice] = (await session.execute(select(Notice))).scalars().all()
    assert notice.status == "pending"  # waiting for its next try, not stuck `sending`


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", NOW)
async def test_a_retry_after_in_the_past_or_not_a_number_means_now(
    bot: SlackDriver, ebay: FakeEbayVero, status: int, retry_after: str
) -> None:
    _refuse(ebay, status, retry_after)
    await bot.submit_report(urls=EBAY_1)

    async def sent() -> bool:
        async with bot.bot.db.sessions() as session:
            notices = (await session.execute(select(Notice))).scalars().all()
        return [notice.status for notice in notices] == ["sent"]

    await eventually(sent, timeout=20)
    assert len(ebay.reports) == 1


@pytest.mark.parametrize(
    ("delay", "waits"),
    [
        (math.inf, timedelta(minutes=10)),
        (1e12, timedelta(minutes=10)),
        (1e308, timedelta(minutes=10)),
        (-math.inf, timedelta(0)),
        (-1.0, timedelta(0)),
        (math.nan, timedelta(minutes=1)),  # says nothing: the backoff's first step
    ],
)
async def test_the_worker_reschedules_whatever_delay_a_runner_asks_for(
    db: Database, delay: float, waits: timedelta
) -> None:
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, kind="busy", payload={})

    async def busy(ctx: JobContext[Any]) -> None:
        if ctx.job.attempts == 1:
            raise RetryLater("the platform is busy", delay=delay)

    worker = Worker(
        db=db,
        kinds={"busy": JobHandler(busy)},
        backoff=[timedelta(minutes=1)],
        max_retry_after=timedelta(minutes=10),
    )
    before = utcnow()
    await worker.run_until_idle(timeout=10)
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    if waits:
        assert (job.state, job.attempts) == ("queued", 1)
        assert waits * 0.85 < job.run_at - before < waits * 1.15 + timedelta(seconds=5)
    else:  # due at once: run again at once, and done
        assert (job.state, job.attempts) == ("done", 2)


def test_max_retry_after_is_one_hour_unless_configured() -> None:
    assert build_config().delivery.max_retry_after == HOUR
    configured = build_config(delivery={"max_retry_after": "10m"})
    assert configured.delivery.max_retry_after == timedelta(minutes=10)


@pytest.mark.parametrize("value", ["0s", "-5m", "2d", "soon", 1e12])
def test_max_retry_after_that_is_not_a_sensible_duration_is_refused(value: object) -> None:
    from app_yaml import config_yaml

    with pytest.raises(ConfigError) as refused:
        parse_config(config_yaml(delivery={"max_retry_after": value}), environ={})
    [line] = refused.value.errors
    assert line.startswith("delivery.max_retry_after"), line
