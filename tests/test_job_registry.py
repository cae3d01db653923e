"""The job registry: every kind has a runner and a payload model; payloads are read with the model
before a run, one that does not fit is dead-lettered; rows queued by older versions still run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import SlackDriver, eventually
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select

from bot.core.states import JobKind
from bot.jobs.payloads import (
    ChannelPost,
    PollNotice,
    PostDigest,
    PostParent,
    SubmitNotice,
    SweepReminders,
    ThreadReply,
    UpdateParent,
)
from bot.jobs.registry import JOB_TYPES
from bot.jobs.worker import JobContext, JobHandler, Worker
from storage import jobs
from storage.db import Database
from storage.jobs import ClaimedJob
from storage.models import Case, Job

EBAY = "https://www.ebay.com/itm/123456789012"


class Parcel(BaseModel):
    parcel_id: int


async def _enqueue(db: Database, kind: str, payload: dict[str, Any], **options: Any) -> int:
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, kind=kind, payload=payload, **options)
    assert job_id is not None
    return job_id


async def _job(db: Database, job_id: int) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


def test_every_job_kind_has_a_runner_and_a_payload_model() -> None:
    assert set(JOB_TYPES) == set(JobKind)
    for job_type in JOB_TYPES.values():
        assert callable(job_type.run)
        assert isinstance(job_type.payload, TypeAdapter)


async def test_the_bots_worker_runs_every_kind_of_the_registry(bot: SlackDriver) -> None:
    assert set(bot.bot.worker.kinds) == {str(kind) for kind in JobKind}
    assert bot.bot.worker.kinds["submit"].on_dead is not None


def test_payloads_are_stored_as_older_versions_stored_them() -> None:
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert SubmitNotice(notice_id=3, case_id=1).stored() == {"notice_id": 3, "case_id": 1}
    assert PollNotice(notice_id=3, case_id=1).stored() == {"notice_id": 3, "case_id": 1}
    assert ThreadReply(case_id=1, text="hi").stored() == {
        "op": "thread",
        "case_id": 1,
        "text": "hi",
        "blocks": None,
    }
    assert ThreadReply(case_id=1, text="hi", refresh_parent=True).stored()["refresh_parent"]
    assert PostParent(case_id=1).stored() == {"op": "post_parent", "case_id": 1}
    assert UpdateParent(case_id=1).stored() == {"op": "update_parent", "case_id": 1}
    assert ChannelPost(channel="C1", text="hi").stored() == {
        "op": "post",
        "channel": "C1",
        "text": "hi",
        "blocks": None,
    }
    assert PostDigest(channel="C1", scheduled_at=at).stored() == {
        "channel": "C1",
        "scheduled_at": "2026-11-30T08:00:00+00:00",
    }
    assert SweepReminders(scheduled_at=at).stored() == {"scheduled_at": "2026-11-30T08:00:00+00:00"}


async def test_a_payload_that_does_not_fit_its_model_is_dead_lettered_without_a_run(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    good = await _enqueue(db, "deliver", {"parcel_id": 7})
    bad = await _enqueue(db, "deliver", {"parcel": "seven"})
    ran: list[Parcel] = []
    told: list[ClaimedJob] = []

    async def deliver(ctx: JobContext[Parcel]) -> None:
        ran.append(ctx.args)

    async def on_dead(job: ClaimedJob, _error: str) -> None:
        told.append(job)

    handler = JobHandler(deliver, payload=TypeAdapter(Parcel), on_dead=on_dead)
    with caplog.at_level(logging.INFO, logger="takedown.worker"):
        await Worker(db=db, kinds={"deliver": handler}).run_until_idle(timeout=10)
    assert ran == [Parcel(parcel_id=7)]
    assert (await _job(db, good)).state == "done"
    job = await _job(db, bad)
    assert (job.state, job.attempts) == ("dead", 1)
    assert job.last_error == "not a valid deliver payload: parcel_id: Field required"
    assert told == []  # its handler could not read the payload either
    [said] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "dead-lettered" in said.getMessage() and "deliver" in said.getMessage()
    assert said.exc_info is None  # one line, no traceback


async def test_a_notify_job_with_an_unknown_op_is_dead_lettered_naming_its_kind(
    bot: SlackDriver,
) -> None:
    job_id = await _enqueue(bot.bot.db, "notify", {"op": "shout", "case_id": 1})
    bot.bot.worker.wake()

    async def dead() -> Job | None:
        job = await _job(bot.bot.db, job_id)
        return job if job.state == "dead" else None

    job = await eventually(dead)
    assert job.attempts == 1
    assert job.last_error is not None
    assert job.last_error.startswith("not a valid notify payload:")
    assert "'shout'" in job.last_error


async def test_notify_rows_queued_by_an_older_version_still_run(bot: SlackDriver) -> None:
    await bot.submit_report(urls=EBAY)
    db = bot.bot.db

    async def threaded() -> Case | None:
        async with db.sessions() as session:
            case = (await session.execute(select(Case))).scalar_one_or_none()
        return case if case is not None and case.thread_ts is not None else None

    case = await eventually(threaded)
    serial = f"case:{case.id}"
    # The payloads exactly as the version before the payload models wrote them.
    old_rows = [
        ({"op": "thread", "case_id": case.id, "text": "older reply", "blocks": None}, serial),
        ({"op": "update_parent", "case_id": case.id}, serial),
        (
            {"op": "post", "channel": "C0ELSE", "text": "older post", "blocks": None},
            "channel:C0ELSE",
        ),
    ]
    ids = [await _enqueue(db, "notify", payload, serial_key=key) for payload, key in old_rows]
    bot.bot.worker.wake()

    async def all_done() -> bool:
        return all([(await _job(db, job_id)).state == "done" for job_id in ids])

    await eventually(all_done)
    posts = bot.slack.calls_to("chat.postMessage")
    [reply] = [call for call in posts if call.params.get("text") == "older reply"]
    assert (reply.params["channel"], reply.params["thread_ts"]) == (case.channel_id, case.thread_ts)
    assert [
        call.params["channel"] for call in posts if call.params.get("text") == "older post"
    ] == ["C0ELSE"]
    updates = bot.slack.calls_to("chat.update")
    assert any(call.params["ts"] == case.thread_ts for call in updates)
