"""Per-user abuse limits (`limits` in app.yaml): reports per hour, counted in the database, and
slash commands per minute, counted in each process. Going over is an answer saying when to try
again, and stores nothing."""

from __future__ import annotations

import pytest
from app_yaml import build_config
from conftest import SlackDriver
from sqlalchemy import func, select

from bot.config.schema import AppConfig, ConfigError
from storage.models import Case

EBAY = "https://www.ebay.com/itm/1234567890{}"


@pytest.fixture
def config() -> AppConfig:
    return build_config(limits={"reports_per_hour": 2, "commands_per_minute": 3})


async def test_commands_over_the_limit_are_answered_with_when_to_try_again(
    bot: SlackDriver,
) -> None:
    for _ in range(3):
        await bot.command("help")
    await bot.command("list all")
    answers = await bot.slack.wait_for_responses(4)
    [refused] = [a for a in answers if "limits.commands_per_minute" in a["text"]]
    assert refused["response_type"] == "ephemeral" and "try again in" in refused["text"]
    assert not any("All cases" in a["text"] for a in answers)  # the fourth was not answered

    await bot.command("list all", user="U0OTHER")  # each person has their own allowance
    answers = await bot.slack.wait_for_responses(5)
    assert "All cases" in answers[4]["text"]


async def _cases(bot: SlackDriver) -> int:
    async with bot.bot.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


async def test_reports_over_the_hourly_limit_store_nothing(bot: SlackDriver) -> None:
    for n in (1, 2):
        _, body = await bot.submit_report(urls=EBAY.format(n))
        assert body["response_action"] == "update", body
    _, body = await bot.submit_report(urls=EBAY.format(3))
    assert body["response_action"] == "errors"
    assert "limits.reports_per_hour" in body["errors"]["urls"]
    assert "try again" in body["errors"]["urls"]
    assert await _cases(bot) == 2

    await bot.command(EBAY.format(3))  # the form is not even opened
    [answer] = await bot.slack.wait_for_responses(1)
    assert "limits.reports_per_hour" in answer["text"]
    assert not bot.slack.calls_to("views.open")

    _, body = await bot.submit_report(urls=EBAY.format(4), user="U0OTHER")
    assert body["response_action"] == "update"


def test_limits_must_be_positive_whole_numbers() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(limits={"reports_per_hour": 0, "commands_per_minute": "many"})
    paths = sorted(error.split(":")[0] for error in raised.value.errors)
    assert paths == ["limits.commands_per_minute", "limits.reports_per_hour"]


def test_limits_have_sane_defaults() -> None:
    limits = build_config().limits
    assert limits.reports_per_hour == 60 and limits.commands_per_minute == 30
