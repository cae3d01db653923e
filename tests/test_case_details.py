"""`/report-listing status TD-n` and the parent message show what people look for: the evidence
links (as links, escaped), the case's seller and any listing's own, each listing's last note
(the platform's words, e.g. what it needs), and who acted last; a case of 50 listings stays
within Slack's limits. On SQLite and PostgreSQL, through the bot's real endpoint, with listings
uploaded as a CSV in the report form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SlackDriver, press, view_submission
from delivery_kit import (
    EBAY,
    REPORTER,
    TAOBAO,
    held_back_bot,
    listings,
    notices,
    platforms_config,
    run_jobs,
    run_jobs_until,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from slack_sdk.models.blocks import Block

from bot.config.schema import AppConfig
from bot.intake.cases import FILE_FIELD
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.case_details import LastAct, last_act_text
from storage.db import Database

SELLER = "Shady <Deals> & Co"
EVIDENCE = "https://acme.example/testbuy?order=1&item=2"
NOTE = "Send the registration certificate <scan> & the invoice"


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def _report(
    bot: SlackDriver, csv: str, *, seller: str = SELLER, evidence: str = EVIDENCE
) -> None:
    """File the report form with its listings in an uploaded CSV (url, seller columns)."""
    file = bot.slack.add_file("listings.csv", csv.encode())

    def select(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value}}

    def typed(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    values = {
        "urls": {"urls": typed("")},
        FILE_FIELD: {FILE_FIELD: {"type": "file_input", "files": [file]}},
        "brand": {"brand": select("Acme")},
        "right": {"right": select("acme-eu-tm")},
        "type": {"type": select("counterfeit")},
        "description": {"description": typed("Fake ACME backpacks sold with our logo.")},
        "evidence": {"evidence": typed(evidence)},
        "seller": {"seller": typed(seller)},
    }
    metadata = bot.sealed("report_listing", user=REPORTER, channel="C0TEAM", private=False)
    response = await bot.interact(view_submission("report_listing", metadata, values))
    answer = json.loads(await response.text())
    assert answer["response_action"] == "update", answer
    await run_jobs(bot)


def _parent(bot: SlackDriver) -> list[dict[str, Any]]:
    calls = [
        call
        for call in bot.slack.calls
        if (call.method == "chat.postMessage" and not call.params.get("thread_ts"))
        or call.method == "chat.update"
    ]
    blocks: list[dict[str, Any]] = calls[-1].params["blocks"]
    return blocks


async def _status(bot: SlackDriver) -> list[dict[str, Any]]:
    before = len(bot.slack.responses)
    await bot.command("status TD-1")
    answers = await bot.slack.wait_for_responses(before + 1)
    blocks: list[dict[str, Any]] = answers[-1]["blocks"]
    return blocks


def _within_slacks_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block).to_dict()  # type: ignore[union-attr]  # slack_sdk checks its limits
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(item["text"]) <= 2000 for item in block.get("fields", []))


async def test_status_and_parent_show_evidence_sellers_notes_and_who_acted_last(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _report(bot, f"url,seller\n{EBAY},Knockoff Hub\n{TAOBAO},\n")
        sent = next(n for n in await notices(bot) if n.platform == "ebay")
        assert sent.reference is not None
        ebay.decide(sent.reference, "123456789012", "CLARIFICATION_REQUIRED", NOTE)

        async def asked() -> bool:
            return "needs_info" in [item.status for item in await listings(bot)]

        await run_jobs_until(bot, asked)

        for blocks in (await _status(bot), _parent(bot)):
            _within_slacks_limits(blocks)
            shown = json.dumps(blocks, ensure_ascii=False)
            assert "*Seller*\\nShady &lt;Deals&gt; &amp; Co" in shown
            link = "https://acme.example/testbuy?order=1&amp;item=2"
            assert f"*Evidence*\\n<{link}|{link}>" in shown
            assert (
                "— needs info · seller Knockoff Hub\\n"
                "> Send the registration certificate &lt;scan&gt; &amp; the invoice"
            ) in shown
            # The Taobao listing's seller is the case's: not said twice.
            taobao = f":raising_hand: Taobao: <{TAOBAO}|{TAOBAO}> — awaiting you"
            assert taobao in shown and f"{taobao} · seller" not in shown
            said = "eBay (poll) said Needs information (ref. `123456789012`) ·"
            assert f"*Last action*\\n{said}" in shown
            assert "<scan>" not in shown and "<Deals>" not in shown


async def test_the_last_action_names_the_person(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _report(bot, f"url\n{TAOBAO}\n")
        shown = json.dumps(await _status(bot), ensure_ascii=False)
        assert "*Last action*\\nthe bot posted the guide to file a notice on Alibaba IP" in shown
        [portal] = await notices(bot)
        await bot.interact(press(nb.PORTAL_SUBMITTED, str(portal.id), user=REPORTER))
        [opened] = await bot.slack.wait_for("views.open")
        values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-77"}}}
        metadata = opened.params["view"]["private_metadata"]
        await bot.interact(view_submission(nb.CONFIRM_VIEW, metadata, values, user=REPORTER))
        await run_jobs(bot)
        for blocks in (await _status(bot), _parent(bot)):
            shown = json.dumps(blocks, ensure_ascii=False)
            assert f"*Last action*\\n<@{REPORTER}> recorded Submitted (ref. `IPP-77`) ·" in shown


async def test_a_case_of_50_listings_stays_within_slacks_limits(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    """50 portal listings, each with its own long seller, 20 long evidence links, and a long
    reason for each listing's failure: the parent, `status` and the guide stay within limits."""
    sellers = [f"<Seller {n:02}> & " + "x" * 180 for n in range(50)]
    rows = [
        f"https://item.taobao.com/item.htm?id={612345678900 + n},{sellers[n]}" for n in range(50)
    ]
    evidence = "\n".join(f"https://acme.example/e/{n}?q=" + "a&b" * 300 for n in range(20))
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _report(bot, "url,seller\n" + "\n".join(rows) + "\n", evidence=evidence)
        [portal] = await notices(bot)
        guide = next(
            call.params["blocks"]
            for call in bot.slack.calls_to("chat.postMessage")
            if call.params.get("thread_ts") and nb.PORTAL_FAILED in json.dumps(call.params)
        )
        _within_slacks_limits(guide)
        assert "*Seller*" in json.dumps(guide)

        await bot.interact(press(nb.PORTAL_FAILED, str(portal.id), user=REPORTER))
        [opened] = await bot.slack.wait_for("views.open")
        reason = {"reason": {"reason": {"type": "plain_text_input", "value": "<no> & " * 140}}}
        metadata = opened.params["view"]["private_metadata"]
        await bot.interact(view_submission(nb.NOT_FILED_VIEW, metadata, reason, user=REPORTER))
        await run_jobs(bot)

        for blocks in (await _status(bot), _parent(bot)):
            _within_slacks_limits(blocks)
            shown = json.dumps(blocks, ensure_ascii=False)
            assert "*Taobao* (50): 50 failed" in shown
            assert "*Sellers* (50)" in shown and "… and 45 more sellers" in shown
            assert "*Latest notes* (10 of 50 listings with one" in shown
            assert "*Evidence*" in shown and "… and " in shown  # as many links as fit
            assert "&lt;Seller 0" in shown and "<Seller" not in shown


def test_the_last_action_reads_as_who_did_what() -> None:
    """Each kind of act in words; whatever a person or platform wrote, escaped."""
    at = datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")

    def said(actor: str, kind: str, **detail: Any) -> str:
        return last_act_text(LastAct(actor, kind, detail, at), berlin)

    assert said("U0LEGAL", "status_changed", to="removed") == (
        "<@U0LEGAL> recorded Removed · 2026-06-08 10:00 CEST"
    )
    assert said("platform:ebay", "status_changed", to="needs_info", reference="1").startswith(
        "eBay (poll) said Needs information (ref. `1`)"
    )
    assert said("bot", "portal_guide_posted", portal="Temu <IP>").startswith(
        "the bot posted the guide to file a notice on Temu &lt;IP&gt;"
    )
    assert said("U0LEGAL", "decision_corrected", to="rejected", reason="<@U1> wrong").startswith(
        "<@U0LEGAL> corrected a decision to Rejected: &lt;@U1&gt; wrong"
    )
    assert said("mailbox", "mail_suggested").startswith("the mailbox found a platform's email")
    assert said("<!here>", "some_new_kind").startswith("&lt;!here&gt; some new kind ·")
