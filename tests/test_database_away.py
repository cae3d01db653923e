"""A job that has posted to Slack writes that down even if the database goes away at that moment:
it waits for the database instead of failing, so the job does not run again and post twice.

PostgreSQL only: the test refuses the bot's connections (and ends the ones it has) right after
Slack takes the thread reply, and allows them again two seconds later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from conftest import SlackDriver, _admin, eventually
from fakes.slack import FakeSlack
from sqlalchemy import select
from sqlalchemy.engine import make_url

from storage.models import Job

TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"


class OutageAfterReply(FakeSlack):
    """Takes the database away just after a thread reply is posted (once)."""

    database: str | None = None
    outage: asyncio.Task[None] | None = None

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        method = request.match_info["method"]
        if method == "chat.postMessage" and self.database and self.outage is None:
            params = self.calls[-1].params
            if params.get("thread_ts"):
                name = self.database
                await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                await _admin(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 (a test database's name)
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                )
                self.outage = asyncio.create_task(self._back_in(name, 2.0))
        return response

    async def _back_in(self, name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await OutageAfterReply().start()
    yield fake
    if fake.outage is not None:
        await fake.outage
    await fake.stop()


async def test_a_reply_posted_as_the_database_goes_away_is_not_posted_again(
    bot: SlackDriver,
) -> None:
    if not bot.bot.db.is_postgres:
        pytest.skip("refusing connections is a PostgreSQL test; SQLite has no server to stop")
    fake: Any = bot.slack
    fake.database = make_url(bot.bot.db.url).database
    await bot.submit_report(urls=TAOBAO)

    async def replies() -> list[Any]:
        return [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]

    await eventually(lambda: _nonempty(replies()), timeout=10)
    await eventually(lambda: _value(fake.outage is not None))  # taken away after the reply
    await fake.outage

    async def notify_jobs_done() -> bool:
        async with bot.bot.db.sessions() as session:
            found = (await session.execute(select(Job).where(Job.kind == "notify"))).scalars()
            states = [job.state for job in found]
        return bool(states) and all(state == "done" for state in states)

    await eventually(notify_jobs_done, timeout=20)
    await asyncio.sleep(1.0)  # a run that failed would be retried now, and post again
    assert len(await replies()) == 1


async def _nonempty(items: Any) -> bool:
    return bool(await items)


async def _value(value: Any) -> Any:
    return value
