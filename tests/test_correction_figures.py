"""The figures after a correction, on SQLite and PostgreSQL, the correction made through the bot's
real endpoint: the digest and the scorecard count each listing's final decision, once; time to
removal runs to the final removal (a correction to another decision keeps the decision's time, a
reopen clears it); a needs-info decision corrected away was never asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SlackDriver
from correction_kit import correct, decide, open_form, portal_case, rejected_by_mistake
from delivery_kit import APPROVER_2, held_back_bot, listings, platforms_config
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from sqlalchemy import update

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database
from storage.models import Listing
from storage.stats.period import period_figures
from storage.stats.scorecard import scorecard


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def _backdate(bot: SlackDriver, *, submitted: datetime, decided: datetime) -> None:
    async with bot.bot.db.transaction() as session:
        await session.execute(update(Listing).values(submitted_at=submitted, decided_at=decided))


async def test_the_figures_count_the_final_decision_and_its_time(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await rejected_by_mistake(bot)
        now = datetime.now(UTC)
        await _backdate(bot, submitted=now - timedelta(days=3), decided=now - timedelta(days=2))
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        assert await correct(bot, form, to="removed", reason="It was removed.") == {}
        later = now + timedelta(minutes=1)
        async with db.sessions() as session:
            [score] = await scorecard(session, since=None, now=later, sla={})
            week = await period_figures(
                session, start=now - timedelta(days=7), end=later, now=later, sla={}
            )
        # Counted once, as removed; the time runs to when the platform decided (2 days ago).
        assert (score.reported, score.removed, score.rejected) == (1, 1, 0)
        assert (score.median_hours, score.takedown_rate) == (24.0, 1.0)
        assert (week.total.reported, week.total.removed, week.total.rejected) == (1, 1, 0)
        assert week.total.median_hours == 24.0


async def test_a_removal_corrected_away_no_longer_counts_and_the_next_one_does(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await portal_case(bot)
        await decide(bot, notice_id, "removed")
        now = datetime.now(UTC)
        await _backdate(bot, submitted=now - timedelta(days=3), decided=now - timedelta(days=2))
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        assert (
            await correct(bot, form, reason="Still listed: Removed was recorded too early.") == {}
        )
        async with db.sessions() as session:
            [score] = await scorecard(session, since=None, now=now + timedelta(minutes=1), sla={})
        assert (score.removed, score.rejected, score.median_hours) == (0, 0, None)

        await decide(bot, notice_id, "removed")  # the real removal, recorded now
        [item] = await listings(bot)
        assert item.decided_at is not None and item.submitted_at is not None
        later = item.decided_at + timedelta(minutes=1)
        async with db.sessions() as session:
            [score] = await scorecard(session, since=None, now=later, sla={})
        seconds = int(item.decided_at.timestamp()) - int(item.submitted_at.timestamp())
        assert (score.removed, score.median_hours) == (1, seconds / 3600)
        assert score.median_hours is not None and score.median_hours >= 72


async def test_a_needs_info_corrected_away_was_never_asked(
    settings_for: Any, db: Database, slack: FakeSlack
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_id = await portal_case(bot)
        await decide(bot, notice_id, "needs_info")
        form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
        assert await correct(bot, form, reason="Alibaba asked nothing; wrong case.") == {}
        async with db.sessions() as session:
            [score] = await scorecard(
                session, since=None, now=datetime.now(UTC) + timedelta(minutes=1), sla={}
            )
        assert (score.reported, score.needed_info) == (1, 0)
        await decide(bot, notice_id, "needs_info")  # this time it does ask
        async with db.sessions() as session:
            [score] = await scorecard(
                session, since=None, now=datetime.now(UTC) + timedelta(minutes=1), sla={}
            )
        assert score.needed_info == 1
