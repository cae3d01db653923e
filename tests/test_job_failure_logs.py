"""An expected job failure (Slack unreachable or failing for a while) is one log line naming the job
and the reason; a traceback in the log is kept for bugs. Through the real bot and its worker, with
the fake Slack answering 500 or `internal_error`, or not listening at all."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from conftest import SlackDriver, eventually
from sqlalchemy import select

from bot.app import create_app
from bot.jobs.payloads import ChannelPost
from storage import jobs
from storage.db import Database
from storage.models import Job


async def _post_in_a_channel(bot: SlackDriver) -> int:
    """Queue a channel post (an escalation) for the bot's worker, as the SLA sweep does; its id."""
    async with bot.bot.db.transaction() as session:
        job_id = await jobs.enqueue(
            session, kind="notify", payload=ChannelPost(channel="C0LEGAL", text="hi").stored()
        )
    assert job_id is not None
    bot.bot.worker.wake()
    return job_id


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


async def _retried_notify(bot: SlackDriver, job_id: int) -> Job:
    """This job, once its first failure is stored (other jobs of the bot's may fail too)."""

    async def failed() -> Job | None:
        async with bot.bot.db.sessions() as session:
            job = (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()
            return job if job.last_error else None

    job: Job = await eventually(failed)
    return job


def _warnings_about(logged: pytest.LogCaptureFixture, job: Job) -> list[logging.LogRecord]:
    return [
        record
        for record in logged.records
        if record.levelno >= logging.WARNING and f"job {job.id} " in record.getMessage()
    ]


async def _first_warning_about(logged: pytest.LogCaptureFixture, job: Job) -> logging.LogRecord:
    """The job's warning, awaited: the worker may log it just after it stores the failure. Only
    its first attempt counts, so a retry's line before the check does not make two."""

    async def logged_yet() -> list[logging.LogRecord]:
        return _warnings_about(logged, job)

    lines: list[logging.LogRecord] = await eventually(logged_yet)
    return lines[0]


@pytest.mark.parametrize(
    "failure", [{"status": 500, "error": "fatal_error"}, {"error": "internal_error"}]
)
async def test_slack_failing_is_one_line_without_a_traceback(
    bot: SlackDriver, logged: pytest.LogCaptureFixture, failure: dict[str, Any]
) -> None:
    bot.slack.fail_next("chat.postMessage", times=50, **failure)
    job = await _retried_notify(bot, await _post_in_a_channel(bot))
    line = await _first_warning_about(logged, job)

    assert not [record for record in logged.records if record.exc_info]
    assert "\n" not in line.getMessage()
    assert "notify" in line.getMessage()
    assert failure["error"] in line.getMessage()


@pytest.fixture
async def bot_without_slack(settings_for: Any, db: Database) -> AsyncIterator[SlackDriver]:
    """The bot with SLACK_API_URL on a loopback port nobody listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(
        settings_for(SLACK_API_URL=f"http://127.0.0.1:{port}/api/"),
        db=db,
        worker_poll_interval=0.05,
    )
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield SlackDriver(http=http, url=str(server.make_url("")).rstrip("/"), slack=None, bot=app)  # type: ignore[arg-type]
    await server.close()


async def test_slack_refusing_connections_is_one_line_without_a_traceback(
    bot_without_slack: SlackDriver, logged: pytest.LogCaptureFixture
) -> None:
    job = await _retried_notify(bot_without_slack, await _post_in_a_channel(bot_without_slack))
    line = await _first_warning_about(logged, job)

    assert not [record for record in logged.records if record.exc_info]
    assert "\n" not in line.getMessage()
    assert "notify" in line.getMessage()
    assert "connect" in line.getMessage().lower()
