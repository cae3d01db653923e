"""A real `takedown-bot worker` process killed with SIGKILL in the middle of a submission, then
restarted: the job completes and the non-idempotent channel never receives the notice twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from app_yaml import config_yaml
from conftest import BOT_TOKEN, EBAY_TOKEN, HOOK_SECRET, eventually
from fakes.ebay import FakeEbayVero
from fakes.slack import FakeSlack
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select

from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import Job, Notice


def _config_text(ebay: FakeEbayVero, hook: FakeWebhookReceiver) -> str:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "timeout": 30,
        },
        "vendor": {
            "adapter": "webhook",
            "serves": ["temu"],
            "base_url": hook.base_url,
            "secret": "${WEBHOOK_SECRET}",
            "timeout": 30,
        },
    }
    return config_yaml(platforms=platforms, delivery={"lease": "2s", "backoff": ["1s", "1s", "1s"]})


def _start_worker(
    tmp_path: Path, database_url: str, slack: FakeSlack, name: str
) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SLACK_") and key != "DATABASE_URL"
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="unused-in-worker",
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=database_url,
        TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"),
        EBAY_VERO_TOKEN=EBAY_TOKEN,
        WEBHOOK_SECRET=HOOK_SECRET,
        LOG_LEVEL="INFO",
    )
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def _open(db: Database, config_text: str, urls: str) -> None:
    config = parse_config(
        config_text, environ={"EBAY_VERO_TOKEN": EBAY_TOKEN, "WEBHOOK_SECRET": HOOK_SECRET}
    )
    await open_case(
        db,
        config=config,
        draft=ReportDraft(
            urls_text=urls,
            brand="Acme",
            right_id="acme-eu-tm",
            infringement="counterfeit",
            description="Counterfeit ACME backpacks using our registered mark.",
        ),
        reporter_id="U0REPORTER",
        team_id="T1",
        channel_id="C0TEAM",
        intake_key=None,
    )


async def _notice(db: Database, platform: str) -> Notice | None:
    async with db.sessions() as session:
        return (
            await session.execute(select(Notice).where(Notice.platform == platform))
        ).scalar_one_or_none()


async def test_worker_killed_mid_submission_never_sends_twice(
    tmp_path: Path,
    db: Database,
    database_url: str,
    slack: FakeSlack,
    ebay: FakeEbayVero,
    hook: FakeWebhookReceiver,
) -> None:
    text = _config_text(ebay, hook)
    (tmp_path / "app.yaml").write_text(text)
    ebay.slow_next(delay=60)  # eBay files the report, then the worker dies waiting for the answer
    hook.slow_next(delay=60)  # so does the webhook receiver
    await _open(
        db,
        text,
        "https://www.ebay.com/itm/123456789012\nhttps://www.temu.com/acme-g-601099512345678.html",
    )

    first = _start_worker(tmp_path, database_url, slack, "first")
    try:
        await eventually(lambda: _received(ebay, hook), timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    second = _start_worker(tmp_path, database_url, slack, "second")
    try:

        async def settled() -> bool:
            ebay_notice = await _notice(db, "ebay")
            temu_notice = await _notice(db, "temu")
            return bool(
                ebay_notice
                and temu_notice
                and ebay_notice.status == "held"
                and temu_notice.status == "sent"
            )

        await eventually(settled, timeout=40)

        async def all_jobs_done() -> bool:
            async with db.sessions() as session:
                jobs = (
                    (await session.execute(select(Job).where(Job.kind.in_(("submit", "notify")))))
                    .scalars()
                    .all()
                )
            return all(job.state == "done" for job in jobs)

        await eventually(all_jobs_done, timeout=20)
    finally:
        second.send_signal(signal.SIGTERM)
        # Wait in a thread: the fake servers live on this event loop and must keep answering.
        assert await asyncio.to_thread(second.wait, 30) == 0, (tmp_path / "second.log").read_text()

    # eBay (not idempotent): one report; the notice is held for a person, never filed again.
    assert len([r for r in ebay.requests if r.method == "POST"]) == 1
    assert len(ebay.reports) == 1
    # The webhook (idempotent by its key): sent again, and the receiver kept one notice.
    assert len(hook.notices) == 1
    thread = [c.params for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert any("held_sent" in str(params.get("blocks")) for params in thread), [
        str(params.get("text"))[:200] for params in thread
    ]


async def _received(ebay: FakeEbayVero, hook: FakeWebhookReceiver) -> bool:
    return bool(ebay.reports) and bool(hook.notices)
