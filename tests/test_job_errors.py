"""Every error kept on a job (`jobs.last_error`) has been through the secret scrubber: an error
that echoes a token of ours is stored without it. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from conftest import BOT_TOKEN, SlackDriver, eventually
from sqlalchemy import select

from bot.config.logs import Secrets
from bot.jobs.worker import JobContext, JobFailed, JobHandler, RetryLater, Worker
from storage import jobs
from storage.db import Database
from storage.models import Job


async def test_a_slack_error_that_echoes_the_bot_token_is_stored_scrubbed(
    bot: SlackDriver,
) -> None:
    bot.slack.fail_next("chat.postMessage", error=f"invalid_auth for {BOT_TOKEN}", times=20)
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")

    async def dead() -> list[Job]:
        async with bot.bot.db.sessions() as session:
            found = (await session.execute(select(Job).where(Job.state == "dead"))).scalars()
            return list(found)

    found = await eventually(dead, timeout=20)
    for job in found:
        assert job.last_error is not None and "invalid_auth for" in job.last_error
        assert BOT_TOKEN not in job.last_error


async def test_the_worker_scrubs_every_error_it_keeps(db: Database) -> None:
    secret = "s3cr3t-platform-token-0123"
    raised = {
        "crash": RuntimeError(f"connect failed with {secret}"),
        "later": RetryLater(f"busy, token {secret}"),
        "fail": JobFailed(f"refused {secret}"),
    }
    told: list[str] = []

    def runner(kind: str) -> Any:
        async def run(ctx: JobContext[Any]) -> None:
            raise raised[kind]

        return run

    async def on_dead(_job: Any, error: str) -> None:
        told.append(error)

    async with db.transaction() as session:
        for kind in raised:
            await jobs.enqueue(session, kind=kind, payload={})
    worker = Worker(
        db=db,
        kinds={kind: JobHandler(runner(kind), on_dead=on_dead) for kind in raised},
        scrub=Secrets([secret]).hide,
    )
    await worker.run_until_idle(timeout=10)
    async with db.sessions() as session:
        errors = [job.last_error or "" for job in (await session.execute(select(Job))).scalars()]
    assert len(errors) == 3 and all(errors)
    assert not any(secret in error for error in errors + told), errors + told
