"""What the bot says about a notice's fate (held, withdrawn on its way, looked up, a person's
note) keeps hostile text inert and stays within Slack's limits, like every other message
(tests/test_hostile_text.py holds the checker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_hostile_text import HOSTILE, REPORTER, assert_safe

from bot.slack_ui import notice_blocks, notice_outcomes
from bot.slack_ui.mrkdwn import mrkdwn

EBAY = "https://www.ebay.com/itm/123456789012"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_held_notice_looked_up_and_withdrawn_on_its_way(hostile: str) -> None:
    text, built = notice_blocks.notice_held(
        notice_id=3,
        platform=hostile,
        error=hostile,
        look_every=timedelta(minutes=30),
        withdrawal_asked=True,
    )
    assert_safe(text, built, hostile=hostile)
    assert "every 30 minutes" in str(built)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_what_became_of_a_notice(hostile: str) -> None:
    for text, built in (
        notice_outcomes.arrived_after_withdrawal(platform=hostile, reference=hostile),
        notice_outcomes.withdrawn_unsent(platform=hostile, why=hostile),
        notice_outcomes.lookup_sending(platform=hostile),
        notice_outcomes.lookup_problem(platform=hostile, error=hostile, stopped=True),
        notice_outcomes.note_posted(
            actor=REPORTER,
            platform=hostile,
            status="in_review",
            listings=[(EBAY, hostile)] * 12,
            note=hostile,
        ),
    ):
        assert_safe(text, built, hostile=hostile, links=[EBAY])


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("was", ["pending", "sending", "sent", "held", "failed"])
def test_what_a_person_who_withdrew_is_told(hostile: str, was: str) -> None:
    answer = notice_outcomes.withdrawal_answer(
        was=was, platform=hostile, reference=hostile, count=1
    )
    assert_safe(answer, [{"type": "section", "text": mrkdwn(answer)}], hostile=hostile)


def test_intervals_read_as_words() -> None:
    assert notice_outcomes.every(timedelta(minutes=30)) == "30 minutes"
    assert notice_outcomes.every(timedelta(hours=1)) == "hour"
    assert notice_outcomes.every(timedelta(hours=6)) == "6 hours"
