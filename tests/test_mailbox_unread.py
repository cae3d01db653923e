"""Emails the reader kept but did not read (malformed, too large, too long) are not invisible
(issue 16): `/report-listing inbox`, the Home tab and the digest list them with why, each with
Attach to case… and Dismiss; our own notices come back (mail loops) are kept, only counted. Through
the real endpoint; the messages are stored as the mailbox reader stores them (`keep_message`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, REPORTER, held_back_bot, run_jobs, told
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from mailbox_kit import ETSY, etsy_by_email
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.figures.digest import build_digest
from bot.mailbox.message import MAX_READ_BYTES
from bot.mailbox.reader import keep_message
from bot.slack_ui import mail_blocks as ui
from storage.db import Database
from storage.models import MailHandling, MailMessage, utcnow

MALFORMED = (b"From: legal@etsy.com\r\nSubject: broken parts\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n")  # fmt: skip


def email(subject: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "legal@etsy.com"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def config(smtp: FakeSmtp) -> AppConfig:
    return build_config(
        platforms=etsy_by_email(smtp), access={"approvers": [APPROVER], "reporters": [REPORTER]}
    )


@pytest.fixture
async def bot(settings_for: Any, db: Database, slack: FakeSlack) -> AsyncIterator[SlackDriver]:
    async with held_back_bot(settings_for(), db, slack) as driver:
        await driver.submit_report(urls=ETSY)
        await run_jobs(driver)
        big = email("Attached evidence", "We removed it.\n" + "x" * 76 + "\n")
        big += b"y" * MAX_READ_BYTES
        loop = email("Notice of infringement", "Our own notice.", **{"X-Takedown-Case": "TD-1"})
        async with driver.bot.db.transaction() as session:
            for uid, raw in enumerate((big, MALFORMED, loop), start=1):
                await keep_message(session, raw, folder="INBOX", uidvalidity=1, uid=uid)
        yield driver


async def kept(bot: SlackDriver) -> dict[str, MailMessage]:
    async with bot.bot.db.sessions() as session:
        return {m.subject or "": m for m in (await session.execute(select(MailMessage))).scalars()}


async def handled(bot: SlackDriver) -> list[tuple[int, str, str | None]]:
    async with bot.bot.db.sessions() as session:
        rows = (await session.execute(select(MailHandling))).scalars()
        return [(h.mail_id, h.state, h.actor) for h in rows]


async def inbox(bot: SlackDriver, user: str = APPROVER) -> dict[str, Any]:
    before = len(bot.slack.responses)
    await bot.command("inbox", user=user)
    return (await bot.slack.wait_for_responses(before + 1))[-1]


async def home_tab(bot: SlackDriver, user: str) -> str:
    event = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
             "event_id": f"Ev{user}", "event_time": 1,
             "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}}  # fmt: skip
    before = len(bot.slack.calls_to("views.publish"))
    await bot.post(json.dumps(event), "application/json")
    calls = await bot.slack.wait_for("views.publish", count=before + 1)
    return json.dumps(calls[-1].params["view"], ensure_ascii=False)


def buttons(listed: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (block["block_id"], element["action_id"], element["value"])
        for block in listed["blocks"]
        for element in block.get("elements") or []
        if element.get("action_id")
    ]


async def test_emails_kept_but_not_read_are_listed_with_why_and_mail_loops_only_counted(
    bot: SlackDriver,
) -> None:
    mails = await kept(bot)
    assert [mails[s].state for s in ("Attached evidence", "broken parts", "Notice of infringement")] == [
        "skipped", "skipped", "loop"
    ]  # fmt: skip
    big, broken = mails["Attached evidence"].id, mails["broken parts"].id

    listed = await inbox(bot)

    shown = json.dumps(listed["blocks"], ensure_ascii=False)
    assert listed["text"] == "2 emails kept but not read."
    assert "kept but not read: larger than 10 MB: kept, not read" in shown
    assert "kept but not read: malformed MIME: NoBoundaryInMultipartDefect" in shown
    assert "Notice of infringement" not in shown
    assert "1 of our own notices came back to the mailbox (a mail loop)" in shown
    assert buttons(listed) == [
        (f"unread:{big}", ui.ATTACH, str(big)), (f"unread:{big}", ui.DISMISS, str(big)),
        (f"unread:{broken}", ui.ATTACH, str(broken)), (f"unread:{broken}", ui.DISMISS, str(broken)),
    ]  # fmt: skip
    digest = await build_digest(bot.bot.db, bot.bot.settings.config, now=utcnow(), chart=False)
    assert "2 emails kept but not read (`/report-listing inbox`)" in json.dumps(digest.blocks)
    refused = await inbox(bot, user=REPORTER)
    assert "Only approvers read the inbox" in refused["text"]
    home = await home_tab(bot, APPROVER)
    assert "2 emails kept but not read" in home and f"unread:{big}" in home
    assert "kept but not read" not in await home_tab(bot, REPORTER)


async def test_an_email_kept_but_not_read_is_dismissed_once(bot: SlackDriver) -> None:
    broken = str((await kept(bot))["broken parts"].id)

    await bot.interact(press(ui.DISMISS, broken, user=REPORTER, channel="C0CHAT"))
    await bot.interact(press(ui.DISMISS, broken, user=APPROVER, channel="C0CHAT"))
    await bot.interact(press(ui.DISMISS, broken, user=APPROVER, channel="C0CHAT"))
    await bot.slack.wait_for("chat.postEphemeral", count=3)

    assert any("Only approvers" in text for text in told(bot, REPORTER))
    first, second = told(bot, APPROVER)
    assert first == "Dismissed: it is kept, and no longer listed as not read."
    assert second == "This email was dismissed by <@U0LEGAL>; nothing was changed."
    assert await handled(bot) == [(int(broken), "dismissed", APPROVER)]
    listed = await inbox(bot)
    assert listed["text"] == "1 email kept but not read."
    assert "broken parts" not in json.dumps(listed["blocks"])


async def test_a_too_large_email_can_be_attached_to_a_case_once(bot: SlackDriver) -> None:
    big = (await kept(bot))["Attached evidence"].id
    assert big is not None
    await bot.interact(press(ui.ATTACH, str(big), user=APPROVER, channel="C0CHAT"))
    [opened] = await bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == ui.ATTACH_VIEW
    metadata = opened.params["view"]["private_metadata"]
    typed = {ui.CASE_FIELD: {ui.CASE_FIELD: {"type": "plain_text_input", "value": "TD-1"}}}

    first = await bot.interact(view_submission(ui.ATTACH_VIEW, metadata, typed, user=APPROVER))
    second = await bot.interact(view_submission(ui.ATTACH_VIEW, metadata, typed, user=APPROVER))
    await run_jobs(bot)

    assert "errors" not in await first.text()
    assert "is suggested in TD-1's thread; nothing was changed" in await second.text()
    [post] = [
        json.dumps(c.params.get("blocks"))
        for c in bot.slack.calls_to("chat.postMessage")
        if ui.APPLY in json.dumps(c.params.get("blocks"))
    ]
    assert "kept, not read: larger than 10 MB" in post and "attached by a person" in post
    assert "*Unknown: leave as it is*" in post  # the approver picks the outcome with Change…
    async with bot.bot.db.sessions() as session:
        [row] = (await session.execute(select(MailHandling))).scalars()
    assert (row.state, row.case_id, row.matched_by, row.source) == (
        "suggested",
        1,
        "person",
        "mailbox",
    )
    assert (await inbox(bot))["text"] == "1 email kept but not read."
