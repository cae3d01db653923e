"""Where a case's thread lives when the bot cannot post where the case was filed: a channel Slack
refuses (`channel_not_found`, `not_in_channel`, `is_archived`) or another person's DM. The thread
moves to the reporter's DM, the reporter is told there, and every later post follows it. Driven
through the real endpoint, with the fake Slack refusing the channel."""

from __future__ import annotations

import json

import pytest
from app_yaml import OMIT, build_config
from conftest import SlackDriver, eventually
from fakes.slack import Call
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.jobs.notify import enqueue_thread_reply
from storage.models import Case, Event, Job

TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"  # a portal: its guide is a reply
DM = "D0REPORTER"  # the fake's conversations.open answer for U0REPORTER
REFUSALS = ["channel_not_found", "not_in_channel", "is_archived"]


@pytest.fixture
def config() -> AppConfig:
    # No report channel: a case's thread goes where its form was opened from.
    return build_config(team={"report_channel": OMIT})


async def _case(bot: SlackDriver) -> Case | None:
    async with bot.bot.db.sessions() as session:
        return await session.get(Case, 1)


async def _thread_in(bot: SlackDriver, channel: str) -> Case:
    async def moved() -> Case | None:
        case = await _case(bot)
        return case if case and case.channel_id == channel and case.thread_ts else None

    found: Case = await eventually(moved)
    return found


def _replies(bot: SlackDriver, case: Case) -> list[Call]:
    return [
        call
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("channel") == case.channel_id
        and call.params.get("thread_ts") == case.thread_ts
    ]


def _text(call: Call) -> str:
    return str(call.params.get("text")) + json.dumps(call.params.get("blocks"))


async def _jobs_settled(bot: SlackDriver) -> list[str] | None:
    async with bot.bot.db.sessions() as session:
        states = [job.state for job in (await session.execute(select(Job))).scalars()]
    return states if states and all(s in ("done", "dead") for s in states) else None


@pytest.mark.parametrize("error", REFUSALS)
async def test_a_channel_refusing_the_bot_moves_the_thread_to_the_reporters_dm(
    bot: SlackDriver, error: str
) -> None:
    bot.slack.refuse_channel("C0TEAM", error)
    _, body = await bot.submit_report(urls=TAOBAO, channel="C0TEAM")
    assert "TD-1" in json.dumps(body["view"])
    case = await _thread_in(bot, DM)
    [opened] = bot.slack.calls_to("conversations.open")
    assert opened.params["users"] == "U0REPORTER"
    # The parent message is in the DM, and the reporter is told there why and where.
    parent = bot.slack.messages[(DM, str(case.thread_ts))]
    assert "TD-1" in json.dumps(parent["blocks"])

    async def guide() -> list[Call]:
        return [c for c in _replies(bot, case) if "file this notice on" in _text(c)]

    await eventually(guide)  # the portal guide reaches the person who files it
    [told] = [c for c in _replies(bot, case) if "C0TEAM" in _text(c)]
    assert "status thread is here" in _text(told)
    assert "dead" not in await eventually(lambda: _jobs_settled(bot))
    async with bot.bot.db.sessions() as session:
        [started] = (
            (await session.execute(select(Event).where(Event.kind == "thread_started")))
            .scalars()
            .all()
        )
    assert started.detail["channel"] == DM
    assert started.detail["refused"] == {"channel": "C0TEAM", "error": error}


async def test_a_report_filed_from_someone_elses_dm_gets_its_thread_in_the_reporters_dm(
    bot: SlackDriver,
) -> None:
    bot.slack.refuse_channel("D0FRIEND", "channel_not_found")  # the bot is not in that DM
    await bot.submit_report(urls=TAOBAO, channel="D0FRIEND")
    case = await _thread_in(bot, DM)
    [told] = [c for c in _replies(bot, case) if "status thread is here" in _text(c)]
    assert "direct message" in _text(told) and "<#D0FRIEND>" not in _text(told)
    assert "dead" not in await eventually(lambda: _jobs_settled(bot))


async def test_a_channel_archived_after_the_thread_started_moves_later_posts_to_the_dm(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls=TAOBAO, channel="C0TEAM")
    first = await _thread_in(bot, "C0TEAM")
    assert await eventually(lambda: _jobs_settled(bot))
    bot.slack.refuse_channel("C0TEAM", "is_archived")
    async with bot.bot.db.transaction() as session:
        await enqueue_thread_reply(session, case_id=1, text="A later word on TD-1")
    bot.bot.worker.wake()
    case = await _thread_in(bot, DM)
    assert case.thread_ts != first.thread_ts

    async def later() -> list[Call]:
        return [c for c in _replies(bot, case) if "A later word on TD-1" in _text(c)]

    await eventually(later)
    [told] = [c for c in _replies(bot, case) if "status thread is here" in _text(c)]
    assert "<#C0TEAM> is archived" in _text(told)
    assert "dead" not in (await eventually(lambda: _jobs_settled(bot)))
