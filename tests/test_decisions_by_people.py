"""What a person records with Record decision…: a note is never dropped, a decision that changes
nothing is answered, and a platform's decision that arrived while the form was open is kept and
said. On SQLite and PostgreSQL, through the bot's real endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SlackDriver, press, view_submission
from delivery_kit import (
    APPROVER,
    EBAY,
    REPORTER,
    TAOBAO,
    events,
    held_back_bot,
    listings,
    only_notice,
    platforms_config,
    run_jobs,
    run_jobs_until,
    thread,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def _decision_form(bot: SlackDriver, notice_id: int) -> dict[str, Any]:
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(nb.DECIDE, str(notice_id), user=APPROVER))
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = calls[-1].params["view"]
    return view


async def _save(
    bot: SlackDriver, form: dict[str, Any], status: str, note: str = ""
) -> dict[str, Any]:
    """Save the decision form with `status` for every listing it offers; the HTTP answer."""
    options = form["blocks"][1]["element"]["options"]
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": status}}},
        "listings": {"listings": {"type": "multi_static_select", "selected_options": options}},
        "note": {"note": {"type": "plain_text_input", "value": note or None}},
    }
    response = await bot.interact(
        view_submission(nb.DECISION_VIEW, form["private_metadata"], values, user=APPROVER)
    )
    assert response.status == 200
    text = await response.text()
    return json.loads(text) if text.startswith("{") else {}


async def _confirmed_portal_notice(bot: SlackDriver) -> int:
    await bot.submit_report(urls=TAOBAO)
    await run_jobs(bot)
    notice = await only_notice(bot)
    assert notice.id is not None
    values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-7"}}}
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(nb.PORTAL_SUBMITTED, str(notice.id), user=REPORTER))
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    metadata = calls[-1].params["view"]["private_metadata"]
    await bot.interact(view_submission(nb.CONFIRM_VIEW, metadata, values, user=REPORTER))
    assert [item.status for item in await listings(bot)] == ["submitted"]
    return notice.id


async def test_a_note_on_an_unchanged_status_is_an_event_shown_in_the_thread(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _confirmed_portal_notice(bot)
        assert await _save(bot, await _decision_form(bot, notice_id), "in_review") == {}
        note = "Alibaba asked for five more working days"
        answer = await _save(bot, await _decision_form(bot, notice_id), "in_review", note)
        assert answer == {}  # saved: the form closes
        [noted] = await events(bot, "note")
        assert (noted.actor, noted.detail["note"]) == (APPROVER, note)
        await run_jobs(bot)
        assert note in thread(bot)
        assert [item.status for item in await listings(bot)] == ["in_review"]


async def test_a_decision_that_changes_nothing_is_answered(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _confirmed_portal_notice(bot)
        await _save(bot, await _decision_form(bot, notice_id), "in_review")
        answer = await _save(bot, await _decision_form(bot, notice_id), "in_review")
        assert "already" in answer["errors"]["status"]


async def test_a_decision_saved_after_the_platform_decided_keeps_the_platforms(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=EBAY)
        await run_jobs(bot)
        notice = await only_notice(bot)
        assert notice.status == "sent" and notice.reference is not None
        form = await _decision_form(bot, notice.id or 0)  # opened while eBay still reviews
        ebay.decide(notice.reference, "123456789012", "SUBMISSION_FAILED", "not infringing")

        async def rejected() -> bool:
            return [item.status for item in await listings(bot)] == ["rejected"]

        await run_jobs_until(bot, rejected)  # the poll recorded eBay's decision
        answer = await _save(bot, form, "removed")
        assert "meanwhile" in answer["errors"]["status"]
        assert [item.status for item in await listings(bot)] == ["rejected"]
        assert [e.detail["to"] for e in await events(bot, "status_changed")][-1] == "rejected"
