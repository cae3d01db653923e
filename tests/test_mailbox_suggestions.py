"""A platform's email in Slack (issue 16): pasted into a message and recorded with the Record
platform reply shortcut, it is kept like a read one and suggested in its case's thread; Change…
applies other outcomes, Not about this case sends it to the inbox, Dismiss takes it out; the
digest and the scorecard say where decisions came from. Through the real endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, REPORTER, events, held_back_bot, listings, run_jobs, told
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from mailbox_kit import ETSY, etsy_by_email, record_reply
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.figures.digest import build_digest
from bot.slack_ui import mail_blocks as ui
from storage.db import Database
from storage.models import MailHandling, MailMessage, utcnow

PASTED = (
    "From: Etsy Legal &lt;<mailto:legal@etsy.com|legal@etsy.com>&gt;\n"
    "Subject: Your report TD-1\n\n"
    "Hello,\nWe have removed the listing you reported: <https://www.etsy.com/listing/1234567890>"
)


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
        yield driver


async def record(bot: SlackDriver, text: str, *, user: str = APPROVER) -> str:
    """Use the shortcut on a message of `text`; what the person is told."""
    return await record_reply(bot, {"text": text}, user=user)


def suggestion(bot: SlackDriver) -> dict[str, Any]:
    [post] = [
        call.params
        for call in bot.slack.calls_to("chat.postMessage")
        if ui.APPLY in json.dumps(call.params.get("blocks"))
    ]
    return post


def button(post: dict[str, Any], action_id: str) -> str:
    for block in post["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button")


async def handled(bot: SlackDriver) -> list[MailHandling]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(MailHandling))).scalars())


async def test_a_pasted_email_is_kept_matched_and_suggested_in_the_case_thread(
    bot: SlackDriver,
) -> None:
    answer = await record(bot, PASTED)
    assert answer.startswith("Matched to TD-1 (it names the case)")
    post = suggestion(bot)
    shown = json.dumps(post["blocks"])
    assert "forwarded in Slack" in shown and "legal@etsy.com" in shown and "*Removed*" in shown
    async with bot.bot.db.sessions() as session:
        [mail] = (await session.execute(select(MailMessage))).scalars()
    assert (mail.folder, mail.state, mail.sender) == ("slack", "matched", "legal@etsy.com")
    assert [h.source for h in await handled(bot)] == ["slack"]
    assert await record(bot, PASTED) == "This email was recorded already; nothing changed."
    nobody = await record(bot, "Some text", user="U0STRANGER")
    assert "Only the brand-protection team" in nobody


async def test_an_email_matching_nothing_goes_to_the_inbox_and_can_be_dismissed(
    bot: SlackDriver,
) -> None:
    answer = await record(bot, "Subject: Hello\n\nWe received your message.")
    assert answer == "No case matched: it is in the inbox (`/report-listing inbox`)."
    digest = await build_digest(bot.bot.db, bot.bot.settings.config, now=utcnow(), chart=False)
    assert "1 platform email waits in the inbox" in json.dumps(digest.blocks)
    [waiting] = await handled(bot)
    await bot.interact(press(ui.DISMISS, str(waiting.mail_id), user=REPORTER, channel="C0CHAT"))
    await bot.interact(press(ui.DISMISS, str(waiting.mail_id), user=APPROVER, channel="C0CHAT"))
    await bot.slack.wait_for("chat.postEphemeral", count=3)
    assert any("Only approvers" in text for text in told(bot, REPORTER))
    assert "Dismissed: it is kept" in told(bot, APPROVER)[-1]
    assert [(h.state, h.actor) for h in await handled(bot)] == [("dismissed", APPROVER)]


async def test_change_applies_the_outcomes_chosen_with_a_note_once(bot: SlackDriver) -> None:
    await record(bot, PASTED)
    mail_id = button(suggestion(bot), ui.CHANGE)
    await bot.interact(press(ui.CHANGE, mail_id, user=APPROVER, channel="C0CHAT"))
    [opened] = await bot.slack.wait_for("views.open")
    form = opened.params["view"]
    [listing] = await listings(bot)
    select_block = next(b for b in form["blocks"] if b.get("block_id") == f"listing:{listing.id}")
    assert select_block["element"]["initial_option"]["value"] == "removed"

    values = {
        f"listing:{listing.id}": {"outcome": {"type": "static_select",
                                              "selected_option": {"value": "rejected"}}},
        ui.NOTE_FIELD: {ui.NOTE_FIELD: {"type": "plain_text_input", "value": "Per their 2nd mail"}},
    }  # fmt: skip
    submitted = view_submission(ui.CHANGE_VIEW, form["private_metadata"], values, user=APPROVER)
    first = await bot.interact(submitted)
    second = await bot.interact(submitted)
    assert "errors" not in await first.text()
    assert "was applied already by <@U0LEGAL>" in await second.text()
    await run_jobs(bot)
    [listing] = await listings(bot)
    assert (listing.status, listing.status_reason) == ("rejected", "Per their 2nd mail")
    [changed] = [e for e in await events(bot, "status_changed") if e.detail["to"] == "rejected"]
    assert changed.detail["source"] == "mailbox" and changed.actor == APPROVER
    scorecard = await bot.command("scorecard", user=APPROVER)
    assert scorecard.status == 200
    [answer] = await bot.slack.wait_for_responses(1)
    assert "Decisions: 1 from the mailbox, 0 from platforms' APIs, 0 by people." in json.dumps(
        answer["blocks"]
    )


async def test_not_about_this_case_sends_the_email_to_the_inbox(bot: SlackDriver) -> None:
    await record(bot, PASTED)
    mail_id = button(suggestion(bot), ui.NOT_ABOUT)
    await bot.interact(press(ui.NOT_ABOUT, mail_id, user=APPROVER, channel="C0CHAT"))
    await bot.slack.wait_for("chat.postEphemeral", count=2)
    [rewritten] = [
        c.params for c in bot.slack.calls_to("chat.update") if "Not about" in json.dumps(c.params)
    ]
    assert "Not about TD-1 (<@U0LEGAL>): moved to the inbox" in json.dumps(rewritten["blocks"])
    assert ui.APPLY not in json.dumps(rewritten["blocks"])
    assert [(h.state, h.case_id) for h in await handled(bot)] == [("inbox", None)]
    await bot.interact(press(ui.APPLY, mail_id, user=APPROVER, channel="C0CHAT"))
    await bot.slack.wait_for("chat.postEphemeral", count=3)
    assert "This email was moved to the inbox by <@U0LEGAL>; nothing was changed." in told(bot)
    assert [item.status for item in await listings(bot)] == ["submitted"]
    assert [e.kind for e in await events(bot) if e.kind.startswith("mail_")] == [
        "mail_suggested",
        "mail_not_about",
    ]


def test_an_emails_words_are_escaped_and_cut_to_slacks_limits() -> None:
    card = ui.MailCard(
        mail_id=7,
        sender="<!channel> <https://evil.example|click>@x.example",
        subject="<!here> " + "s" * 5000,
        excerpt="<@U0BOSS> & " + "w" * 20_000,
        sha256="a" * 64,
        matched_by="case_ref",
        listings=[(f"etsy:{n}", f"https://www.etsy.com/listing/{n}", "removed") for n in range(60)],
    )
    _, blocks = ui.suggestion(card)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in shown and "<!here>" not in shown and "<@U0BOSS>" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp;" in shown
    texts = [b["text"]["text"] for b in blocks if b.get("text")]
    assert all(len(text) <= 3000 for text in texts) and len(blocks) <= 50
    assert "… and 40 more" in shown


async def test_the_home_tab_shows_approvers_the_inbox_and_where_decisions_came_from(
    bot: SlackDriver,
) -> None:
    await record(bot, "Subject: Hello\n\nWe received your message.")

    async def home(user: str, event_id: str) -> str:
        event = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                 "event_id": event_id, "event_time": 1,
                 "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}}  # fmt: skip
        before = len(bot.slack.calls_to("views.publish"))
        await bot.post(json.dumps(event), "application/json")
        calls = await bot.slack.wait_for("views.publish", count=before + 1)
        return json.dumps(calls[-1].params["view"], ensure_ascii=False)

    approver = await home(APPROVER, "Ev1")
    assert "1 platform email waits in the inbox" in approver and ui.ATTACH in approver
    assert "Decisions: 0 from the mailbox, 0 from platforms' APIs, 0 by people." in approver
    reporter = await home(REPORTER, "Ev2")
    assert "waits in the inbox" not in reporter and ui.ATTACH not in reporter
