"""Needs information, answered (issue 13, part 3), on the other channels and at the form: the
webhook receiver gets the answer signed under the notice's reference; eBay, whose API has no call
for it, gets it through a person the thread guides; only the reporter or an approver answers;
an answer that cannot be sent is refused beside its field. Through the bot's real endpoint."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from answer_kit import (
    PROOF,
    answer_kinds,
    answer_records,
    confirm_portal,
    open_answer_form,
    record_needs_info,
    send_answer,
)
from app_yaml import build_config
from conftest import HOOK_SECRET, SlackDriver, press, view_submission
from delivery_kit import (
    APPROVER,
    EBAY,
    EBAY_TOKEN,
    MELI_TOKEN,
    REPORTER,
    TAOBAO,
    creates,
    held_back_bot,
    jobs,
    listings,
    only_notice,
    run_jobs,
    run_jobs_until,
    thread,
    told,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from fakes.webhook import FakeWebhookReceiver

from bot.config.schema import AppConfig
from bot.delivery.adapters.webhook import IDEMPOTENCY_HEADER
from bot.slack_ui.answer_form import ANSWER, ANSWER_SENT, ANSWER_VIEW, LINKS, TEXT
from storage.db import Database

TEMU = "https://www.temu.com/goods.html?goods_id=601099512345678"
VIEWER = "U0VIEWER"  # reads cases; neither the reporter nor an approver
ASKED = "Send the registration certificate"
WORDS = "Registration certificate attached; the seller is not an authorised reseller."


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "poll_every": "1s",
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1"},
        },
        "vendor": {
            "adapter": "webhook",
            "serves": ["temu"],
            "base_url": hook.base_url,
            "secret": HOOK_SECRET,
            "poll_every": "1s",
        },
    }
    return build_config(
        platforms=platforms,
        access={"approvers": [APPROVER], "viewers": [REPORTER, APPROVER, VIEWER]},
        delivery={"backoff": ["1s"]},
        environ={"EBAY_VERO_TOKEN": EBAY_TOKEN, "MELI_TOKEN": MELI_TOKEN},
    )


async def _statuses(bot: SlackDriver) -> list[str]:
    return [item.status for item in await listings(bot)]


async def _told(bot: SlackDriver, pressed: dict[str, Any]) -> str:
    """Press a button; what the bot told the person who pressed it (a button is answered after
    its ack)."""
    before = len(bot.slack.calls_to("chat.postEphemeral"))
    await bot.interact(pressed)
    await bot.slack.wait_for("chat.postEphemeral", count=before + 1)
    return told(bot, pressed["user"]["id"])[-1]


async def _polled_needs_info(bot: SlackDriver, url: str, decide: Any) -> int:
    """A notice sent, then a poll that finds the platform needs information (`decide(notice)`
    makes the platform say so)."""
    await bot.submit_report(urls=url)
    await run_jobs(bot)
    notice = await only_notice(bot)
    assert notice.id is not None and notice.reference is not None
    decide(notice.reference)

    async def asked() -> bool:
        return await _statuses(bot) == ["needs_info"]

    await run_jobs_until(bot, asked)
    assert ANSWER in thread(bot)
    return notice.id


async def test_a_webhook_answer_is_posted_signed_under_the_notices_reference(
    settings_for: Any, db: Database, slack: FakeSlack, hook: FakeWebhookReceiver
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _polled_needs_info(
            bot, TEMU, lambda _: hook.decide("temu:601099512345678", "needs_info", ASKED)
        )
        reference = (await only_notice(bot)).reference
        proof = bot.slack.add_file("certificate.pdf", PROOF, mimetype="application/pdf")
        form = await open_answer_form(bot, notice_id)
        link = "https://acme.example/evidence/tm.pdf"
        assert await send_answer(bot, form, WORDS, links=link, files=[proof]) == {}
        await run_jobs(bot)

        [request] = [r for r in hook.requests if r.path.endswith("/messages")]
        assert request.method == "POST" and request.path == f"/hooks/notices/{reference}/messages"
        assert request.signature_ok  # v2: method, path, timestamp and body
        key = request.headers[IDEMPOTENCY_HEADER]
        assert key.endswith(f".answer.{request.json['answer_id']}")
        assert request.json["message"] == WORDS and request.json["evidence"] == [link]
        assert [item["key"] for item in request.json["listings"]] == ["temu:601099512345678"]
        [file] = request.json["files"]
        assert base64.b64decode(file["content_base64"]) == PROOF
        assert file["sha256"] == hashlib.sha256(PROOF).hexdigest()
        assert hook.messages[str(reference)] == [request.json]
        assert await _statuses(bot) == ["in_review"]
        [record] = await answer_records(bot)
        assert (record.media_type, record.body) == ("application/json", request.body)
        assert record.path == request.target

        # The receiver still reports the request it was answered for: the answer stands.
        polls = len(hook.requests)

        async def polled_again() -> bool:
            return len(hook.requests) > polls

        await run_jobs_until(bot, polled_again)
        assert await _statuses(bot) == ["in_review"]


async def test_an_ebay_answer_is_passed_on_by_a_person_the_thread_guides(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _polled_needs_info(
            bot,
            EBAY,
            lambda ref: ebay.decide(ref, "123456789012", "CLARIFICATION_REQUIRED", ASKED),
        )
        await send_answer(
            bot, await open_answer_form(bot, notice_id, user=APPROVER), WORDS, user=APPROVER
        )
        await run_jobs(bot)

        said = thread(bot)
        assert "Pass this answer on to eBay" in said and ANSWER_SENT in said and WORDS in said
        assert len(creates(ebay)) == 1  # nothing but the notice was posted to eBay
        assert await _statuses(bot) == ["needs_info"]  # until a person says it went
        [record] = await answer_records(bot)
        assert (record.outcome, record.media_type) == ("awaiting_person", "text/plain")
        assert WORDS.encode() in record.body

        [job] = await jobs(bot, "answer")
        sent_it = f"{notice_id}:{job.payload['answer_id']}"
        assert "back in review" in await _told(bot, press(ANSWER_SENT, sent_it, user=REPORTER))
        assert await _statuses(bot) == ["in_review"]
        again = await _told(bot, press(ANSWER_SENT, sent_it, user=APPROVER))
        assert f"already recorded by <@{REPORTER}>" in again
        assert (await answer_kinds(bot)).count("answer_sent") == 1
        await run_jobs(bot)
        assert f"Passed on to eBay by <@{REPORTER}>" in thread(bot)

        # eBay still asks, in the same words, until it reads the answer: it stays in review.
        gets = len(ebay.requests)

        async def polled_again() -> bool:
            return len(ebay.requests) > gets

        await run_jobs_until(bot, polled_again)
        assert await _statuses(bot) == ["in_review"]


async def test_a_portal_answer_is_guided_to_the_portals_form(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=TAOBAO)
        await run_jobs(bot)
        notice = await only_notice(bot)
        assert notice.id is not None
        await confirm_portal(bot, notice.id, "IPP-7")
        await record_needs_info(bot, notice.id, ASKED)
        await send_answer(bot, await open_answer_form(bot, notice.id), WORDS)
        await run_jobs(bot)
        said = thread(bot)
        assert "Pass this answer on to Taobao" in said and "https://ipp.alibabagroup.com/" in said
        assert "reference IPP-7" in said  # the complaint number the portal gave, in the text
        [job] = await jobs(bot, "answer")
        sent_it = f"{notice.id}:{job.payload['answer_id']}"
        assert "back in review" in await _told(bot, press(ANSWER_SENT, sent_it, user=REPORTER))
        assert await _statuses(bot) == ["in_review"]


async def test_only_the_reporter_or_an_approver_may_answer(
    settings_for: Any, db: Database, slack: FakeSlack, hook: FakeWebhookReceiver
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _polled_needs_info(
            bot, TEMU, lambda _: hook.decide("temu:601099512345678", "needs_info", ASKED)
        )
        opened = len(bot.slack.calls_to("views.open"))
        refusal = await _told(bot, press(ANSWER, str(notice_id), user=VIEWER))
        assert f"Only the case's reporter (<@{REPORTER}>) or an approver" in refusal
        assert "request for information on TD-1" in refusal
        assert len(bot.slack.calls_to("views.open")) == opened

        # A form sealed for the viewer (say, opened before their rights changed) is refused too.
        form = await open_answer_form(bot, notice_id, user=REPORTER)
        facts = {"notice_id": notice_id, "case": 1, "notice": notice_id}
        form["private_metadata"] = bot.sealed(ANSWER_VIEW, user=VIEWER, **facts)
        answer = await send_answer(bot, form, WORDS, user=VIEWER)
        assert "Only the case's reporter" in answer["errors"][TEXT]
        assert await answer_kinds(bot) == [] and await jobs(bot, "answer") == []


async def test_an_empty_answer_and_bad_links_are_refused_beside_their_fields(
    settings_for: Any, db: Database, slack: FakeSlack, hook: FakeWebhookReceiver
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _polled_needs_info(
            bot, TEMU, lambda _: hook.decide("temu:601099512345678", "needs_info", ASKED)
        )
        form = await open_answer_form(bot, notice_id)
        links = "https://acme.example/ok.pdf\n\nacme.example/no-scheme\njavascript:alert(1)"
        answer = await send_answer(bot, form, "   \n ", links=links)
        assert answer["response_action"] == "errors"
        assert answer["errors"][TEXT] == "Write the answer to send to Temu."
        assert 'line 3 ("acme.example/no-scheme")' in answer["errors"][LINKS]
        assert 'line 4 ("javascript:alert(1)")' in answer["errors"][LINKS]
        assert "line 1" not in answer["errors"][LINKS]
        assert await answer_kinds(bot) == [] and await jobs(bot, "answer") == []
        # Nothing was sent; the same form, filled in, goes.
        assert await send_answer(bot, form, WORDS, links="https://acme.example/ok.pdf") == {}
        await run_jobs(bot)
        assert await _statuses(bot) == ["in_review"]


async def test_a_forged_answer_for_another_notice_is_refused(
    settings_for: Any, db: Database, slack: FakeSlack, hook: FakeWebhookReceiver
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _polled_needs_info(
            bot, TEMU, lambda _: hook.decide("temu:601099512345678", "needs_info", ASKED)
        )
        form = await open_answer_form(bot, notice_id)
        values: dict[str, Any] = {TEXT: {TEXT: {"type": "plain_text_input", "value": WORDS}}}
        forged = form["private_metadata"].replace('"notice":1', '"notice":2')
        response = await bot.interact(view_submission(ANSWER_VIEW, forged, values))
        assert "close it and open it again" in (await response.json())["errors"][TEXT]
        assert await answer_kinds(bot) == []
