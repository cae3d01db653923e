"""A notice whose fate is unknown (it may have reached the platform) stays held: never failed,
never sent again on its own, resolved by a background lookup when the platform answers, or by an
approver who checked. On SQLite and PostgreSQL, through the bot's real endpoint and a fake eBay."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from conftest import eventually, press, view_submission
from delivery_kit import (
    APPROVER,
    EBAY,
    REPORTER,
    TAOBAO,
    creates,
    events,
    held_back_bot,
    jobs,
    only_notice,
    platforms_config,
    run_jobs,
    run_jobs_until,
    thread,
    told,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from sqlalchemy import update

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database
from storage.models import Job, utcnow


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


def _reference(value: str) -> dict[str, Any]:
    return {"reference": {"reference": {"type": "plain_text_input", "value": value}}}


async def test_a_notice_whose_lookup_keeps_failing_stays_held_until_the_platform_answers(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=EBAY)
        notice = await only_notice(bot)
        assert notice.id is not None
        # A worker marks the notice `sending`, calls eBay, and is killed before eBay answers.
        assert await bot.bot.runtime.loads.mark_sending(notice.id)
        ebay.fail_next(
            status=503, times=10_000
        )  # eBay cannot be asked, for longer than the backoff

        async def settled() -> Any:
            found = await only_notice(bot)
            return found if found.status != "sending" else None

        notice = await run_jobs_until(bot, settled)
        assert notice.status == "held", notice.last_error
        assert [job.state for job in await jobs(bot, "submit")] == ["dead"]
        said = thread(bot)
        assert nb.HELD_SENT in said and nb.RETRY in said  # It arrived… / Send again
        assert "Could not deliver" not in said
        assert creates(ebay) == []  # nothing was sent again
        # The lookup goes on in the background, at a slow rate.
        [lookup] = await jobs(bot, "lookup")
        assert lookup.state == "queued"
        assert lookup.run_at >= utcnow() + timedelta(minutes=25)

        ebay._script.clear()  # eBay answers again
        async with db.transaction() as session:  # half an hour passes
            await session.execute(update(Job).where(Job.id == lookup.id).values(run_at=utcnow()))

        async def sent() -> Any:
            found = await only_notice(bot)
            return found if found.status == "sent" else None

        notice = await run_jobs_until(bot, sent)
        assert len(creates(ebay)) == 1 and len(ebay.reports) == 1  # sent once, now
        assert notice.reference in ebay.reports
        assert "no record" in thread(bot)
        assert [e.detail.get("found") for e in await events(bot, "lookup_answered")] == [False]


async def _held(bot: Any, ebay: FakeEbayVero) -> int:
    """A notice eBay filed but whose answer was lost; eBay's lookup shows the item reported."""
    ebay.drop_next()
    await bot.submit_report(urls=EBAY)
    await run_jobs(bot)
    notice = await only_notice(bot)
    assert notice.status == "held" and notice.id is not None, notice.last_error
    return notice.id


async def test_send_again_is_for_approvers_who_are_warned_of_a_duplicate(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _held(bot, ebay)
        held = next(
            c.params["blocks"]
            for c in slack.calls_to("chat.postMessage")
            if nb.HELD_SENT in json.dumps(c.params.get("blocks"))
        )
        [send_again] = [
            e
            for b in held
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == nb.RETRY
        ]
        assert "duplicate" in send_again["confirm"]["text"]["text"]

        await bot.interact(press(nb.RETRY, str(notice_id), user=REPORTER))
        await slack.wait_for("chat.postEphemeral")
        assert "Only approvers" in told(bot, REPORTER)[-1]
        assert (await only_notice(bot)).status == "held"


async def test_only_approvers_may_resolve_a_held_api_notice(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _held(bot, ebay)
        # The reporter (not an approver) may neither open the form nor save one.
        await bot.interact(press(nb.HELD_SENT, str(notice_id), user=REPORTER))
        await slack.wait_for("chat.postEphemeral")
        assert "Only approvers" in told(bot, REPORTER)[-1]
        assert slack.calls_to("views.open") == []
        held = await only_notice(bot)
        # A form as the bot would have sealed it for the reporter (say, opened before the rule):
        # the seal holds, and the approver check still refuses.
        metadata = bot.sealed(
            nb.CONFIRM_VIEW,
            user=REPORTER,
            case=held.case_id,
            notice=notice_id,
            notice_id=notice_id,
            opened_for="held",
            sends=held.attempts,
        )
        response = await bot.interact(
            view_submission(nb.CONFIRM_VIEW, metadata, _reference("5000000001"), user=REPORTER)
        )
        answer = json.loads(await response.text())
        assert "Only approvers" in answer["errors"]["reference"]
        assert (await only_notice(bot)).status == "held"

        # An approver may.
        await bot.interact(press(nb.HELD_SENT, str(notice_id), user=APPROVER))
        [opened] = await slack.wait_for("views.open")
        form = opened.params["view"]
        response = await bot.interact(
            view_submission(
                nb.CONFIRM_VIEW, form["private_metadata"], _reference("5000000001"), user=APPROVER
            )
        )
        assert response.status == 200 and (await response.text()) in ("", "{}")
        notice = await only_notice(bot)
        assert (notice.status, notice.reference) == ("sent", "5000000001")


async def test_a_confirm_form_for_a_notice_that_moved_on_is_refused(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=TAOBAO)
        await run_jobs(bot)
        notice = await only_notice(bot)
        assert notice.status == "awaiting_person"
        # The reporter files portal notices, so may confirm them: they open the form…
        await bot.interact(press(nb.PORTAL_SUBMITTED, str(notice.id), user=REPORTER))
        [opened] = await slack.wait_for("views.open")
        # …then say they could not file it after all, and why, and the notice fails.
        await bot.interact(press(nb.PORTAL_FAILED, str(notice.id), user=REPORTER))
        [_, why] = await slack.wait_for("views.open", count=2)
        reason = {"reason": {"reason": {"type": "plain_text_input", "value": "Form is down"}}}
        await bot.interact(
            view_submission(
                nb.NOT_FILED_VIEW, why.params["view"]["private_metadata"], reason, user=REPORTER
            )
        )

        async def failed() -> bool:
            return (await only_notice(bot)).status == "failed"

        await eventually(failed)

        response = await bot.interact(
            view_submission(
                nb.CONFIRM_VIEW,
                opened.params["view"]["private_metadata"],
                _reference("IPP-2026-0042"),
                user=REPORTER,
            )
        )
        answer = json.loads(await response.text())
        assert "no longer" in answer["errors"]["reference"]
        notice = await only_notice(bot)
        assert (notice.status, notice.reference) == ("failed", None)


async def test_a_confirm_form_opened_before_the_notice_was_sent_again_is_refused(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await _held(bot, ebay)
        await bot.interact(press(nb.HELD_SENT, str(notice_id), user=APPROVER))
        [opened] = await slack.wait_for("views.open")  # the form for this hold
        # An approver sends it again, and it is held again (its answer lost once more).
        ebay.drop_next()
        await bot.interact(press(nb.RETRY, str(notice_id), user=APPROVER))

        async def held_again() -> bool:
            notice = await only_notice(bot)
            return notice.status == "held" and notice.attempts == 2

        await run_jobs_until(bot, held_again)
        response = await bot.interact(
            view_submission(
                nb.CONFIRM_VIEW,
                opened.params["view"]["private_metadata"],
                _reference("5000000001"),
                user=APPROVER,
            )
        )
        answer = json.loads(await response.text())
        assert "sent again since" in answer["errors"]["reference"]
        assert (await only_notice(bot)).status == "held"
