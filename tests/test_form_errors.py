"""Form errors a person can fix, through the bot's real endpoint: every bad line is reachable (in the
form as far as Slack's limit allows, the full list as a file in a direct message), the good lines
can be filed without the bad ones, and the message shortcut prefills only marketplace links."""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

import pytest
from conftest import SlackDriver, eventually, view_submission
from sqlalchemy import select

from bot.slack_ui.report_form import ERROR_LIMIT
from storage.models import Case, Listing

EBAY = "https://www.ebay.com/itm/123456789012"
AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
LOOKALIKE = "https://www.\u0435bay.com/itm/123456789013"
SKIP_HINT = "Tick “Skip the lines that cannot be filed” below to file the"
MORE = "more: the full list was sent to you as a file, in our direct messages."


def good_line(n: int) -> str:
    return f"https://www.etsy.com/listing/{1_000_000 + n}"


def bad_line(n: int) -> str:
    return f"https://shop{n}.example/item/{n}"


async def stored(bot: SlackDriver) -> list[tuple[int, str]]:
    async with bot.bot.db.sessions() as session:
        rows = await session.execute(select(Listing.case_id, Listing.key).order_by(Listing.id))
        return [(case_id, key) for case_id, key in rows]


async def cases(bot: SlackDriver) -> int:
    async with bot.bot.db.sessions() as session:
        return len((await session.execute(select(Case.id))).all())


async def sent_file(bot: SlackDriver) -> tuple[Any, str, list[dict[str, str]]]:
    """The one file the bot shared (its completeUploadExternal call), its name, its CSV rows."""
    [done] = await bot.slack.wait_for("files.completeUploadExternal")
    [(name, data)] = bot.slack.uploaded(done)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    return done, name, rows


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


# -- the form's errors ----------------------------------------------------------------------------


async def test_bad_lines_that_fit_are_each_named_with_the_way_to_file_the_good_ones(
    bot: SlackDriver,
) -> None:
    _, body = await bot.submit_report(urls=f"{EBAY}\nnot a url\n{LOOKALIKE}\n{AMAZON}\n")
    assert body["response_action"] == "errors"
    assert body["errors"]["urls"].split("\n") == [
        "line 2: Not a URL: 'not a url'; paste the listing's link, starting with https://.",
        "line 3: www.\u0435bay.com looks like eBay (ebay.com) but is not: its name has a Cyrillic "
        "'\u0435' (U+0435) for 'e'. Only links on ebay.com itself are eBay links; copy the "
        "listing's link from eBay's own page.",
        f"{SKIP_HINT} 2 good ones.",
    ]
    assert await stored(bot) == []


async def test_bad_lines_beyond_the_limit_are_sent_to_the_person_as_a_file(
    bot: SlackDriver,
) -> None:
    lines = [good_line(n) if n % 4 == 0 else bad_line(n) for n in range(1, 121)]
    _, body = await bot.submit_report(urls="\n".join(lines))
    assert body["response_action"] == "errors"
    message = body["errors"]["urls"]
    assert len(message) <= ERROR_LIMIT
    shown = [line for line in message.split("\n") if line.startswith("line ")]
    assert len(shown) >= 5
    for text in shown:  # each bad line named by its number, with the precise reason
        number = int(text.split(":")[0].removeprefix("line "))
        assert text.startswith(f"line {number}: shop{number}.example is not a marketplace")
    *_, more, hint = message.split("\n")
    assert more == f"… and {90 - len(shown)} {MORE}"
    assert hint == f"{SKIP_HINT} 30 good ones."
    assert await stored(bot) == []

    done, name, rows = await sent_file(bot)
    [opened] = bot.slack.calls_to("conversations.open")
    assert opened.params["users"] == "U0REPORTER"
    assert done.params["channel_id"] == "D0REPORTER"  # our direct messages
    assert "Your report was not filed: 90 lines cannot be filed" in done.params["initial_comment"]
    assert name.endswith(".csv")
    assert len(rows) == 90
    assert (rows[0]["source"], rows[0]["line"], rows[0]["url"]) == ("typed", "1", bad_line(1))
    assert rows[0]["reason"].startswith("shop1.example is not a marketplace the bot knows")
    assert [int(row["line"]) for row in rows] == [n for n in range(1, 121) if n % 4]


async def test_a_bad_line_in_the_uploaded_file_is_in_the_list_sent_too(bot: SlackDriver) -> None:
    rows = "\n".join(bad_line(n) for n in range(1, 101))
    file = bot.slack.add_file("sweep.txt", rows.encode())
    values = _form_values(urls=f"{EBAY}\nnot a url", file=file)
    response = await bot.interact(_submission(bot, values))
    body = json.loads(await response.text())
    assert body["errors"]["urls"] == (
        "line 2: Not a URL: 'not a url'; paste the listing's link, starting with https://.\n"
        f"{SKIP_HINT} 1 good one."
    )
    assert body["errors"]["url_file"].startswith("file line 1: shop1.example is not")
    assert MORE in body["errors"]["url_file"]
    _, _, sent = await sent_file(bot)
    assert [(row["source"], row["line"]) for row in sent[:2]] == [("typed", "2"), ("file", "1")]
    assert len(sent) == 101


async def test_the_form_answers_even_when_the_list_cannot_be_sent(
    bot: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="takedown.desk")
    bot.slack.fail_next("conversations.open", error="missing_scope")
    _, body = await bot.submit_report(urls="\n".join(bad_line(n) for n in range(1, 101)))
    assert MORE in body["errors"]["urls"]

    async def warned() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "takedown.desk"]

    assert await eventually(warned) == [
        "could not send U0REPORTER the lines of their report that cannot be filed: missing_scope"
    ]
    assert bot.slack.calls_to("files.getUploadURLExternal") == []


async def test_nothing_is_filed_when_skip_is_ticked_but_no_line_is_good(bot: SlackDriver) -> None:
    _, body = await bot.submit_report(urls="not a url\nhttps://shop.example/1", skip_invalid=True)
    assert body["response_action"] == "errors"
    assert "line 1" in body["errors"]["urls"] and "line 2" in body["errors"]["urls"]
    assert "Tick" not in body["errors"]["urls"]
    assert await cases(bot) == 0


# -- filing the good ones -------------------------------------------------------------------------


async def test_ticking_skip_files_the_good_lines_and_lists_the_skipped_ones(
    bot: SlackDriver,
) -> None:
    _, body = await bot.submit_report(
        urls=f"{EBAY}\nnot a url\n{LOOKALIKE}\n{AMAZON}\n", skip_invalid=True
    )
    assert body["response_action"] == "update", body
    text = view_text(body["view"])
    assert "is open with 2 listings" in text
    assert "Skipped 2 lines that cannot be filed:\\nline 2: Not a URL: 'not a url'" in text
    assert "\\nline 3: www.\u0435bay.com looks like eBay (ebay.com) but is not" in text
    assert await stored(bot) == [(1, "ebay:123456789012"), (1, "amazon.de:B0ABCDEFGH")]
    assert bot.slack.calls_to("files.completeUploadExternal") == []


async def test_skip_leaves_out_listings_already_in_an_open_case(bot: SlackDriver) -> None:
    await bot.submit_report(urls=EBAY)
    _, body = await bot.submit_report(urls=f"{EBAY}\n{TAOBAO}", skip_invalid=True)
    assert body["response_action"] == "update", body
    text = view_text(body["view"])
    assert "TD-2" in text and "is open with 1 listing." in text
    assert "line 1: ebay:123456789012 is already reported in open case TD-1" in text
    assert await stored(bot) == [(1, "ebay:123456789012"), (2, "taobao:612345678901")]


async def test_unticked_a_listing_in_an_open_case_refuses_the_report_and_offers_the_rest(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls=EBAY)
    _, body = await bot.submit_report(urls=f"{EBAY}\n{TAOBAO}")
    assert body["errors"]["urls"].startswith("line 1: ebay:123456789012 is already reported")
    assert body["errors"]["urls"].endswith(f"{SKIP_HINT} 1 good one.")
    assert await cases(bot) == 1


async def test_many_skipped_lines_are_listed_in_part_and_sent_in_full(bot: SlackDriver) -> None:
    lines = [EBAY, *(bad_line(n) for n in range(2, 302))]
    _, body = await bot.submit_report(urls="\n".join(lines), skip_invalid=True)
    assert body["response_action"] == "update", body
    [_, skipped, _] = body["view"]["blocks"]
    assert len(skipped["text"]["text"]) <= 3000
    assert skipped["text"]["text"].startswith("Skipped 300 lines that cannot be filed:\nline 2: ")
    assert skipped["text"]["text"].endswith(MORE)
    done, _, rows = await sent_file(bot)
    assert done.params["initial_comment"].startswith(
        "TD-1 was filed without these 300 lines, which cannot be filed."
    )
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 302)]
    assert await stored(bot) == [(1, "ebay:123456789012")]


# -- the message shortcut -------------------------------------------------------------------------


async def shortcut_on(bot: SlackDriver, text: str) -> dict[str, Any]:
    payload = {
        "type": "message_action",
        "callback_id": "report_listing_message",
        "trigger_id": "t-1",
        "team": {"id": "T1"},
        "user": {"id": "U0REPORTER"},
        "channel": {"id": "C0CHAT"},
        "message": {"type": "message", "ts": "1.2", "text": text},
        "response_url": bot.slack.response_url("s"),
    }
    assert (await bot.interact(payload)).status == 200
    [call] = await bot.slack.wait_for("views.open")
    view: dict[str, Any] = call.params["view"]
    return view


def urls_field(view: dict[str, Any]) -> dict[str, Any]:
    element: dict[str, Any] = next(b for b in view["blocks"] if b.get("block_id") == "urls")[
        "element"
    ]
    return element


async def test_the_shortcut_prefills_only_marketplace_links_and_says_which_it_left_out(
    bot: SlackDriver,
) -> None:
    view = await shortcut_on(
        bot,
        f"Seen at <{EBAY}>, and our blog https://blog.example/a?x=1&amp;y=&lt;b&gt;2, "
        f"also {LOOKALIKE}. And “{AMAZON}”.",
    )
    assert urls_field(view)["initial_value"] == f"{EBAY}\n{AMAZON}"
    [note] = view["blocks"][0]["elements"]
    assert view["blocks"][0]["type"] == "context"
    assert note["text"].startswith("Left out 2 links of the message:\n")
    assert (
        "• `https://blog.example/a?x=1&amp;y=&lt;b&gt;2`: blog.example is not a marketplace"
        in note["text"]
    )
    assert "looks like eBay (ebay.com) but is not" in note["text"]
    assert "<b>" not in note["text"]


async def test_the_shortcut_on_a_message_without_marketplace_links_says_so(
    bot: SlackDriver,
) -> None:
    view = await shortcut_on(
        bot, "our shop: https://shop.example/bag and https://www.ebay.com/str/acme"
    )
    assert "initial_value" not in urls_field(view)
    note = view["blocks"][0]["elements"][0]["text"]
    assert note.startswith(":warning: None of the message's links can be filed")
    assert "is an eBay page but not a listing" in note


async def test_the_shortcut_on_a_message_without_links_says_so(bot: SlackDriver) -> None:
    view = await shortcut_on(bot, "please look at the seller called acme-outlet")
    assert view["blocks"][0]["elements"][0]["text"] == (
        "The message has no links; paste the listing URLs below."
    )


# -- helpers --------------------------------------------------------------------------------------


def _form_values(*, urls: str, file: dict[str, Any]) -> dict[str, Any]:
    def chosen(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    return {
        "urls": {"urls": {"type": "plain_text_input", "value": urls}},
        "url_file": {"url_file": {"type": "file_input", "files": [file]}},
        "brand": {"brand": chosen("Acme")},
        "right": {"right": chosen("acme-eu-tm")},
        "type": {"type": chosen("counterfeit")},
        "description": {
            "description": {"type": "plain_text_input", "value": "Fake ACME backpacks."}
        },
        "skip_invalid": {"skip_invalid": {"type": "checkboxes", "selected_options": []}},
    }


def _submission(bot: SlackDriver, values: dict[str, Any]) -> dict[str, Any]:
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel="C0TEAM", private=False)
    return view_submission("report_listing", metadata, values)
