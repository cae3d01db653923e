"""`access.viewers`: who may read cases (status, list, digest, scorecard, Home, the list's pages).
Absent, it is the reporters and the approvers; an empty list lets everyone read; user groups are
resolved through Slack like the other lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver

from bot.config.schema import AppConfig, ConfigError

REPORTERS = {"reporters": ["S0BRAND", "U0SOLO"], "approvers": ["U0LEGAL"]}


@pytest.fixture
def config(request: pytest.FixtureRequest) -> AppConfig:
    return build_config(access=getattr(request, "param", REPORTERS))


async def _read(bot: SlackDriver, user: str, *texts: str) -> list[dict[str, Any]]:
    seen = len(bot.slack.responses)
    for text in texts:
        await bot.command(text, user=user)
    answers = await bot.slack.wait_for_responses(seen + len(texts))
    return answers[seen:]


def _refused(answer: dict[str, Any]) -> bool:
    return "access.viewers" in answer["text"]


async def test_viewers_default_to_reporters_and_approvers(bot: SlackDriver) -> None:
    bot.slack.usergroups["S0BRAND"] = ["U0REPORTER"]
    commands = ("status TD-1", "list", "digest", "scorecard")
    for user in ("U0REPORTER", "U0SOLO", "U0LEGAL"):
        answers = await _read(bot, user, *commands)
        assert not any(_refused(a) for a in answers), (user, answers)
    refused = await _read(bot, "U0STRANGER", *commands)
    assert all(_refused(a) and "<@U0LEGAL>" in a["text"] for a in refused), refused
    assert len(bot.slack.calls_to("usergroups.users.list")) == 1  # cached


@pytest.mark.parametrize(
    "config", [{**REPORTERS, "viewers": ["S0READERS", "U0AUDITOR"]}], indirect=True
)
async def test_an_explicit_viewers_list_names_who_reads(bot: SlackDriver) -> None:
    bot.slack.usergroups["S0READERS"] = ["U0READER"]
    for user in ("U0READER", "U0AUDITOR", "U0LEGAL"):  # approvers always read what they decide
        [answer] = await _read(bot, user, "list all")
        assert "All cases" in answer["text"], (user, answer)
    [answer] = await _read(bot, "U0SOLO", "list all")  # a reporter, not a viewer
    assert _refused(answer)


@pytest.mark.parametrize("config", [{**REPORTERS, "viewers": []}], indirect=True)
async def test_an_empty_viewers_list_lets_everyone_read(bot: SlackDriver) -> None:
    [answer] = await _read(bot, "U0STRANGER", "list all")
    assert "All cases" in answer["text"]


def test_viewers_must_be_user_or_group_ids() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(access={"viewers": ["#brand-team"]})
    assert any(e.startswith("access.viewers") and "#brand-team" in e for e in raised.value.errors)


async def test_home_of_a_person_who_may_not_read_says_who_can_help(bot: SlackDriver) -> None:
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": "U0STRANGER", "channel": "D1", "tab": "home"},
    }
    await bot.post(json.dumps(event), "application/json")
    [call] = await bot.slack.wait_for("views.publish")
    view = json.dumps(call.params["view"], ensure_ascii=False)
    assert "access.viewers" in view and "<@U0LEGAL>" in view and "Your open cases" not in view
