"""The scheduler (exactly once, DST-correct) and SLA reminders (once per threshold)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually
from sqlalchemy import select, update

from bot.config.schema import AppConfig
from bot.jobs.payloads import SweepReminders, enqueue
from bot.jobs.reminders import sweep
from bot.jobs.schedule import Scheduler, latest_run
from storage.db import Database
from storage.models import Job, Listing, Notice

BERLIN = ZoneInfo("Europe/Berlin")


def test_latest_run_is_in_the_team_zone_across_dst() -> None:
    # Sunday 2026-10-25 03:00 CEST → 02:00 CET. Monday 09:00 Berlin is 07:00 UTC before, 08:00 after.
    before, after = latest_run(
        "0 9 * * MON", zone=BERLIN, now=datetime(2026, 10, 21, 12, tzinfo=UTC)
    )
    assert before == datetime(2026, 10, 19, 9, tzinfo=BERLIN) and before.utcoffset() == timedelta(
        hours=2
    )
    assert after == datetime(2026, 10, 26, 9, tzinfo=BERLIN) and after.utcoffset() == timedelta(
        hours=1
    )
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(days=7, hours=1)  # 169 h
    on_time, _ = latest_run(
        "0 9 * * MON", zone=BERLIN, now=datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    )
    assert on_time.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


@pytest.fixture
def config() -> AppConfig:
    return build_config(
        team={
            "escalation_channel": "C0ESCALATE",
            "digest": {"schedule": "0 9 * * MON", "channels": ["C0DIGEST", "C0BOARD"]},
        }
    )


async def test_racing_schedulers_enqueue_each_digest_once(db: Database, config: AppConfig) -> None:
    now = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # Monday 09:30 in Berlin
    schedulers = [Scheduler(db=db, config=config, clock=lambda: now) for _ in range(4)]
    created = await asyncio.gather(*(s.tick() for s in schedulers for _ in range(3)))
    assert sum(created) == 3  # two digest channels and one SLA sweep
    async with db.sessions() as session:
        jobs = (await session.execute(select(Job).order_by(Job.id))).scalars().all()
    digests = sorted(job.payload["channel"] for job in jobs if job.kind == "digest")
    assert digests == ["C0BOARD", "C0DIGEST"]
    assert {job.payload["scheduled_at"] for job in jobs if job.kind == "digest"} == {
        "2026-11-30T08:00:00+00:00"
    }


async def test_missed_digest_is_sent_at_next_start_and_only_for_the_current_period(
    db: Database, config: AppConfig
) -> None:
    # Down from Sunday to Wednesday: Monday's digest is still the current one, so it goes out now.
    wednesday = datetime(2026, 12, 2, 10, tzinfo=UTC)
    await Scheduler(db=db, config=config, clock=lambda: wednesday).tick()
    next_week = datetime(2026, 12, 8, 10, tzinfo=UTC)
    await Scheduler(db=db, config=config, clock=lambda: next_week).tick()
    async with db.sessions() as session:
        runs = sorted(
            {
                job.payload["scheduled_at"]
                for job in (await session.execute(select(Job))).scalars()
                if job.kind == "digest"
            }
        )
    assert runs == ["2026-11-30T08:00:00+00:00", "2026-12-07T08:00:00+00:00"]


async def _age(bot: SlackDriver, days: float) -> datetime:
    """Pretend the case's listings were submitted `days` ago; returns 'now'."""
    now = datetime.now(UTC)
    async with bot.bot.db.transaction() as session:
        await session.execute(
            update(Listing).values(status="in_review", submitted_at=now - timedelta(days=days))
        )
    return now


def _replies(bot: SlackDriver) -> list[str]:
    return [
        json.dumps(c.params.get("blocks"))
        for c in bot.slack.calls_to("chat.postMessage")
        if c.params.get("thread_ts")
    ]


async def test_sla_reminder_fires_once_then_escalation_once(bot: SlackDriver) -> None:
    await bot.submit_report(
        urls="https://item.taobao.com/item.htm?id=612345678901"
    )  # taobao: 3-day SLA
    await bot.slack.wait_for("chat.postMessage")  # the parent message
    rt = bot.bot.runtime
    now = await _age(bot, 4)
    assert (await sweep(rt, now=now))["reminders"] == 1
    assert (await sweep(rt, now=now + timedelta(hours=1)))["reminders"] == 0
    reminder = await eventually(lambda: _first([r for r in _replies(bot) if "3-day SLA" in r]))
    assert "<@U0REPORTER>" in reminder
    assert not [
        c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ESCALATE"
    ]

    now = await _age(bot, 7)
    assert (await sweep(rt, now=now))["escalations"] == 1
    assert (await sweep(rt, now=now + timedelta(hours=1)))["escalations"] == 0
    [escalation] = await bot.slack.wait_for("chat.postMessage", count=1) and await eventually(
        lambda: _first_list(
            [
                c
                for c in bot.slack.calls_to("chat.postMessage")
                if c.params.get("channel") == "C0ESCALATE"
            ]
        )
    )
    assert "TD-1" in json.dumps(escalation.params["blocks"])


async def _first(items: list[str]) -> str | None:
    return items[0] if items else None


async def _first_list(items: list[object]) -> list[object] | None:
    return items or None


async def test_unconfirmed_portal_notice_is_reminded_once_after_a_day(bot: SlackDriver) -> None:
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")

    async def awaiting() -> bool:
        async with bot.bot.db.sessions() as session:
            notice = (await session.execute(select(Notice))).scalar_one_or_none()
        return bool(notice and notice.status == "awaiting_person")

    await eventually(awaiting)
    rt = bot.bot.runtime
    assert (await sweep(rt, now=datetime.now(UTC) + timedelta(hours=2)))["portal_reminders"] == 0
    assert (await sweep(rt, now=datetime.now(UTC) + timedelta(hours=25)))["portal_reminders"] == 1
    assert (await sweep(rt, now=datetime.now(UTC) + timedelta(hours=50)))["portal_reminders"] == 0
    await eventually(lambda: _first([r for r in _replies(bot) if "still waiting to be filed" in r]))


async def test_the_hourly_sweep_deletes_jobs_finished_longer_ago_than_keep_done_jobs(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")
    await bot.slack.wait_for("chat.postMessage")

    async def settled() -> list[Job] | None:
        async with bot.bot.db.sessions() as session:
            found = list((await session.execute(select(Job))).scalars())
        return found if found and all(job.state == "done" for job in found) else None

    finished = await eventually(settled)
    kept = finished[-1].id
    async with bot.bot.db.transaction() as session:  # all but the last finished 31 days ago
        await session.execute(
            update(Job)
            .where(Job.id != kept)
            .values(updated_at=datetime.now(UTC) - timedelta(days=31))
        )
    async with bot.bot.db.transaction() as session:  # the next hourly run
        await enqueue(
            session, SweepReminders(scheduled_at=datetime.now(UTC)), dedupe_key="remind:next-hour"
        )
    bot.bot.worker.wake()

    async def swept() -> set[int] | None:
        async with bot.bot.db.sessions() as session:
            jobs = list((await session.execute(select(Job.id, Job.kind, Job.state))).all())
        new_runs = [job_id for job_id, kind, state in jobs if job_id > finished[-1].id]
        done = all(state == "done" for _, _, state in jobs)
        return {job_id for job_id, _, _ in jobs} - set(new_runs) if new_runs and done else None

    remaining = await eventually(swept)
    # The old delivery and message jobs are gone; the recent one and periodic runs stay.
    expected = {
        job.id for job in finished if job.id == kept or job.kind not in ("submit", "poll", "notify")
    }
    assert remaining == expected
    assert len(expected) < len(finished)


async def test_a_private_cases_escalation_stays_in_its_own_thread(bot: SlackDriver) -> None:
    metadata = bot.sealed(
        "report_listing", user="U0REPORTER", channel="G0SECRET", private=True, form="f1"
    )
    await bot.submit_report(
        urls="https://item.taobao.com/item.htm?id=612345678901",
        channel="G0SECRET",
        metadata=metadata,
    )
    await bot.slack.wait_for("chat.postMessage")  # the parent message, in the private channel
    await eventually(lambda: _delivered(bot))  # before its listing is aged, not after
    rt = bot.bot.runtime
    now = await _age(bot, 7)
    assert (await sweep(rt, now=now))["escalations"] == 1
    escalated = await eventually(
        lambda: _first([r for r in _replies(bot) if "Past twice the 3-day SLA" in r])
    )
    assert "TD-1" in escalated
    in_thread = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert {c.params["channel"] for c in in_thread} == {"G0SECRET"}
    assert not [
        c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ESCALATE"
    ]


async def _delivered(bot: SlackDriver) -> bool:
    async with bot.bot.db.sessions() as session:
        states = (await session.execute(select(Notice.status))).scalars().all()
    return bool(states) and all(state not in ("pending", "sending") for state in states)
