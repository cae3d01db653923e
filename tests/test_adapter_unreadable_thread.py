"""An answer eBay gives in a form the bot cannot read shows in the case's thread, naming eBay, end
to end (Slack intake, the worker's poll, the fake VeRO API): a change in eBay's format does not
quietly stop the tracking of every notice."""

from __future__ import annotations

import json

import pytest
from app_yaml import build_config
from conftest import EBAY_TOKEN, SlackDriver, eventually
from fakes.ebay import FakeEbayVero
from sqlalchemy import select

from bot.config.schema import AppConfig
from storage.models import Notice


@pytest.fixture
def config(ebay: FakeEbayVero) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001", "trademark": "1002", "copyright": "1003"},
            "poll_every": "1s",
            "timeout": 2,
        },
    }
    return build_config(platforms=platforms, environ={"EBAY_VERO_TOKEN": EBAY_TOKEN})


async def _sent(bot: SlackDriver) -> Notice | None:
    async with bot.bot.db.sessions() as session:
        notice = (await session.execute(select(Notice))).scalar_one_or_none()
    return notice if notice is not None and notice.status == "sent" else None


def _thread(bot: SlackDriver) -> list[str]:
    return [
        call.params.get("text", "") + json.dumps(call.params.get("blocks"))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts")
    ]


async def test_an_unreadable_poll_answer_is_said_in_the_thread_naming_ebay(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    await bot.submit_report(urls="https://www.ebay.com/itm/123456789012")
    notice = await eventually(lambda: _sent(bot))
    ebay.malformed_next(status=200, body=b'{"veroReportId": "x", "items": []}', times=50)

    async def said() -> list[str]:
        return [
            text for text in _thread(bot) if "eBay answered in a form the bot cannot read" in text
        ]

    [text, *_] = await eventually(said)
    assert f"checking report {notice.reference}" in text
