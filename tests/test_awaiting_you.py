"""A portal listing waiting for a person to file it is *awaiting you*, not *queued*, wherever it is
shown: the thread, the parent message, `/report-listing status` and `list`, the Home tab, the
digest (counted apart from the other open listings, also for a past week) and the CLI's digest.
It is shown, never stored: the listing stays `queued` and its notice `awaiting_person`.

On SQLite and PostgreSQL, through the bot's real endpoint; the worker runs when a test says.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_kit import run_cli
from conftest import SlackDriver, press, view_submission
from delivery_kit import (
    EBAY,
    REPORTER,
    TAOBAO,
    events,
    held_back_bot,
    listings,
    notices,
    platforms_config,
    run_jobs,
    thread,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database
from storage.stats.period import period_figures


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


def parent(bot: SlackDriver) -> str:
    """The case's parent message as last posted or updated."""
    calls = [
        call
        for call in bot.slack.calls
        if (call.method == "chat.postMessage" and not call.params.get("thread_ts"))
        or call.method == "chat.update"
    ]
    return json.dumps(calls[-1].params["blocks"], ensure_ascii=False)


async def answer(bot: SlackDriver, text: str, *, user: str = REPORTER) -> str:
    """The ephemeral answer to `/report-listing <text>`."""
    before = len(bot.slack.responses)
    await bot.command(text, user=user)
    answers = await bot.slack.wait_for_responses(before + 1)
    return json.dumps(answers[-1], ensure_ascii=False)


async def home(bot: SlackDriver, user: str = REPORTER) -> str:
    before = len(bot.slack.calls_to("views.publish"))
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"Ev{before}",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
    }
    await bot.post(json.dumps(event), "application/json")
    calls = await bot.slack.wait_for("views.publish", count=before + 1)
    return json.dumps(calls[-1].params["view"], ensure_ascii=False)


async def _filed_portal_and_ebay(bot: SlackDriver) -> None:
    """A case with a Taobao listing (a portal: its guide waits for a person) and an eBay one
    (sent by the bot)."""
    await bot.submit_report(urls=f"{TAOBAO}\n{EBAY}")
    await run_jobs(bot)
    assert sorted(n.status for n in await notices(bot)) == ["awaiting_person", "sent"]
    # Stored as it always was: shown, never stored.
    statuses = {item.platform: item.status for item in await listings(bot)}
    assert statuses["taobao"] == "queued" and statuses["ebay"] != "queued"


async def _confirm(bot: SlackDriver, notice_id: int) -> None:
    await bot.interact(press(nb.PORTAL_SUBMITTED, str(notice_id), user=REPORTER))
    [*_, opened] = await bot.slack.wait_for("views.open")
    values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-1"}}}
    metadata = opened.params["view"]["private_metadata"]
    await bot.interact(view_submission(nb.CONFIRM_VIEW, metadata, values, user=REPORTER))


async def test_a_portal_listing_nobody_filed_is_awaiting_you_everywhere(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _filed_portal_and_ebay(bot)

        assert "Awaiting you: file this notice on Alibaba IP Protection Platform" in thread(bot)
        shown = parent(bot)
        assert "open: 1 awaiting you · 1 in review" in shown
        assert ":raising_hand: Taobao: <https://item.taobao.com/item.htm?id=612345678901|" in shown
        assert "— awaiting you" in shown and "— queued" not in shown

        status = await answer(bot, "status TD-1")
        assert "open: 1 awaiting you · 1 in review" in status and "— awaiting you" in status

        listed = await answer(bot, "list")
        assert "2 open of 2 (:raising_hand: 1 awaiting you)" in listed
        assert "2 open of 2 (:raising_hand: 1 awaiting you)" in await answer(bot, "list taobao")

        tab = await home(bot)
        assert "1 awaiting you" in tab  # my cases
        assert ":raising_hand: awaiting you: *1*" in tab  # every open listing
        assert "queued: *" not in tab

        digest = await answer(bot, "digest")
        assert "*Awaiting you*\\n1   ▲ 1 vs last week" in digest
        assert "*Still open*\\n1   ▲ 1 vs last week" in digest  # the eBay one
        assert "1 awaiting you." in digest  # the notification text
        taobao = "Taobao      1  ▲1    0    0     0    1     0     —"  # the You column
        assert taobao in digest
        assert "|taobao:612345678901> — awaiting you, reported" in digest  # the oldest open


async def test_once_filed_it_is_no_longer_awaiting_you(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _filed_portal_and_ebay(bot)
        portal = next(n for n in await notices(bot) if n.status == "awaiting_person")
        await _confirm(bot, portal.id or 0)
        await run_jobs(bot)

        assert "open: 1 submitted · 1 in review" in parent(bot)
        assert "awaiting you" not in await answer(bot, "list")
        assert "awaiting you: *" not in await home(bot)
        assert "*Awaiting you*\\n0" in await answer(bot, "digest")


async def test_a_past_week_counts_those_awaiting_a_person_at_its_end(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    """The digest's week before is counted as it stood at its end: a listing filed since was
    awaiting a person then (read from its notice's events), not now."""
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _filed_portal_and_ebay(bot)
        portal = next(n for n in await notices(bot) if n.status == "awaiting_person")
        await _confirm(bot, portal.id or 0)
        [guide] = await events(bot, "portal_guide_posted")
        filed = next(n for n in await notices(bot) if n.id == portal.id)
        assert filed.status == "sent" and filed.updated_at > guide.created_at
        between = guide.created_at + (filed.updated_at - guide.created_at) / 2
        start = guide.created_at - timedelta(days=1)

        async with db.sessions() as session:
            then = await period_figures(session, start=start, end=between, now=between, sla={})
            now = await period_figures(
                session,
                start=start,
                end=filed.updated_at + timedelta(seconds=1),
                now=filed.updated_at + timedelta(seconds=1),
                sla={},
            )
        assert (then.total.awaiting_you, then.total.open) == (1, 1)  # Taobao; eBay still open
        assert then.platform("taobao").awaiting_you == 1  # type: ignore[union-attr]
        assert (now.total.awaiting_you, now.total.open) == (0, 2)


async def test_the_cli_report_run_again_says_awaiting_you(
    settings_for: Any, db: Database, slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    args = ("report", TAOBAO, "--brand", "Acme", "--right", "acme-eu-tm", "--type", "counterfeit")
    args += ("--description", "Fake ACME backpacks.", "--reporter", REPORTER)
    first = run_cli(tmp_path, database_url, *args)
    assert first.returncode == 0, first.stderr
    async with held_back_bot(settings_for(), db, slack) as bot:
        await run_jobs(bot)  # the guide is posted: now it waits for a person
        assert "Awaiting you: file this notice" in thread(bot)
    again = run_cli(tmp_path, database_url, *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("TD-1 was filed already by this same report")
    assert "1  1 awaiting you" in again.stdout


async def test_the_cli_digest_counts_awaiting_you(
    settings_for: Any, db: Database, slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await _filed_portal_and_ebay(bot)
    done = run_cli(tmp_path, database_url, "digest", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Awaiting you: 1   ▲ 1 vs last week" in done.stdout, done.stdout
    assert (
        "taobao:612345678901 (https://item.taobao.com/item.htm?id=612345678901) — awaiting you"
        in done.stdout
    )
