"""**Could not submit** on a portal guide asks why, requires an answer, and keeps it: in the
notice's failure event (with who said it), the notice's last error and its listings' reason,
the thread's reply (escaped, with Retry), and `/report-listing status`. On SQLite and PostgreSQL,
through the bot's real endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SlackDriver, press, view_submission
from delivery_kit import (
    REPORTER,
    TAOBAO,
    events,
    held_back_bot,
    listings,
    only_notice,
    platforms_config,
    run_jobs,
    thread,
    told,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database

REASON = "The form rejects the registration number <018123456> & says <!channel>"
SHOWN = "The form rejects the registration number &lt;018123456&gt; &amp; says &lt;!channel&gt;"


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def _portal_notice(bot: SlackDriver) -> int:
    await bot.submit_report(urls=TAOBAO)
    await run_jobs(bot)
    notice = await only_notice(bot)
    assert notice.status == "awaiting_person" and notice.id is not None
    return notice.id


async def _why_form(bot: SlackDriver, notice_id: int, *, user: str = REPORTER) -> dict[str, Any]:
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(nb.PORTAL_FAILED, str(notice_id), user=user))
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = calls[-1].params["view"]
    return view


async def _save(
    bot: SlackDriver, form: dict[str, Any], reason: str, *, user: str = REPORTER
) -> dict[str, Any]:
    values = {"reason": {"reason": {"type": "plain_text_input", "value": reason or None}}}
    response = await bot.interact(
        view_submission(nb.NOT_FILED_VIEW, form["private_metadata"], values, user=user)
    )
    assert response.status == 200
    text = await response.text()
    return json.loads(text) if text.startswith("{") else {}


async def test_could_not_submit_asks_why_and_keeps_the_answer(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _portal_notice(bot)
        form = await _why_form(bot, notice_id)
        assert form["callback_id"] == nb.NOT_FILED_VIEW
        [field] = form["blocks"]
        assert field["block_id"] == "reason" and not field.get("optional")
        assert (await only_notice(bot)).status == "awaiting_person"  # nothing yet

        assert await _save(bot, form, REASON) == {}  # saved: the form closes
        notice = await only_notice(bot)
        assert notice.status == "failed"
        assert notice.last_error == f"Not filed on the platform's form: {REASON}"
        [listing] = await listings(bot)
        assert (listing.status, listing.status_reason) == ("failed", notice.last_error)
        [failed] = await events(bot, "notice_failed")
        assert (failed.actor, failed.detail["reason"]) == (REPORTER, REASON)

        await run_jobs(bot)
        said = thread(bot)
        assert "could not be filed on Taobao's form" in said
        assert SHOWN in said and REASON not in said  # escaped
        assert nb.RETRY in said  # and it can be sent again

        await bot.command("status TD-1")
        [answer] = await bot.slack.wait_for_responses(1)
        status = json.dumps(answer, ensure_ascii=False)
        assert f"— failed\\n> Not filed on the platform's form: {SHOWN}" in status
        assert f"<@{REPORTER}> could not file a notice on the platform's form: {SHOWN}" in status


@pytest.mark.parametrize("reason", ["", "   \n  "])
async def test_a_reason_is_required(
    settings_for: Any, db: Database, slack: FakeSlack, reason: str
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _portal_notice(bot)
        form = await _why_form(bot, notice_id)
        answer = await _save(bot, form, reason)
        assert answer["response_action"] == "errors"
        assert "Say why it could not be filed" in answer["errors"]["reason"]
        assert (await only_notice(bot)).status == "awaiting_person"
        assert await events(bot, "notice_failed") == []


async def test_a_why_form_for_a_notice_filed_meanwhile_is_refused(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _portal_notice(bot)
        why = await _why_form(bot, notice_id)
        # Meanwhile they file it after all, and confirm with the complaint number.
        await bot.interact(press(nb.PORTAL_SUBMITTED, str(notice_id), user=REPORTER))
        [*_, confirm] = await bot.slack.wait_for("views.open", count=2)
        values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-9"}}}
        metadata = confirm.params["view"]["private_metadata"]
        await bot.interact(view_submission(nb.CONFIRM_VIEW, metadata, values, user=REPORTER))
        assert (await only_notice(bot)).status == "sent"

        answer = await _save(bot, why, REASON)
        assert "no longer" in answer["errors"]["reason"]
        assert (await only_notice(bot)).status == "sent"
        assert [item.status for item in await listings(bot)] == ["submitted"]


async def test_only_its_reporter_or_an_approver_may_say_it_could_not_be_filed(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _portal_notice(bot)
        await bot.interact(press(nb.PORTAL_FAILED, str(notice_id), user="U0SOMEONE"))
        [refusal] = await bot.slack.wait_for("chat.postEphemeral")
        assert refusal.params["user"] == "U0SOMEONE" and told(bot, "U0SOMEONE")
        assert bot.slack.calls_to("views.open") == []
        assert (await only_notice(bot)).status == "awaiting_person"


async def test_a_why_form_comes_back_only_from_the_person_who_opened_it(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _portal_notice(bot)
        form = await _why_form(bot, notice_id)
        answer = await _save(bot, form, REASON, user="U0SOMEONE")
        assert "opened by someone else" in answer["errors"]["reason"]
        assert (await only_notice(bot)).status == "awaiting_person"
