"""What the thread and the answer form say of an answer carries hostile text escaped, within
Slack's limits (the checker of tests/test_hostile_text.py), and the person's words whole in the
guide they paste from."""

from __future__ import annotations

import pytest
from test_hostile_text import HOSTILE, PORTAL_URL, assert_modal_safe, assert_safe

from bot.slack_ui import answer_form as ui

REPORTER = "U0REPORTER"
APPROVER = "U0LEGAL"
EBAY_ITEM = ("https://www.ebay.com/itm/123456789012", "ebay:123456789012")
PEOPLE = (REPORTER, APPROVER)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_answer_form(hostile: str) -> None:
    many = [(n, f"ebay:{n:012d}", hostile) for n in range(1, 130)]
    view = ui.answer_view(notice_id=3, platform=hostile, listings=[(1, hostile, hostile), *many])
    assert_modal_safe(view, hostile=hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_answer_guide(hostile: str) -> None:
    text, built = ui.answer_guide(
        notice_id=3,
        answer_id=9,
        adapter=hostile,
        platform=hostile,
        text=hostile * 3,
        where=(hostile, PORTAL_URL),
        files=[hostile, "certificate.pdf"],
    )
    assert_safe(text, built, hostile=hostile, links=[PORTAL_URL])
    assert built[-1]["elements"][0]["value"] == "3:9"


def test_the_guide_shows_the_whole_answer_to_paste() -> None:
    answer = "\n".join(f"Line {n}: the certificate & <the> proof " * 3 for n in range(60))
    _, built = ui.answer_guide(
        notice_id=3,
        answer_id=9,
        adapter="ebay_vero",
        platform="ebay",
        text=answer,
        where=("eBay VeRO programme", ""),
        files=[],
    )
    shown = "".join(
        block["text"]["text"].replace("```", "")
        for block in built
        if block["type"] == "section" and block["text"]["text"].startswith("```")
    )
    displayed = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert "".join(displayed.split()) == "".join(answer.split())


@pytest.mark.parametrize("hostile", HOSTILE)
def test_what_the_thread_says_of_an_answer(hostile: str) -> None:
    text, built = ui.answer_sent(
        actor=REPORTER,
        platform=hostile,
        message=hostile * 2,
        evidence=[hostile] * 25,
        files=[hostile] * 5,
        back_in_review=[(EBAY_ITEM[0], hostile)] * 30,
        passed_on_by=APPROVER,
        via=hostile,
    )
    assert_safe(text, built, hostile=hostile, mentions=PEOPLE)
    for said in (
        ui.answer_failed(actor=REPORTER, platform=hostile, error=hostile, notice_id=3),
        ui.answer_uncertain(actor=REPORTER, platform=hostile, error=hostile, channel=hostile),
        ui.answer_not_needed(actor=REPORTER, platform=hostile),
    ):
        assert_safe(*said, hostile=hostile, mentions=PEOPLE)


def test_an_i_sent_it_value_names_a_notice_and_an_answer() -> None:
    assert ui.parse_sent_value("12:345") == ("12", 345)
    for forged in ("12", "12:", ":3", "12:3x", "a:1", "1:2:3"):
        with pytest.raises(ValueError):
            ui.parse_sent_value(forged)
