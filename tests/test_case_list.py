"""`/report-listing list`: paged, filtered, with thread links."""

from __future__ import annotations

import json

from conftest import SlackDriver, press

from bot.intake.cases import ReportDraft, open_case

DESCRIPTION = "Counterfeit ACME backpacks using our registered mark."


async def _file(
    bot: SlackDriver, n: int, *, reporter: str = "U0REPORTER", url: str | None = None
) -> None:
    await open_case(
        bot.bot.db,
        config=bot.bot.settings.config,
        draft=ReportDraft(
            urls_text=url or f"https://www.ebay.com/itm/{100000000000 + n}",
            brand="Acme",
            right_id="acme-eu-tm",
            infringement="counterfeit",
            description=DESCRIPTION,
        ),
        reporter_id=reporter,
        team_id="T1",
        channel_id="C0TEAM",
        intake_key=f"list-{n}",
    )


async def test_list_pages_through_open_cases_newest_first(bot: SlackDriver) -> None:
    for n in range(12):
        await _file(bot, n)
    await bot.command("list")
    [answer] = await bot.slack.wait_for_responses(1)
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "Open cases* (12) — page 1 of 2" in text
    assert "TD-12" in text and "TD-3" in text and "TD-2*" not in text
    [button] = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"]
    assert button["text"]["text"] == "Next →"

    await bot.interact(
        press(button["action_id"], button["value"], response_url=bot.slack.response_url("page"))
    )
    answers = await bot.slack.wait_for_responses(2)
    page2 = json.dumps(answers[1]["blocks"], ensure_ascii=False)
    assert answers[1]["replace_original"] is True
    assert "page 2 of 2" in page2 and "TD-2" in page2 and "TD-1" in page2 and "TD-12" not in page2


async def test_list_mine_and_by_platform(bot: SlackDriver) -> None:
    await _file(bot, 1, reporter="U0OTHER")
    await _file(bot, 2)
    await _file(bot, 3, url="https://item.taobao.com/item.htm?id=612345678901")
    await bot.command("list mine")
    await bot.command("list taobao")
    answers = await bot.slack.wait_for_responses(2)
    texts = sorted(json.dumps(a["blocks"], ensure_ascii=False) for a in answers)
    mine = next(t for t in texts if "Your open cases" in t)
    taobao = next(t for t in texts if "Taobao" in t)
    assert "(2)" in mine and "TD-1" not in mine
    assert "(1)" in taobao and "TD-3" in taobao


async def test_list_with_an_unknown_filter_says_what_it_takes(bot: SlackDriver) -> None:
    await bot.command("list closed-ish")
    [answer] = await bot.slack.wait_for_responses(1)
    assert "is not a list filter" in answer["text"] and "mine" in answer["text"]
