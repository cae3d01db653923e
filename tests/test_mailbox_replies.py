"""A platform's emailed reply closes the loop (issue 16), end to end on a real Dovecot: the notice
goes out over SMTP, the platform's reply lands in the mailbox, the bot's worker reads it, matches
it and suggests its decision in the case's thread; an approver applies it through the real
endpoint, once; a restart and a second worker reading it again change nothing. An unmatched email
waits in the inbox until an approver attaches it to a case."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, REPORTER, events, held_back_bot, listings, run_jobs, told
from fakes.dovecot import Dovecot
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from mailbox_kit import ETSY, etsy_by_email, reading, running_dovecot
from sqlalchemy import select

from bot.config.environment import Settings
from bot.config.schema import AppConfig
from bot.figures.scorecard import build_scorecard
from bot.slack_ui import mail_blocks as ui
from storage import notice_records
from storage.db import Database
from storage.models import MailHandling, MailMessage, Notice, utcnow

FOLDER = "Platforms"  # not INBOX: a test renumbers it (INBOX cannot be deleted)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


def mail_config(dovecot: Dovecot, smtp: FakeSmtp, **mailbox: Any) -> AppConfig:
    """Etsy takes notices by email (the fake SMTP server); the team's mailbox is the Dovecot."""
    return build_config(
        platforms=etsy_by_email(smtp),
        access={"approvers": [APPROVER]},
        **reading(dovecot, folder=FOLDER, **mailbox),
    )


@pytest.fixture
def config(dovecot: Dovecot, smtp: FakeSmtp) -> AppConfig:
    return mail_config(dovecot, smtp)


@asynccontextmanager
async def a_bot(
    settings_for: Any, db: Database, slack: FakeSlack, *, later: timedelta = timedelta(0)
) -> AsyncIterator[SlackDriver]:
    """A bot on the database whose worker runs when the test says; its scheduler's clock `later`
    (a bot started later: its mailbox run is the next period's)."""
    async with held_back_bot(settings_for(), db, slack) as bot:
        bot.bot.scheduler.clock = lambda: utcnow() + later
        yield bot


async def read_mailbox(bot: SlackDriver) -> None:
    """The periodic `mailbox` job queued by the bot's scheduler and run by its worker."""
    await bot.bot.scheduler.tick()
    await run_jobs(bot)


def reply(subject: str, body: str, *, sender: str = "legal@etsy.com", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "brand-protection@acme.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((subject, body)))}@mail.etsy.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


async def emailed_case(bot: SlackDriver) -> str:
    """A case filed through the endpoint, its notice emailed; the notice's Message-ID."""
    await bot.submit_report(urls=ETSY)
    await run_jobs(bot)
    async with bot.bot.db.sessions() as session:
        [notice] = (await session.execute(select(Notice))).scalars()
        message_id = await notice_records.message_id_of(session, notice.id or 0)
    assert notice.status == "sent" and message_id
    return message_id


def removed_reply(message_id: str) -> bytes:
    return reply(
        "Re: Notice of intellectual property infringement",
        "Hello,\n\nThank you for your report. We have removed the listing you reported.\n\n"
        "Etsy Legal",
        In_Reply_To=message_id,
        References=message_id,
    )


def suggestion_posts(slack: FakeSlack) -> list[dict[str, Any]]:
    """The suggestions (with buttons) posted in threads."""
    return [
        call.params
        for call in slack.calls_to("chat.postMessage")
        if ui.APPLY in json.dumps(call.params.get("blocks"))
    ]


def mail_button(post: dict[str, Any], action_id: str) -> str:
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    for block in blocks:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button")


async def stored(db: Database, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def test_an_emailed_reply_is_read_matched_suggested_applied_once_and_never_again(
    settings_for: Any, db: Database, slack: FakeSlack, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    async with a_bot(settings_for, db, slack) as bot:
        message_id = await emailed_case(bot)
        assert [got.message["Message-ID"] for got in smtp.received] == [message_id]
        before = await build_scorecard(db, bot.bot.settings.config, since=None, now=utcnow())
        assert [(s.platform, s.removed) for s in before] == [("etsy", 0)]

        await dovecot.deliver(removed_reply(message_id), folder=FOLDER)
        await read_mailbox(bot)

        [kept] = await stored(db, MailMessage)
        assert (kept.state, kept.matched_by) == ("matched", "reply_header")
        [post] = suggestion_posts(slack)
        shown = json.dumps(post["blocks"])
        assert post["thread_ts"] and "legal@etsy.com" in shown
        assert "Re: Notice of intellectual property infringement" in shown
        assert "We have removed the listing" in shown and "*Removed*" in shown
        assert [item.status for item in await listings(bot)] == ["submitted"]  # nothing silently

        mail_id = mail_button(post, ui.APPLY)
        await bot.interact(press(ui.APPLY, mail_id, user=REPORTER))
        await slack.wait_for("chat.postEphemeral")
        assert any("Only approvers" in text for text in told(bot, REPORTER))
        assert [item.status for item in await listings(bot)] == ["submitted"]

        await bot.interact(press(ui.APPLY, mail_id, user=APPROVER))
        await bot.interact(press(ui.APPLY, mail_id, user=APPROVER))
        await slack.wait_for("chat.postEphemeral", count=3)
        await run_jobs(bot)

        [listing] = await listings(bot)
        assert listing.status == "removed"
        [changed] = [
            e for e in await events(bot, "status_changed") if e.detail.get("to") == "removed"
        ]
        assert changed.actor == APPROVER
        assert changed.detail["source"] == "mailbox"
        assert changed.detail["mail_sha256"] == kept.sha256
        assert any("Applied to TD-1: 1 listing changed." in t for t in told(bot, APPROVER))
        assert any("was applied already by <@U0LEGAL>" in t for t in told(bot, APPROVER))
        [settled] = [
            c.params for c in slack.calls_to("chat.update") if "Applied by" in json.dumps(c.params)
        ]
        assert settled["ts"] == "2.2" and ui.APPLY not in json.dumps(settled["blocks"])
        assert "Applied by <@U0LEGAL>." in json.dumps(settled["blocks"])
        replies = [
            c.params for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")
        ]
        assert any("Applied from the email" in json.dumps(r.get("blocks")) for r in replies)
        after = await build_scorecard(db, bot.bot.settings.config, since=None, now=utcnow())
        assert [(s.platform, s.removed, s.decided) for s in after] == [("etsy", 1, 1)]

    seen = (len(await events(bot)), len(slack.calls_to("chat.postMessage")))
    # A restart: a second bot on the same database, its own worker, the next period's read; the
    # folder renumbered so the same message is fetched again.
    async with a_bot(settings_for, db, slack, later=timedelta(minutes=10)) as second:
        await dovecot.recreate(FOLDER)
        await dovecot.deliver(removed_reply(message_id), folder=FOLDER)
        await read_mailbox(second)
        assert len(await stored(db, MailMessage)) == 1
        assert (len(await events(second)), len(slack.calls_to("chat.postMessage"))) == seen
        [handled] = await stored(db, MailHandling)
        assert (handled.state, handled.actor) == ("applied", APPROVER)


async def test_an_unmatched_email_waits_in_the_inbox_and_can_be_attached_to_a_case(
    settings_for: Any, db: Database, slack: FakeSlack, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    async with a_bot(settings_for, db, slack) as bot:
        await emailed_case(bot)
        await dovecot.deliver(
            reply("Your report", "We have removed the reported item.", sender="x@unknown.example"),
            folder=FOLDER,
        )
        await read_mailbox(bot)
        assert suggestion_posts(slack) == []

        await bot.command("inbox", user=REPORTER)
        [refused] = await slack.wait_for_responses(1)
        await bot.command("inbox", user=APPROVER)
        _, listed = await slack.wait_for_responses(2)
        assert "Only approvers read the inbox" in refused["text"]
        assert "1 platform email waits in the inbox" in json.dumps(listed["blocks"])
        mail_id = mail_button(listed, ui.ATTACH)

        metadata = bot.sealed(ui.ATTACH_VIEW, user=APPROVER, mail=int(mail_id))
        typed = {ui.CASE_FIELD: {ui.CASE_FIELD: {"type": "plain_text_input", "value": "TD-99"}}}
        answer = await bot.interact(view_submission(ui.ATTACH_VIEW, metadata, typed, user=APPROVER))
        assert "There is no case TD-99" in await answer.text()

        typed[ui.CASE_FIELD][ui.CASE_FIELD]["value"] = "td-1"
        answer = await bot.interact(view_submission(ui.ATTACH_VIEW, metadata, typed, user=APPROVER))
        assert answer.status == 200 and "errors" not in await answer.text()
        await run_jobs(bot)
        [post] = suggestion_posts(slack)
        assert "*Removed*" in json.dumps(post["blocks"]) and "attached by a person" in json.dumps(
            post["blocks"]
        )
        await bot.command("inbox", user=APPROVER)
        *_, empty = await slack.wait_for_responses(3)
        assert "No platform email waits in the inbox" in empty["text"]


async def test_auto_apply_applies_a_reply_to_our_notice_and_only_suggests_the_rest(
    settings_for: Any, db: Database, slack: FakeSlack, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    settings = settings_for()
    settings = Settings(config=mail_config(dovecot, smtp, auto_apply=True), env=settings.env)
    async with held_back_bot(settings, db, slack) as bot:
        message_id = await emailed_case(bot)
        await dovecot.deliver(
            reply("About TD-1", "Your report was rejected."),  # matched by its TD id: suggested
            removed_reply(message_id),  # an answer to our notice saying one thing: applied
            folder=FOLDER,
        )
        await read_mailbox(bot)

        [listing] = await listings(bot)
        assert listing.status == "removed"
        [changed] = [e for e in await events(bot, "status_changed") if e.detail["to"] == "removed"]
        assert (changed.actor, changed.detail["source"]) == ("mailbox", "mailbox")
        states = sorted((h.state, h.matched_by) for h in await stored(db, MailHandling))
        assert states == [("applied", "reply_header"), ("suggested", "case_ref")]
        replies = json.dumps(
            [
                c.params.get("blocks")
                for c in slack.calls_to("chat.postMessage")
                if c.params.get("thread_ts")
            ]
        )
        assert (
            "Applied automatically" in replies and "Applied automatically from the email" in replies
        )
        assert len(suggestion_posts(slack)) == 1  # the rejected one waits for a click
