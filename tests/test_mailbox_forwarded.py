"""An email forwarded into Slack (issue 16): Slack shows it as a file of filetype `email`, and the
Record platform reply shortcut makes it an email again from the file object's fields, asking
files.info for the rest when the message's copy is cut short, and matches and reads it like one
from the mailbox. Through the real endpoint, against the fake Slack's file objects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from answer_kit import confirm_portal
from app_yaml import build_config
from conftest import SlackDriver
from delivery_kit import APPROVER, TAOBAO, held_back_bot, run_jobs
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from mailbox_kit import ETSY, etsy_by_email, record_reply
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.mailbox.forwarded import email_of_file
from bot.mailbox.message import read_message
from bot.slack_ui import mail_blocks as ui
from storage import notice_records
from storage.db import Database
from storage.models import MailMessage, Notice

ALIBABA = ("Alibaba IPP", "ipp-notice@alibaba-inc.com")
ALIBABA_TEXT = (
    "尊敬的权利人：\n\n感谢您的投诉。以下为处理结果。\n\n"
    "投诉单号 IPP20240611007：投诉已成立，被投诉商品链接已删除。\n\n阿里巴巴知识产权保护平台"
)


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def config(smtp: FakeSmtp) -> AppConfig:
    return build_config(platforms=etsy_by_email(smtp), access={"approvers": [APPROVER]})


@pytest.fixture
async def bot(settings_for: Any, db: Database, slack: FakeSlack) -> AsyncIterator[SlackDriver]:
    async with held_back_bot(settings_for(), db, slack) as driver:
        yield driver


def forwarded(file: dict[str, Any], text: str = "") -> dict[str, Any]:
    """A message as Slack posts a forwarded email: its file, and any text said with it."""
    return {"subtype": "file_share", "user": "USLACKBOT", "text": text, "files": [file]}


async def kept(bot: SlackDriver) -> list[MailMessage]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(MailMessage))).scalars())


def suggestions(slack: FakeSlack) -> list[str]:
    return [
        json.dumps(call.params.get("blocks"), ensure_ascii=False)
        for call in slack.calls_to("chat.postMessage")
        if ui.APPLY in json.dumps(call.params.get("blocks"))
    ]


async def test_a_forwarded_alibaba_reply_without_a_case_id_is_matched_by_its_complaint_number(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls=TAOBAO)
    await run_jobs(bot)
    async with bot.bot.db.sessions() as session:
        [notice] = (await session.execute(select(Notice))).scalars()
    assert notice.id is not None
    await confirm_portal(bot, notice.id, "IPP20240611007")
    # The message carries the start of the text only; the complaint number is further on.
    file = bot.slack.add_email_file(
        sender=ALIBABA, subject="知识产权投诉处理结果通知", text=ALIBABA_TEXT, shown=20
    )
    assert "IPP20240611007" not in file["plain_text"]

    # The text said with the file names another case; the file wins.
    answer = await record_reply(bot, forwarded(file, text="FYI about TD-77"))

    assert answer == (
        "Matched to TD-1 (it quotes the complaint number): its suggested decision is in TD-1's "
        "thread."
    )
    assert [c.params["file"] for c in bot.slack.calls_to("files.info")] == [file["id"]]
    assert bot.slack.downloads == []  # the file itself is never fetched
    [mail] = await kept(bot)
    assert (mail.folder, mail.state, mail.matched_by) == ("slack", "matched", "complaint_number")
    assert (mail.sender, mail.subject) == ("ipp-notice@alibaba-inc.com", "知识产权投诉处理结果通知")
    assert mail.message_id == f"<{file['id']}@mail.example>"
    [post] = suggestions(bot.slack)
    assert "forwarded in Slack" in post and "*Removed*" in post and "IPP20240611007" in post


async def test_a_forwarded_reply_is_matched_by_in_reply_to_our_notices_message_id(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls=ETSY)
    await run_jobs(bot)
    async with bot.bot.db.sessions() as session:
        [notice] = (await session.execute(select(Notice))).scalars()
        sent_as = await notice_records.message_id_of(session, notice.id or 0)
    assert notice.status == "sent" and sent_as
    file = bot.slack.add_email_file(
        sender=("Etsy Legal", "legal@etsy.com"),
        subject="Re: Notice of intellectual property infringement",
        text="Hello,\n\nWe have removed the material you reported.\n\nEtsy Legal",
        headers={"in_reply_to": sent_as, "references": [sent_as]},
    )

    answer = await record_reply(bot, forwarded(file))

    assert answer.startswith("Matched to TD-1 (it answers our emailed notice)")
    assert bot.slack.calls_to("files.info") == []  # the message's copy was whole
    [mail] = await kept(bot)
    assert mail.matched_by == "reply_header"
    assert f"In-Reply-To: {sent_as}".encode() in mail.raw
    [post] = suggestions(bot.slack)
    assert "legal@etsy.com" in post and "*Removed*" in post
    again = await record_reply(bot, forwarded(dict(file)))
    assert again == "This email was recorded already; nothing changed."


async def test_a_forwarded_email_slack_will_not_describe_is_refused_and_nothing_kept(
    bot: SlackDriver,
) -> None:
    file = bot.slack.add_email_file(sender=ALIBABA, subject="通知", text=ALIBABA_TEXT, shown=10)
    bot.slack.fail_next("files.info", error="file_not_found")

    answer = await record_reply(bot, forwarded(file))

    assert answer == (
        "Slack would not describe the forwarded email (file_not_found): forward it again, "
        "or paste its text into a message and record that."
    )
    assert await kept(bot) == []


async def test_a_forwarded_email_slack_gives_only_the_start_of_is_read_and_the_person_told(
    bot: SlackDriver,
) -> None:
    file = bot.slack.add_email_file(sender=ALIBABA, subject="通知", text=ALIBABA_TEXT, shown=10)
    info, html = bot.slack.files[file["id"]]
    bot.slack.files[file["id"]] = (
        {**info, "plain_text": ALIBABA_TEXT[:30], "has_more": True},
        html,
    )

    answer = await record_reply(bot, forwarded(file))

    assert answer.startswith("No case matched: it is in the inbox")
    assert "Slack gave only the start of the email's text" in answer
    [mail] = await kept(bot)
    assert read_message(mail.raw).text == ALIBABA_TEXT[:30]


def test_a_file_objects_fields_cannot_add_headers_or_odd_addresses() -> None:
    raw = email_of_file({
        "subject": "Hello\r\nBcc: victim@example.com",
        "from": [{"address": "not an address", "name": "X"},
                 {"address": "legal@etsy.com", "name": "Etsy\nLegal"}],
        "plain_text": "Body",
        "headers": {"date": "yesterday", "message_id": "<a@b>\r\nX-Evil: 1",
                    "references": "<c@d> junk <e@f>"},
    })  # fmt: skip
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "\r\nBcc:" not in head and "X-Evil" not in head and "Date:" not in head
    read = read_message(raw)
    assert (read.sender, read.subject) == ("legal@etsy.com", "Hello Bcc: victim@example.com")
    assert (read.message_id, read.answers, read.text.strip()) == (
        "<a@b>",
        ["<c@d>", "<e@f>"],
        "Body",
    )
