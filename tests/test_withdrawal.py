"""A withdrawn notice is never delivered: either the withdrawal wins (the platform never sees the
notice) or the person is told it was already on its way, and the thread says how it ended. On
SQLite and PostgreSQL, through the bot's real endpoint and a fake eBay."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SlackDriver, eventually, press
from delivery_kit import (
    APPROVER,
    EBAY,
    creates,
    events,
    held_back_bot,
    jobs,
    listings,
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

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from storage.db import Database


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> AppConfig:
    return platforms_config(ebay, meli)


async def test_a_withdrawal_between_a_job_reading_the_notice_and_sending_it_wins(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=EBAY)
        notice = await only_notice(bot)
        assert notice.id is not None
        rt = bot.bot.runtime
        assert (await rt.loads.notice(notice.id)).notice.status == "pending"  # a job read it
        await bot.interact(press(nb.WITHDRAW, str(notice.id), user=APPROVER))  # Withdraw, now
        await eventually(lambda: _status_is(bot, "withdrawn"))
        assert not await rt.loads.mark_sending(notice.id)  # the job's next step finds it moved
        await run_jobs(bot)
        assert creates(ebay) == []
        assert (await only_notice(bot)).status == "withdrawn"
        assert [item.status for item in await listings(bot)] == ["withdrawn"]


async def test_a_withdrawal_while_sending_wins_when_the_notice_never_left(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        await bot.submit_report(urls=EBAY)
        notice = await only_notice(bot)
        assert notice.id is not None
        # A worker marks the notice `sending` and is killed before its request leaves.
        assert await bot.bot.runtime.loads.mark_sending(notice.id)
        await bot.interact(press(nb.WITHDRAW, str(notice.id), user=APPROVER))
        await slack.wait_for("chat.postEphemeral")
        assert "on its way" in told(bot, APPROVER)[-1]

        async def settled() -> Any:
            found = await only_notice(bot)
            return found if found.status != "sending" else None

        notice = await run_jobs_until(bot, settled)
        assert notice.status == "withdrawn"
        assert creates(ebay) == []  # eBay was asked whether it had it, and never sent it
        assert "will not be sent" in thread(bot)
        assert await jobs(bot, "poll") == []


async def test_a_notice_reaching_the_platform_after_its_withdrawal_is_said_in_the_thread(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    ebay.slow_next(delay=3)  # eBay files the report and takes 3 s to answer
    await bot.submit_report(urls=EBAY)
    await eventually(lambda: _async(creates(ebay)))  # the request is out
    notice = await only_notice(bot)
    assert notice.status == "sending"
    await bot.interact(press(nb.WITHDRAW, str(notice.id), user=APPROVER))
    await bot.slack.wait_for("chat.postEphemeral")
    assert "on its way" in told(bot, APPROVER)[-1]

    async def sent() -> Any:
        found = await only_notice(bot)
        return found if found.status == "sent" else None

    notice = await eventually(sent, timeout=15)
    assert notice.reference is not None and notice.reference in ebay.reports
    said = await eventually(lambda: _async("ask eBay to withdraw" in thread(bot) and thread(bot)))
    assert notice.reference in said
    assert [item.status for item in await listings(bot)] == ["withdrawn"]
    assert [e.kind for e in await events(bot, "notice_arrived_after_withdrawal")]


async def _async(value: Any) -> Any:
    return value


async def _status_is(bot: SlackDriver, status: str) -> bool:
    return (await only_notice(bot)).status == status
