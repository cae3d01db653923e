"""A notice's decisions are never left unwatched in silence: when checking the platform keeps
failing past the backoff schedule, or the platform answers something the adapter cannot read,
the case's thread says so once, naming the platform, and polling goes on at a slow rate until the
platform answers again, which the thread also says once. The fake eBay on loopback, through the
bot's real endpoint and worker; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from app_yaml import build_config
from conftest import EBAY_TOKEN, SlackDriver, eventually
from fakes.ebay import FakeEbayVero
from sqlalchemy import select, update

from bot.config.schema import AppConfig
from storage.models import Event, Job, Listing, Notice

EBAY_1 = "https://www.ebay.com/itm/123456789012"
FAILING = "Could not check eBay for decisions"
WORKS_AGAIN = "Checking eBay for decisions works again"


@pytest.fixture
def config(ebay: FakeEbayVero) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "poll_every": "1s",
            "timeout": 2,
        }
    }
    # The schedule compressed to two 1-second steps: three runs, then the slow rate (1 s here).
    return build_config(
        platforms=platforms,
        delivery={"backoff": ["1s", "1s"]},
        environ={"EBAY_VERO_TOKEN": EBAY_TOKEN},
    )


async def _all(bot: SlackDriver, model: Any) -> list[Any]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())


async def _sent(bot: SlackDriver) -> Notice | None:
    notices = await _all(bot, Notice)
    return notices[0] if notices and notices[0].status == "sent" else None


def _thread_replies(bot: SlackDriver, marker: str) -> list[str]:
    return [
        str(call.params.get("text", ""))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts") and marker in str(call.params.get("text", ""))
    ]


async def _polls(bot: SlackDriver) -> dict[str, int]:
    jobs = [job for job in await _all(bot, Job) if job.kind == "poll"]
    return {state: sum(1 for job in jobs if job.state == state) for state in ("done", "dead")}


async def _more_polls_done(bot: SlackDriver, after: int, more: int) -> bool:
    return (await _polls(bot))["done"] >= after + more


async def _unavailable(bot: SlackDriver, ebay: FakeEbayVero, script: Any) -> Notice:
    """A case reported and sent; then every check of eBay gets `script`'s answer."""
    await bot.submit_report(urls=EBAY_1)
    notice = await eventually(lambda: _sent(bot))
    assert notice.reference is not None
    script()
    return notice


async def test_a_poll_outage_longer_than_the_backoff_is_said_once_and_polling_goes_on(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    notice = await _unavailable(bot, ebay, lambda: ebay.fail_next(status=503, times=10_000))

    said = await eventually(lambda: _async(_thread_replies(bot, FAILING)), timeout=40)
    assert "eBay" in said[0] and "503" in said[0]
    assert EBAY_TOKEN not in said[0]
    # Polling goes on at the slow rate, failing, and nothing more is said.
    polls = (await _polls(bot))["done"]
    await eventually(lambda: _more_polls_done(bot, polls, 2), timeout=40)
    assert len(_thread_replies(bot, FAILING)) == 1
    assert (await _polls(bot))["dead"] == 0
    [failing] = await _all(bot, Notice)
    assert failing.status == "sent" and "503" in (failing.last_error or "")

    # eBay answers again and decides: recorded, and the recovery said once.
    ebay._script.clear()
    assert notice.reference is not None
    ebay.decide(notice.reference, "123456789012", "Removed")

    async def removed() -> bool:
        return [item.status for item in await _all(bot, Listing)] == ["removed"]

    await eventually(removed, timeout=30)
    await eventually(lambda: _async(_thread_replies(bot, WORKS_AGAIN)), timeout=10)
    assert len(_thread_replies(bot, FAILING)) == 1
    assert len(_thread_replies(bot, WORKS_AGAIN)) == 1
    [recovered] = await _all(bot, Notice)
    assert recovered.last_error is None
    kinds = [event.kind for event in await _all(bot, Event)]
    assert kinds.count("checks_failing") == 1 and kinds.count("checks_resumed") == 1


async def test_an_answer_the_adapter_cannot_read_is_said_naming_the_platform(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    await _unavailable(bot, ebay, lambda: ebay.malformed_next(times=10_000))

    said = await eventually(lambda: _async(_thread_replies(bot, FAILING)), timeout=40)
    assert "eBay" in said[0]
    polls = (await _polls(bot))["done"]
    await eventually(lambda: _more_polls_done(bot, polls, 2), timeout=40)
    assert len(_thread_replies(bot, FAILING)) == 1
    assert (await _polls(bot))["dead"] == 0
    assert [item.status for item in await _all(bot, Listing)] != ["failed"]


async def test_a_poll_its_workers_gave_up_on_still_leaves_the_notice_watched(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    """A poll job can die without its run failing (its worker killed at every attempt): its
    dead-letter handler says so and polling goes on."""
    await bot.submit_report(urls=EBAY_1)
    notice = await eventually(lambda: _sent(bot))
    async with bot.bot.db.transaction() as session:  # every attempt so far died with its worker
        given_up = await session.execute(
            update(Job).where(Job.kind == "poll", Job.state == "queued").values(attempts=3)
        )
    assert given_up.rowcount == 1

    said = await eventually(lambda: _async(_thread_replies(bot, FAILING)), timeout=20)
    assert "gave up after 3 attempts" in said[0]
    assert notice.reference is not None
    ebay.decide(notice.reference, "123456789012", "Removed")

    async def removed() -> bool:
        return [item.status for item in await _all(bot, Listing)] == ["removed"]

    await eventually(removed, timeout=20)
    await eventually(lambda: _async(_thread_replies(bot, WORKS_AGAIN)), timeout=10)
    assert len(_thread_replies(bot, FAILING)) == 1
    assert (await _polls(bot))["dead"] == 1


async def _async(value: Any) -> Any:
    return value
