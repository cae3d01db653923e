"""Two people pressing at once, on PostgreSQL (READ COMMITTED, where two transactions can read the
same row before either writes): exactly one press wins, the other is told, and nothing is done
twice. Each press is a signed request to the bot's real endpoint; both are sent at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from conftest import SlackDriver, eventually, press
from delivery_kit import (
    APPROVER,
    APPROVER_2,
    creates,
    events,
    held_back_bot,
    jobs,
    listings,
    notices,
    platforms_config,
    run_jobs,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database

pytestmark = pytest.mark.postgres

PAIRS = 8  # notices pressed twice at once: overlapping requests on each is near certain


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def _failed_notices(bot: SlackDriver, ebay: FakeEbayVero) -> list[int]:
    """PAIRS cases of one eBay listing each, every notice refused by eBay (failed, Retry shown)."""
    ebay.error_next(status=400, errors=[{"errorId": 150001, "message": "Not in VeRO"}], times=PAIRS)
    for n in range(PAIRS):
        await bot.submit_report(urls=f"https://www.ebay.com/itm/{330000000000 + n}")
    await run_jobs(bot)
    found = await notices(bot)
    assert [n.status for n in found] == ["failed"] * PAIRS
    return [n.id for n in found if n.id is not None]


async def _at_once(bot: SlackDriver, *presses: dict[str, Any]) -> None:
    responses = await asyncio.gather(*(bot.interact(p) for p in presses))
    assert [r.status for r in responses] == [200] * len(presses)


async def test_two_approvers_pressing_retry_at_once_queue_one_submit(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_ids = await _failed_notices(bot, ebay)
        for notice_id in notice_ids:
            await _at_once(
                bot,
                press(nb.RETRY, str(notice_id), user=APPROVER),
                press(nb.RETRY, str(notice_id), user=APPROVER_2),
            )
        await slack.wait_for("chat.postEphemeral", count=2 * PAIRS)  # each press is answered
        submits = Counter(job.payload["notice_id"] for job in await jobs(bot, "submit"))
        assert submits == {notice_id: 2 for notice_id in notice_ids}  # the first, and one retry
        retried = Counter(e.notice_id for e in await events(bot, "notice_retried"))
        assert retried == {notice_id: 1 for notice_id in notice_ids}
        await run_jobs(bot)
        assert len(creates(ebay)) == 2 * PAIRS  # refused once, then sent once
        assert len(ebay.reports) == PAIRS


async def test_withdraw_and_retry_pressed_at_once_leave_the_notice_whole(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        notice_ids = await _failed_notices(bot, ebay)
        for notice_id in notice_ids:
            await _at_once(
                bot,
                press(nb.RETRY, str(notice_id), user=APPROVER),
                press(nb.WITHDRAW, str(notice_id), user=APPROVER_2),
            )

        # Whichever came first, the withdrawal stands for the notice and every listing of it.
        async def all_withdrawn() -> bool:
            return [n.status for n in await notices(bot)] == ["withdrawn"] * PAIRS

        await eventually(all_withdrawn)
        assert [item.status for item in await listings(bot)] == ["withdrawn"] * PAIRS
        await slack.wait_for("chat.postEphemeral", count=2 * PAIRS)  # each press is answered
        withdrawn = Counter(e.notice_id for e in await events(bot, "notice_withdrawn"))
        assert withdrawn == {notice_id: 1 for notice_id in notice_ids}
        await run_jobs(bot)
        assert len(creates(ebay)) == PAIRS  # only the refused first tries: nothing sent since
