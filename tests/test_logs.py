"""Logs: JSON lines with LOG_FORMAT=json, one line per job run; secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from bot.config.environment import Environment
from bot.config.logs import setup_logging
from bot.jobs.worker import JobContext, JobHandler, Worker
from storage import jobs
from storage.db import Database


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_each_job_run_is_one_json_line_with_outcome_and_duration(
    db: Database, capsys: pytest.CaptureFixture[str], restore_logging: object
) -> None:
    setup_logging(
        Environment.from_environ({"LOG_FORMAT": "json", "SLACK_BOT_TOKEN": "xoxb-secret-value-123"})
    )
    async with db.transaction() as session:
        await jobs.enqueue(session, kind="noop", payload={})

    async def noop(ctx: JobContext) -> None:
        logging.getLogger("takedown.test").info("token is xoxb-secret-value-123")

    await Worker(db=db, kinds={"noop": JobHandler(noop)}).run_until_idle(timeout=10)
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    [run] = [line for line in lines if line.get("kind") == "noop"]
    assert (
        run["outcome"] == "done" and isinstance(run["duration_ms"], int) and run["level"] == "INFO"
    )
    assert run["logger"] == "takedown.worker" and run["job_id"] == 1
    [secret] = [line for line in lines if line["logger"] == "takedown.test"]
    assert secret["message"] == "token is [redacted]"
