"""`mailbox:` in app.yaml, and its periodic read: validated by check-config, queued once per
period however many workers tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from app_yaml import build_config
from sqlalchemy import select

from bot.config.schema import ConfigError
from bot.jobs.schedule import Scheduler
from storage.db import Database
from storage.models import Job

MAILBOX = {"host": "imap.acme.example", "user": "takedowns", "password": "${IMAP_PASSWORD}"}


def test_the_mailbox_defaults_to_tls_on_993_reading_the_inbox_by_hand() -> None:
    config = build_config(mailbox=MAILBOX, environ={"IMAP_PASSWORD": "pw"}).mailbox
    assert config is not None
    assert (config.imap_port, config.folder, config.move_to) == (993, "INBOX", None)
    assert config.password == "pw" and config.auto_apply is False
    assert config.every == timedelta(minutes=5)


def test_each_bad_mailbox_key_is_named(tmp_path: object) -> None:
    bad = {**MAILBOX, "security": "none", "every": "5s", "ca_file": "/nowhere/ca.pem", "port": 0}
    with pytest.raises(ConfigError) as raised:
        build_config(mailbox=bad, environ={"IMAP_PASSWORD": "pw"})
    said = "\n".join(raised.value.errors)
    for key in ("mailbox.security", "mailbox.every", "mailbox.ca_file", "mailbox.port"):
        assert key in said


def test_a_missing_password_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="IMAP_PASSWORD"):
        build_config(mailbox=MAILBOX, environ={})


async def test_racing_schedulers_queue_one_mailbox_read_per_period(db: Database) -> None:
    config = build_config(mailbox={**MAILBOX, "every": "10m"}, environ={"IMAP_PASSWORD": "pw"})
    now = datetime(2026, 11, 30, 8, 34, tzinfo=UTC)
    later = now + timedelta(minutes=10)
    schedulers = [Scheduler(db=db, config=config, clock=lambda: now) for _ in range(4)]
    await asyncio.gather(*(s.tick() for s in schedulers for _ in range(3)))
    await Scheduler(db=db, config=config, clock=lambda: later).tick()
    async with db.sessions() as session:
        jobs = (await session.execute(select(Job).where(Job.kind == "mailbox"))).scalars().all()
    assert sorted(job.payload["scheduled_at"] for job in jobs) == [
        "2026-11-30T08:30:00+00:00",
        "2026-11-30T08:40:00+00:00",
    ]
    assert {job.serial_key for job in jobs} == {"mailbox"}
