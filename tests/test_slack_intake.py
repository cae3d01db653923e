"""/report-listing end to end: signed requests to the real endpoint, a fake Slack Web API, a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time

from conftest import SlackDriver, sign
from sqlalchemy import func, select

from storage.models import Case, Event, Listing

EBAY = "https://www.ebay.com/itm/123456789012"
AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH?ref=sr_1_1&tag=x"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901&spm=a21"


async def _count(bot: SlackDriver, model: type) -> int:
    async with bot.bot.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_command_with_urls_opens_prefilled_form(bot: SlackDriver) -> None:
    response = await bot.command(f"{EBAY} and <{AMAZON}|this one>")
    assert response.status == 200
    [call] = await bot.slack.wait_for("views.open")
    view = call.params["view"]
    assert view["callback_id"] == "report_listing"
    urls_block = next(b for b in view["blocks"] if b["block_id"] == "urls")
    assert urls_block["element"]["initial_value"] == f"{EBAY}\n{AMAZON}"
    assert json.loads(view["private_metadata"])["channel"] == "C0TEAM"
    labels = [b["label"]["text"] for b in view["blocks"]]
    assert labels[:4] == ["Listing URLs, one per line", "Brand", "IP right", "Infringement type"]


async def test_command_without_text_opens_empty_form(bot: SlackDriver) -> None:
    await bot.command("")
    [call] = await bot.slack.wait_for("views.open")
    urls_block = next(b for b in call.params["view"]["blocks"] if b["block_id"] == "urls")
    assert "initial_value" not in urls_block["element"]


async def test_help_is_ephemeral_usage(bot: SlackDriver) -> None:
    await bot.command("help")
    [answer] = await bot.slack.wait_for_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "status TD-42" in json.dumps(answer["blocks"])
    assert not bot.slack.calls_to("views.open")


async def test_unknown_subcommand_names_the_word(bot: SlackDriver) -> None:
    await bot.command("frobnicate now")
    [answer] = await bot.slack.wait_for_responses(1)
    assert "`frobnicate`" in json.dumps(answer["blocks"])
    assert answer["response_type"] == "ephemeral"


async def test_valid_report_opens_one_case_with_every_listing(bot: SlackDriver) -> None:
    response, body = await bot.submit_report(urls=f"{EBAY}\n{AMAZON}\n\n{TAOBAO}\n")
    assert response.status == 200
    assert body["response_action"] == "update"
    assert "TD-1" in json.dumps(body["view"])
    async with bot.bot.db.sessions() as session:
        [case] = (await session.execute(select(Case))).scalars().all()
        listings = (
            (await session.execute(select(Listing).order_by(Listing.position))).scalars().all()
        )
        events = (await session.execute(select(Event))).scalars().all()
    assert case.id == 1 and case.reporter_id == "U0REPORTER" and case.channel_id == "C0REPORTS"
    assert [(item.platform, item.key, item.status) for item in listings] == [
        ("ebay", "ebay:123456789012", "queued"),
        ("amazon", "amazon.de:B0ABCDEFGH", "queued"),
        ("taobao", "taobao:612345678901", "queued"),
    ]
    assert listings[1].url == "https://www.amazon.de/dp/B0ABCDEFGH"
    assert listings[1].submitted_url == AMAZON
    assert [event.kind for event in events if event.kind == "opened"] == ["opened"]


async def test_parent_message_posted_to_report_channel_and_ts_stored(bot: SlackDriver) -> None:
    await bot.submit_report(urls=f"{EBAY}\n{AMAZON}", seller="shady<seller>")
    [post] = await bot.slack.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0REPORTS"
    blocks = json.dumps(post.params["blocks"])
    assert "TD-1" in blocks and "Acme" in blocks and "acme-eu-tm" in blocks
    assert "Counterfeit goods" in blocks
    assert "<@U0REPORTER>" in blocks
    assert "https://www.amazon.de/dp/B0ABCDEFGH" in blocks and "amazon" in blocks.lower()
    assert "queued" in blocks
    for _ in range(100):
        async with bot.bot.db.sessions() as session:
            case = await session.get(Case, 1)
        if case and case.thread_ts:
            break
        await asyncio.sleep(0.02)
    assert case is not None and case.thread_ts is not None
    assert (case.channel_id, case.thread_ts) in bot.slack.messages


async def test_invalid_lines_are_named_in_the_form_and_nothing_is_stored(bot: SlackDriver) -> None:
    response, body = await bot.submit_report(
        urls=f"{EBAY}\nnot a url\nhttps://ebay.com.evil.example/itm/1"
    )
    assert response.status == 200
    assert body["response_action"] == "errors"
    message = body["errors"]["urls"]
    assert "line 2" in message and "line 3" in message
    assert "line 1" not in message
    assert await _count(bot, Case) == 0 and await _count(bot, Listing) == 0


async def test_right_of_another_brand_is_refused_beside_the_field(bot: SlackDriver) -> None:
    _, body = await bot.submit_report(urls=EBAY, brand="Bravo", right="acme-eu-tm")
    assert body["response_action"] == "errors"
    assert "acme-eu-tm is a right of Acme, not of Bravo" in body["errors"]["right"]


async def test_type_must_match_the_right(bot: SlackDriver) -> None:
    _, body = await bot.submit_report(urls=EBAY, right="acme-photos", type="counterfeit")
    assert "cites a trademark right" in body["errors"]["type"]


async def test_duplicate_listing_points_to_open_case(bot: SlackDriver) -> None:
    await bot.submit_report(urls=EBAY)
    await bot.slack.wait_for("chat.postMessage")
    for _ in range(100):  # the first case's thread ts is stored by the notify job
        async with bot.bot.db.sessions() as session:
            if (case := await session.get(Case, 1)) and case.thread_ts:
                break
        await asyncio.sleep(0.02)
    _, body = await bot.submit_report(
        urls=f"{TAOBAO}\nhttps://m.ebay.com/itm/123456789012?_trkparms=x"
    )
    assert body["response_action"] == "errors"
    message = body["errors"]["urls"]
    assert "line 2" in message and "TD-1" in message
    assert "https://slack.com/archives/C0REPORTS/p" in message
    assert await _count(bot, Case) == 1


async def test_same_form_submitted_twice_opens_one_case(bot: SlackDriver) -> None:
    first, _body1 = await bot.submit_report(urls=EBAY, view_id="VSAME")
    second, body2 = await bot.submit_report(
        urls=EBAY, view_id="VSAME", headers={"X-Slack-Retry-Num": "1"}
    )
    assert first.status == second.status == 200
    assert "TD-1" in json.dumps(body2["view"]) and "already filed" in json.dumps(body2["view"])
    assert await _count(bot, Case) == 1


async def test_status_of_a_case_is_ephemeral_summary(bot: SlackDriver) -> None:
    await bot.submit_report(urls=f"{EBAY}\n{TAOBAO}")
    await bot.command("status TD-1")
    answers = await bot.slack.wait_for_responses(1)
    assert answers[0]["response_type"] == "ephemeral"
    text = json.dumps(answers[0]["blocks"])
    assert "TD-1" in text and "2 queued" in text


async def test_status_of_unknown_case_says_so(bot: SlackDriver) -> None:
    await bot.command("status TD-99")
    [answer] = await bot.slack.wait_for_responses(1)
    assert "There is no case TD-99" in answer["text"]


async def test_bad_signature_is_refused(bot: SlackDriver) -> None:
    body = "command=%2Freport-listing&text=help&user_id=U1"
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret="wrong")}
    response = await bot.http.post(f"{bot.url}/slack/events", data=body, headers=headers)
    assert response.status == 401


async def test_stale_timestamp_is_refused(bot: SlackDriver) -> None:
    body = "command=%2Freport-listing&text=help&user_id=U1"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(body, timestamp=int(time.time()) - 600),
    }
    response = await bot.http.post(f"{bot.url}/slack/events", data=body, headers=headers)
    assert response.status == 401


async def test_slack_failure_after_ack_does_not_change_the_answer(bot: SlackDriver) -> None:
    bot.slack.fail_next("views.open", status=500)
    response = await bot.command(EBAY)
    assert response.status == 200
    await bot.slack.wait_for("views.open")
    answers = await bot.slack.wait_for_responses(1)
    assert "Something went wrong" in answers[0]["text"]


async def test_message_shortcut_opens_form_with_message_urls(bot: SlackDriver) -> None:
    payload = {
        "type": "message_action",
        "callback_id": "report_listing_message",
        "trigger_id": "t-1",
        "team": {"id": "T1"},
        "user": {"id": "U0REPORTER"},
        "channel": {"id": "C0CHAT"},
        "message": {"type": "message", "ts": "1.2", "text": f"look: <{TAOBAO}> and {EBAY}"},
        "response_url": bot.slack.response_url("s"),
    }
    response = await bot.interact(payload)
    assert response.status == 200
    [call] = await bot.slack.wait_for("views.open")
    urls_block = next(b for b in call.params["view"]["blocks"] if b["block_id"] == "urls")
    assert urls_block["element"]["initial_value"] == f"{TAOBAO}\n{EBAY}"
    assert json.loads(call.params["view"]["private_metadata"])["channel"] == "C0CHAT"


async def test_healthz_checks_the_database(bot: SlackDriver) -> None:
    response = await bot.http.get(f"{bot.url}/healthz")
    body = await response.json()
    assert response.status == 200
    assert body == {"status": "ok", "checks": {"database": "ok", "worker": "ok"}}


async def test_eu_notice_needs_an_explanation_beside_the_description_field(
    bot: SlackDriver,
) -> None:
    _, body = await bot.submit_report(urls=AMAZON, description="fake")
    assert body["response_action"] == "errors"
    assert "DSA" in body["errors"]["description"] or "2022/2065" in body["errors"]["description"]
    assert await _count(bot, Case) == 0
