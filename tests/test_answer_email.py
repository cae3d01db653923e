"""Needs information, answered by email (issue 13, part 3): the answer is a reply in the notice's
email thread, checked on a real SMTP server, and it is sent once however often its job runs.

Through the bot's real endpoint: the report filed, the platform's request recorded by an
approver, the answer form opened with the thread's button and sent, the worker run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from answer_kit import (
    PROOF,
    answer_kinds,
    answer_records,
    open_answer_form,
    record_needs_info,
    send_answer,
)
from app_yaml import build_config
from conftest import SlackDriver
from delivery_kit import (
    APPROVER,
    REPORTER,
    held_back_bot,
    jobs,
    listings,
    only_notice,
    run_jobs,
    run_jobs_until,
    thread,
)
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp

from bot.config.schema import AppConfig
from bot.delivery.answers.send import mark_sending
from bot.delivery.answers.trail import Answer
from bot.jobs import payloads
from bot.jobs.payloads import AnswerNotice
from bot.slack_ui.answer_form import ANSWER
from storage.answers import answer_request
from storage.db import Database

ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"
ASKED = "Etsy asks for the trademark registration certificate"
WORDS = "The EUIPO registration certificate is attached; the mark covers class 18 bags."
LINK = "https://acme.example/evidence/eutm-018123456.pdf"


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def config(mailbox: FakeSmtp) -> AppConfig:
    platforms = {
        "etsy": {
            "adapter": "email",
            "to": "ip-notices@etsy.example",
            "cc": ["legal@acme.example"],
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
        }
    }
    return build_config(
        platforms=platforms, access={"approvers": [APPROVER]}, delivery={"backoff": ["1s"]}
    )


async def _asked(bot: SlackDriver, mailbox: FakeSmtp) -> int:
    """A case whose emailed notice Etsy answered with a request for information."""
    await bot.submit_report(urls=ETSY)
    await run_jobs(bot)
    assert len(mailbox.received) == 1
    notice = await only_notice(bot)
    assert notice.id is not None
    await record_needs_info(bot, notice.id, ASKED)
    await run_jobs(bot)
    assert [item.status for item in await listings(bot)] == ["needs_info"]
    assert ANSWER in thread(bot)  # the reply saying so offers Answer the platform…
    return notice.id


def _answers(mailbox: FakeSmtp) -> list[EmailMessage]:
    return [item.message for item in mailbox.received if item.message["In-Reply-To"]]


async def test_an_answer_is_a_reply_in_the_notices_email_thread(
    settings_for: Any, db: Database, slack: FakeSlack, mailbox: FakeSmtp
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _asked(bot, mailbox)
        form = await open_answer_form(bot, notice_id, user=REPORTER)
        proof = bot.slack.add_file("certificate.pdf", PROOF, mimetype="application/pdf")
        assert await send_answer(bot, form, WORDS, links=LINK, files=[proof]) == {}
        await run_jobs(bot)

        notice_mail, answer_mail = (item.message for item in mailbox.received)
        original = notice_mail["Message-ID"]
        assert answer_mail["In-Reply-To"] == original
        assert answer_mail["References"] == original
        assert answer_mail["Subject"] == f"Re: {notice_mail['Subject']}"
        assert answer_mail["Message-ID"] not in (None, original)
        for header in ("From", "To", "Cc"):
            assert answer_mail[header] == notice_mail[header]
        body = answer_mail.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert WORDS in text and LINK in text
        assert "https://www.etsy.com/listing/1234567890" in text and "TD-1" in text
        [attached] = list(answer_mail.iter_attachments())
        assert attached.get_filename() == "certificate.pdf"
        assert attached.get_content() == PROOF

        assert [item.status for item in await listings(bot)] == ["in_review"]
        said = thread(bot)
        assert f"<@{REPORTER}> answered Etsy's request for information" in said
        [record] = await answer_records(bot)
        assert record.body == mailbox.received[1].content
        assert record.sha256 == hashlib.sha256(record.body).hexdigest()
        assert (record.in_reply_to, record.message_id) == (original, answer_mail["Message-ID"])
        assert (record.outcome, record.actor) == ("sent", REPORTER)


async def test_an_answer_whose_first_tries_fail_is_sent_once(
    settings_for: Any, db: Database, slack: FakeSlack, mailbox: FakeSmtp
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _asked(bot, mailbox)
        mailbox.data_reply = "451 4.3.0 try again later"  # not taken: nothing was delivered
        await send_answer(bot, await open_answer_form(bot, notice_id), WORDS)
        await run_jobs(bot)
        assert _answers(mailbox) == []
        [job] = await jobs(bot, "answer")
        assert job.state == "queued" and job.attempts == 1  # to be tried again
        mailbox.data_reply = None

        async def answered() -> bool:
            return [item.status for item in await listings(bot)] == ["in_review"]

        await run_jobs_until(bot, answered)
        [sent] = _answers(mailbox)
        # The same answer's job queued again (a retry, a duplicate) sends nothing more.
        async with db.transaction() as session:
            await payloads.enqueue(
                session,
                AnswerNotice(
                    notice_id=notice_id,
                    case_id=job.payload["case_id"],
                    answer_id=job.payload["answer_id"],
                ),
                dedupe_key="answer:again",
            )
        await run_jobs(bot)
        assert [m["Message-ID"] for m in _answers(mailbox)] == [sent["Message-ID"]]
        assert (await answer_kinds(bot)).count("answer_sent") == 1


async def test_an_answer_whose_worker_died_while_sending_is_not_sent_again(
    settings_for: Any, db: Database, slack: FakeSlack, mailbox: FakeSmtp
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _asked(bot, mailbox)
        await send_answer(bot, await open_answer_form(bot, notice_id), WORDS)
        [job] = await jobs(bot, "answer")
        # A worker marks the answer, hands it to the mail server, and is killed.
        async with db.sessions() as session:
            request = await answer_request(session, int(job.payload["answer_id"]))
        assert request is not None
        assert await mark_sending(bot.bot.runtime, Answer.of(request))
        await run_jobs(bot)

        assert _answers(mailbox) == []  # email cannot be asked: never sent blindly again
        assert "may have arrived" in thread(bot)
        assert [item.status for item in await listings(bot)] == ["needs_info"]
        assert (await answer_kinds(bot))[-1] == "answer_uncertain"


async def test_an_answer_that_keeps_failing_says_so_with_the_button_to_answer_again(
    settings_for: Any, db: Database, slack: FakeSlack, mailbox: FakeSmtp
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _asked(bot, mailbox)
        mailbox.data_reply = "451 4.3.0 mailbox busy"  # for longer than the backoff
        await send_answer(bot, await open_answer_form(bot, notice_id), WORDS)
        buttons = thread(bot).count(ANSWER)

        async def dead() -> bool:
            return [job.state for job in await jobs(bot, "answer")] == ["dead"]

        await run_jobs_until(bot, dead)
        await run_jobs(bot)
        said = thread(bot)
        assert "Could not send" in said and "451 4.3.0 mailbox busy" in said
        assert said.count(ANSWER) == buttons + 1  # answer again from the failure's reply
        assert _answers(mailbox) == []
        assert [item.status for item in await listings(bot)] == ["needs_info"]
        assert (await answer_kinds(bot))[-1] == "answer_failed"
