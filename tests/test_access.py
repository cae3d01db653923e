"""Access: reporters may file, approvers may change statuses; user groups are resolved through
Slack and cached; a refused person is told who can help; the audit trail names every actor."""

from __future__ import annotations

import json
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually, press
from sqlalchemy import select

from bot.config.schema import AppConfig
from storage.models import Event, Notice

TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"


@pytest.fixture
def config() -> AppConfig:
    return build_config(access={"reporters": ["S0BRAND", "U0SOLO"], "approvers": ["U0LEGAL"]})


async def test_a_person_outside_the_reporters_is_told_who_can_help(bot: SlackDriver) -> None:
    bot.slack.usergroups["S0BRAND"] = ["U0REPORTER"]
    await bot.command(TAOBAO, user="U0STRANGER")
    [answer] = await bot.slack.wait_for_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "access.reporters" in answer["text"] and "<!subteam^S0BRAND>" in answer["text"]
    assert not bot.slack.calls_to("views.open")
    _, body = await bot.submit_report(urls=TAOBAO, user="U0STRANGER")
    assert body["response_action"] == "errors" and "access.reporters" in body["errors"]["urls"]


async def test_members_of_a_reporter_group_may_file_and_the_group_is_cached(
    bot: SlackDriver,
) -> None:
    bot.slack.usergroups["S0BRAND"] = ["U0REPORTER"]
    await bot.command(TAOBAO)
    await bot.command("https://www.ebay.com/itm/123456789012")
    await bot.slack.wait_for("views.open", count=2)
    assert len(bot.slack.calls_to("usergroups.users.list")) == 1
    await bot.command(TAOBAO, user="U0SOLO")  # listed by user id: no lookup needed
    await bot.slack.wait_for("views.open", count=3)


async def _awaiting(bot: SlackDriver) -> Notice:
    async def ready() -> Notice | None:
        async with bot.bot.db.sessions() as session:
            notice = (await session.execute(select(Notice))).scalar_one_or_none()
        return notice if notice and notice.status == "awaiting_person" else None

    notice: Notice = await eventually(ready)
    return notice


def _ephemerals(bot: SlackDriver) -> list[dict[str, Any]]:
    return [c.params for c in bot.slack.calls_to("chat.postEphemeral")]


async def test_only_approvers_change_statuses_but_the_reporter_confirms_the_portal(
    bot: SlackDriver,
) -> None:
    bot.slack.usergroups["S0BRAND"] = ["U0REPORTER", "U0COLLEAGUE"]
    await bot.submit_report(urls=TAOBAO)
    notice = await _awaiting(bot)

    await bot.interact(press("portal_submitted", str(notice.id), user="U0COLLEAGUE"))
    refused = await eventually(lambda: _first(_ephemerals(bot)))
    assert "approvers" in refused["text"] and "<@U0LEGAL>" in refused["text"]

    await bot.interact(press("portal_submitted", str(notice.id), user="U0REPORTER"))  # their case
    [opened] = await bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "notice_confirm"

    await bot.interact(press("notice_withdraw", str(notice.id), user="U0REPORTER"))
    await eventually(lambda: _first(_ephemerals(bot)[1:]))
    await bot.interact(press("notice_withdraw", str(notice.id), user="U0LEGAL"))

    async def withdrawn() -> list[Event]:
        async with bot.bot.db.sessions() as session:
            events = (
                (await session.execute(select(Event).where(Event.kind == "status_changed")))
                .scalars()
                .all()
            )
        return [e for e in events if e.detail.get("to") == "withdrawn"]

    [event] = await eventually(withdrawn)
    assert event.actor == "U0LEGAL"
    assert "approvers" in json.dumps(_ephemerals(bot)[1])


async def _first(items: list[Any]) -> Any:
    return items[0] if items else None


async def _file_from(bot: SlackDriver, channel: str, *, user: str) -> None:
    """`user` files a case from `channel` through the form the bot opened there."""
    await bot.command(TAOBAO, user=user, channel=channel)
    [opened] = await bot.slack.wait_for("views.open")
    metadata = opened.params["view"]["private_metadata"]
    _, body = await bot.submit_report(urls=TAOBAO, user=user, channel=channel, metadata=metadata)
    assert body["response_action"] == "update", body


async def test_a_private_channels_members_are_read_page_by_page(bot: SlackDriver) -> None:
    crowd = [f"U{n:07d}" for n in range(2400)]
    bot.slack.channels["G0BIG"] = {"is_private": True, "members": [*crowd, "U0SOLO"]}
    await _file_from(bot, "G0BIG", user="U0SOLO")
    await bot.command("status TD-1", user="U0SOLO")
    [answer] = await bot.slack.wait_for_responses(1)
    assert answer["text"].startswith("TD-1"), answer
    assert len(bot.slack.calls_to("conversations.members")) == 3  # 1,000 a page


async def test_members_slack_cannot_give_are_refused_and_asked_again(bot: SlackDriver) -> None:
    bot.slack.channels["G0TEAM"] = {"is_private": True, "members": ["U0SOLO"]}
    await _file_from(bot, "G0TEAM", user="U0SOLO")
    bot.slack.fail_next("conversations.members", error="internal_error")
    await bot.command("status TD-1", user="U0SOLO")
    [refused] = await bot.slack.wait_for_responses(1)
    assert "private channel" in refused["text"]  # fails closed
    await bot.command("status TD-1", user="U0SOLO")  # the failure was not kept
    [_, answer] = await bot.slack.wait_for_responses(2)
    assert answer["text"].startswith("TD-1"), answer


async def test_a_channel_slack_cannot_describe_opens_no_form(bot: SlackDriver) -> None:
    bot.slack.fail_next("conversations.info", error="ratelimited")
    await bot.command(TAOBAO, user="U0SOLO", channel="C0BUSY")
    [answer] = await bot.slack.wait_for_responses(1)
    assert "try again" in answer["text"] and not bot.slack.calls_to("views.open")


async def test_an_app_without_the_channel_scopes_says_to_reinstall_it(bot: SlackDriver) -> None:
    bot.slack.fail_next("conversations.info", error="missing_scope")
    await bot.command(TAOBAO, user="U0SOLO", channel="C0TEAM")
    [answer] = await bot.slack.wait_for_responses(1)
    assert "channels:read" in answer["text"] and "reinstall" in answer["text"]
    assert not bot.slack.calls_to("views.open")
