"""Correcting a decision recorded by mistake (Correct decision…), through the bot's real endpoint,
on SQLite and PostgreSQL: an approver reopens or changes a decision with a required reason; the
trail keeps both decisions with who made each and why; the thread says what changed; Record
decision and Withdraw work again; a listing open in another case is not reopened. The figures
after a correction: tests/test_correction_figures.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import press
from correction_kit import (
    correct,
    decide,
    open_form,
    portal_case,
    rejected_by_mistake,
)
from delivery_kit import (
    APPROVER,
    APPROVER_2,
    EBAY,
    REPORTER,
    TAOBAO,
    events,
    held_back_bot,
    jobs,
    listings,
    notices,
    platforms_config,
    run_jobs,
    run_jobs_until,
    thread,
    told,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from test_hostile_text import HOSTILE, assert_modal_safe, assert_safe

from bot.config.schema import AppConfig
from bot.slack_ui import corrections as cf
from bot.slack_ui import notice_blocks as nb
from storage.db import Database


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


# -- reopening -------------------------------------------------------------------------------------


async def test_a_mistaken_rejected_is_reopened_with_a_reason_and_then_recorded_removed(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        assert form["callback_id"] == cf.CORRECTION_VIEW
        assert form["blocks"][1]["element"]["options"][0]["text"]["text"] == (
            "taobao:612345678901 — Rejected"
        )
        assert form["blocks"][2]["element"]["initial_option"]["value"] == "in_review"

        assert await correct(bot, form) == {}  # saved: the form closes
        [item] = await listings(bot)
        assert (item.status, item.decided_at, item.status_reason) == ("in_review", None, None)

        # Record decision… offers it again, and records the platform's real decision.
        await decide(bot, notice_id, "removed")
        [item] = await listings(bot)
        assert item.status == "removed" and item.decided_at is not None
        moves = [
            (e.actor, e.detail["from"], e.detail["to"]) for e in await events(bot, "status_changed")
        ]
        assert [m for m in moves if m[1:] != ("queued", "submitted")][-3:] == [
            (APPROVER, "submitted", "rejected"),
            (APPROVER_2, "rejected", "in_review"),
            (APPROVER, "in_review", "removed"),
        ]


async def test_the_trail_keeps_both_decisions_with_who_made_each_and_why(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        [rejected] = [
            e for e in await events(bot, "status_changed") if e.detail["to"] == "rejected"
        ]
        reason = "Mis-click <!channel> & wrong row"
        assert (
            await correct(
                bot, await open_form(bot, nb.CORRECT, notice_id, APPROVER_2), reason=reason
            )
            == {}
        )

        [still] = [e for e in await events(bot, "status_changed") if e.detail["to"] == "rejected"]
        assert (still.id, still.actor, still.detail) == (
            rejected.id,
            rejected.actor,
            rejected.detail,
        )
        [corrected] = await events(bot, "decision_corrected")
        assert corrected.actor == APPROVER_2
        assert corrected.detail == {
            "from": "rejected",
            "to": "in_review",
            "reason": reason,
            "previous_actor": APPROVER,
            "previous_at": rejected.created_at.isoformat(),
            "corrects": str(rejected.id),
        }
        [item] = await listings(bot)
        assert corrected.listing_id == item.id and corrected.notice_id == notice_id


async def test_the_thread_says_what_changed_by_whom_and_why(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        await run_jobs(bot)
        before = len(bot.slack.calls_to("chat.update"))
        said_before = thread(bot)
        reason = "Mis-click <!channel> & <https://evil.example|click here>"
        assert (
            await correct(
                bot, await open_form(bot, nb.CORRECT, notice_id, APPROVER_2), reason=reason
            )
            == {}
        )
        await run_jobs(bot)
        said = thread(bot)[len(said_before) :]
        assert "Decision corrected on Taobao" in said and "now *In review*" in said
        assert "was *Rejected*, recorded by <@U0LEGAL>" in said
        assert "Corrected by <@U0LEGAL2>" in said
        assert f"<@{REPORTER}>" in said
        assert "and Withdraw work for these listings again" in said
        assert "Mis-click &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;" in said
        assert "<!channel>" not in said and "<https://evil" not in said
        # The parent message is refreshed: the case is open again.
        updates = bot.slack.calls_to("chat.update")[before:]
        assert updates and "in review" in json.dumps(updates[-1].params["blocks"])


async def test_withdraw_works_again_after_a_reopen(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        assert await correct(bot, await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)) == {}
        await bot.interact(press(nb.WITHDRAW, str(notice_id), user=APPROVER))
        await bot.slack.wait_for("chat.postEphemeral")  # its answer, once it is done
        assert told(bot, APPROVER)[0].startswith("Withdrawn here.")
        [item] = await listings(bot)
        assert item.status == "withdrawn"


async def test_a_correction_to_another_decision_keeps_the_decision_time(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        [before] = await listings(bot)
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        reason = "Alibaba removed it; Rejected was the wrong row."
        assert await correct(bot, form, to="removed", reason=reason) == {}
        [after] = await listings(bot)
        assert (after.status, after.decided_at) == ("removed", before.decided_at)
        await run_jobs(bot)
        said = thread(bot)
        assert "now *Removed*" in said and "work for these listings again" not in said


# -- refused ---------------------------------------------------------------------------------------


async def test_a_correction_without_a_reason_is_refused_beside_the_reason(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        answer = await correct(bot, form, reason="  \n ")
        assert answer["response_action"] == "errors"
        assert answer["errors"] == {
            cf.REASON: "Say why the decision is corrected: the thread shows it beside both "
            "decisions."
        }
        assert [item.status for item in await listings(bot)] == ["rejected"]
        assert await events(bot, "decision_corrected") == []


async def test_a_reporter_may_not_correct_a_decision(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        await bot.interact(press(nb.CORRECT, str(notice_id), user=REPORTER))
        await bot.slack.wait_for("chat.postEphemeral")
        assert told(bot, REPORTER) == [
            "Only approvers can correct a recorded decision. Ask <@U0LEGAL>, <@U0LEGAL2> "
            "(listed in `access.approvers`)."
        ]
        assert not bot.slack.calls_to("views.open")[2:]  # only the two forms the test opened
        # A form sealed for the reporter (as if it had opened) is refused too.
        [item] = await listings(bot)
        [case_id] = {item.case_id}
        metadata = bot.sealed(
            cf.CORRECTION_VIEW,
            user=REPORTER,
            case=case_id,
            notice=notice_id,
            statuses={str(item.id): "rejected"},
        )
        form = {"private_metadata": metadata, "blocks": [{}, _offered(item.id, item.key)]}
        answer = await correct(bot, form, user=REPORTER)
        assert "Only approvers can correct a recorded decision" in answer["errors"][cf.LISTINGS]
        assert [item.status for item in await listings(bot)] == ["rejected"]


def _offered(listing_id: int | None, key: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": key}, "value": str(listing_id)}
    return {"element": {"options": [option]}}


async def test_the_form_is_refused_when_nothing_is_decided(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await portal_case(bot)
        await bot.interact(press(nb.CORRECT, str(notice_id), user=APPROVER))
        await bot.slack.wait_for("chat.postEphemeral")
        [answer] = told(bot, APPROVER)
        assert answer.startswith("No listing of this notice has a decision to correct")


async def test_a_listing_decided_again_since_the_form_opened_is_not_corrected(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        stale = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        fresh = await open_form(bot, nb.CORRECT, notice_id, APPROVER)
        assert await correct(bot, fresh, user=APPROVER) == {}
        await decide(bot, notice_id, "removed")
        answer = await correct(bot, stale, to="needs_info")
        assert answer["errors"][cf.LISTINGS].startswith(
            "taobao:612345678901 is Removed now, not as this form showed it"
        )
        assert [item.status for item in await listings(bot)] == ["removed"]
        assert len(await events(bot, "decision_corrected")) == 1


async def test_reopening_is_refused_while_the_listing_is_open_in_another_case(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        _, answer = await bot.submit_report(urls=TAOBAO)  # reported again: a rejection is closed
        assert "errors" not in answer
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        refused = await correct(bot, form)
        assert refused["errors"][cf.LISTINGS].startswith(
            "taobao:612345678901 was reported again and is open in TD-2"
        )
        assert [item.status for item in await listings(bot)] == ["rejected", "queued"]
        assert await events(bot, "decision_corrected") == []
        # Correcting it to another decision leaves it closed: allowed.
        assert await correct(bot, form, to="removed", reason="It was removed, in fact.") == {}
        assert [item.status for item in await listings(bot)] == ["removed", "queued"]


# -- a platform that is checked ----------------------------------------------------------------------


async def test_a_reopened_listing_on_a_checked_platform_is_checked_again(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=EBAY)
        await run_jobs(bot)
        [notice] = await notices(bot)
        assert notice.id is not None and notice.reference is not None
        ebay.decide(notice.reference, "123456789012", "SUBMISSION_FAILED", "not infringing")

        async def status_is(wanted: str) -> bool:
            return [item.status for item in await listings(bot)] == [wanted]

        await run_jobs_until(bot, lambda: status_is("rejected"))
        polls = len(await jobs(bot, "poll"))
        form = await open_form(bot, nb.CORRECT, notice.id, APPROVER)
        reason = "eBay reopened its review after our appeal."
        assert await correct(bot, form, reason=reason, user=APPROVER) == {}
        assert len(await jobs(bot, "poll")) == polls + 1  # its checks resume
        ebay.decide(notice.reference, "123456789012", "Removed")
        await run_jobs_until(bot, lambda: status_is("removed"))
        assert "eBay is checked again for them" in thread(bot)
        [last] = [e for e in await events(bot, "status_changed")][-1:]
        assert (last.actor, last.detail["from"], last.detail["to"]) == (
            "platform:ebay",
            "in_review",
            "removed",
        )


# -- the text --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_correction_form_and_reply_keep_hostile_text_inert(hostile: str) -> None:
    offered = [(n, f"ebay:{n:012}", "rejected") for n in range(150)]
    view = cf.correction_view(
        notice_id=3, platform=hostile, listings=[(1, hostile, "removed"), *offered]
    )
    assert len(view["blocks"][1]["element"]["options"]) == cf.MAX_LISTINGS
    assert_modal_safe(view, hostile=hostile)
    items = [
        cf.Corrected(
            listing_id=n,
            notice_id=3,
            platform="ebay",
            url=f"https://www.ebay.com/itm/{n:012}",
            key=f"ebay:{n:012}",
            old="rejected",
            previous_event=n,
            previous_actor=actor,
            previous_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        )
        for n, actor in enumerate(["U0LEGAL", "platform:ebay", hostile, None] * 4)
    ]
    text, blocks = cf.correction_posted(
        platform=hostile,
        to="in_review",
        reason=f"{hostile}\n{hostile}",
        actor="U0LEGAL2",
        reporter_id=REPORTER,
        items=items,
        checked=True,
    )
    assert_safe(text, blocks, hostile=hostile, mentions=[REPORTER, "U0LEGAL", "U0LEGAL2"])
    shown = json.dumps(blocks)
    assert "recorded by eBay on 2026-03-02 09:30 UTC" in shown and "and 6 more" in shown
