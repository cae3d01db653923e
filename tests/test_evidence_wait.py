"""A new case's notice waits, briefly, for its evidence (issue 15): a submit that finds the case's
captures or the report form's files still being kept is given back for a few seconds (no attempt
counted, no error kept), so the emailed notice carries them; `evidence.wait_for_capture` bounds
the wait (0s: none), and a withdrawal during the wait means nothing is sent. Through the real bot
on both databases, its worker held back so each test says which jobs have run."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, jobs, only_notice, run_jobs
from evidence_kit import capture_config, capturing_bot
from fakes.marketplace import FakeMarketplace
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from sqlalchemy import update

from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.evidence_form import FILES_FIELD
from storage.db import Database
from storage.models import Case, Job, utcnow

EBAY = "https://www.ebay.com/itm/123456789012"
CAPTURE_NAME = "ebay-ebay-123456789012.warc.gz"  # the platform, and the listing's key
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 2


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
async def market() -> AsyncIterator[FakeMarketplace]:
    async with FakeMarketplace() as fake:
        fake.page(EBAY, "ebay_listing.html")
        yield fake


def emailed(mailbox: FakeSmtp, **evidence: Any) -> Any:
    """eBay's notices emailed to the fake SMTP server, with `evidence` settings."""
    ebay = {"adapter": "email", "to": "vero@ebay.example", "host": "127.0.0.1",
            "port": mailbox.port, "security": "none"}  # fmt: skip
    return capture_config(
        platforms={"ebay": ebay}, evidence=evidence, access={"approvers": [APPROVER]}
    )


@pytest.fixture
def evidence() -> dict[str, Any]:
    """More `evidence:` settings; a test parametrises it to change them."""
    return {}


@pytest.fixture
async def bot(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path, market: FakeMarketplace,
    mailbox: FakeSmtp, evidence: dict[str, Any],
) -> AsyncIterator[SlackDriver]:  # fmt: skip
    """The bot with captures on (and `evidence`), its worker held back."""
    config = emailed(mailbox, **evidence)
    async with capturing_bot(
        config=config, slack=slack, db=db, database_url=database_url,
        folder=tmp_path / "evidence", market=market, run_worker=False,
    ) as driver:  # fmt: skip
        yield driver


async def run_submits_only(bot: SlackDriver) -> None:
    """Run the due submit jobs, and no other kind: the case's evidence is not kept yet."""
    worker = bot.bot.worker
    only = dataclasses.replace(worker, kinds={"submit": worker.kinds["submit"]})
    await only.run_until_idle(timeout=60)


async def submit_due_now(bot: SlackDriver) -> int:
    """Make the submits given back to wait due now (the test does not sit out their seconds);
    how many there were."""
    async with bot.bot.db.transaction() as session:
        result = await session.execute(
            update(Job)
            .where(Job.kind == "submit", Job.state == "queued")  # type: ignore[arg-type]
            .values(run_at=utcnow() - timedelta(seconds=1))
        )
    return result.rowcount


async def run_everything(bot: SlackDriver) -> None:
    """Run every job, the waiting submits as soon as they are given back, until none is left."""
    for _ in range(10):
        await run_jobs(bot)
        if not await submit_due_now(bot):
            return
    raise AssertionError("a submit kept waiting")


async def waiting_submit(bot: SlackDriver) -> Job:
    """The case's submit job, given back to wait: queued, no attempt counted, no error kept."""
    [submit] = await jobs(bot, "submit")
    assert (submit.state, submit.attempts, submit.last_error) == ("queued", 0, None)
    return submit


def text_of(mailbox: FakeSmtp) -> str:
    [received] = mailbox.received
    body = received.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


async def file_report(bot: SlackDriver, files: list[dict[str, Any]]) -> None:
    """The report form filed with an eBay listing and `files` in its evidence input."""

    def select(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    values = {
        "urls": {"urls": {"type": "plain_text_input", "value": EBAY}},
        "brand": {"brand": select("Acme")},
        "right": {"right": select("acme-eu-tm")},
        "type": {"type": select("counterfeit")},
        "description": {
            "description": {"type": "plain_text_input", "value": "Fake ACME backpacks."}
        },
        FILES_FIELD: {FILES_FIELD: {"type": "file_input", "files": files}},
    }
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel="C0TEAM", private=False)
    response = await bot.interact(view_submission("report_listing", metadata, values))
    answer = json.loads(await response.text())
    assert answer["response_action"] == "update", answer


@pytest.mark.parametrize("evidence", [{"capture": False}])
async def test_the_report_forms_file_goes_with_the_emailed_notice(
    bot: SlackDriver, mailbox: FakeSmtp
) -> None:
    photo = bot.slack.add_file("listing.png", PNG, mimetype="image/png")
    await file_report(bot, [photo])

    await run_submits_only(bot)  # the file is not kept yet: the notice waits for it
    await waiting_submit(bot)
    assert mailbox.received == [] and (await only_notice(bot)).status == "pending"

    await run_everything(bot)
    [received] = mailbox.received
    attached = {part.get_filename(): part.get_content() for part in received.message.iter_attachments()}  # fmt: skip
    assert attached == {"listing.png": PNG}
    [submit] = await jobs(bot, "submit")
    assert (submit.state, submit.attempts) == ("done", 1)  # the waits were not attempts


async def test_a_capture_not_kept_yet_is_waited_for_and_named_in_the_notice(
    bot: SlackDriver, mailbox: FakeSmtp, market: FakeMarketplace
) -> None:
    await bot.submit_report(urls=EBAY)

    await run_submits_only(bot)
    await waiting_submit(bot)
    assert mailbox.received == [] and market.requests == []

    await run_everything(bot)
    assert len(market.requests) == 1  # captured once, then sent
    text = text_of(mailbox)
    assert "EVIDENCE FILES (1)" in text and f"- {CAPTURE_NAME} (application/warc" in text
    assert (await only_notice(bot)).status == "sent"


@pytest.mark.parametrize("evidence", [{"wait_for_capture": "0s"}])
async def test_with_no_wait_the_notice_goes_at_once_without_the_capture(
    bot: SlackDriver, mailbox: FakeSmtp, market: FakeMarketplace
) -> None:
    await bot.submit_report(urls=EBAY)

    await run_submits_only(bot)

    assert market.requests == []
    assert "EVIDENCE FILES" not in text_of(mailbox)
    assert (await only_notice(bot)).status == "sent"


async def test_a_case_opened_longer_ago_than_the_wait_sends_with_what_exists(
    bot: SlackDriver, mailbox: FakeSmtp, market: FakeMarketplace, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.submit_report(urls=EBAY)
    async with bot.bot.db.transaction() as session:  # opened 3 minutes ago (the wait is 2m)
        await session.execute(update(Case).values(created_at=utcnow() - timedelta(minutes=3)))

    with caplog.at_level(logging.INFO, logger="takedown.delivery"):
        await run_submits_only(bot)

    assert market.requests == [] and "EVIDENCE FILES" not in text_of(mailbox)
    said = [r.getMessage() for r in caplog.records if "without waiting longer" in r.getMessage()]
    assert said == [
        "case 1: its evidence is still being kept 0:02:00 after it was opened; "
        "sending its notice without waiting longer"
    ]


async def test_a_withdrawal_while_the_notice_waits_means_it_is_never_sent(
    bot: SlackDriver, mailbox: FakeSmtp
) -> None:
    await bot.submit_report(urls=EBAY)
    await run_submits_only(bot)
    await waiting_submit(bot)
    notice = await only_notice(bot)

    await bot.interact(press(nb.WITHDRAW, str(notice.id), user=APPROVER))
    await bot.slack.wait_for("chat.postEphemeral")
    await run_everything(bot)

    assert mailbox.received == []
    assert (await only_notice(bot)).status == "withdrawn"
    [submit] = await jobs(bot, "submit")
    assert submit.state == "done"
