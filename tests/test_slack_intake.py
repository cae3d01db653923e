"""/report-listing end to end: signed requests to the real endpoint, a fake Slack Web API, a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from conftest import SlackDriver, eventually, sign
from sqlalchemy import func, select

from storage.models import Case, Event, Listing, Notice

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
    # Queued, or awaiting you if a portal guide was posted before the parent was rendered.
    assert "queued" in blocks or "awaiting you" in blocks
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


async def _open_form(bot: SlackDriver) -> dict[str, Any]:
    """The report form as Slack holds it after views.open (its private_metadata included)."""
    before = len(bot.slack.calls_to("views.open"))
    await bot.command("")
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = calls[-1].params["view"]
    return view


async def _submit_form(
    bot: SlackDriver, form: dict[str, Any], *, view_id: str, team: str, urls: str
) -> dict[str, Any]:
    """Submit `form` with `urls` as Slack would, from workspace `team`, as view `view_id`."""

    def chosen(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    def typed(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    values = {
        "urls": {"urls": typed(urls)},
        "brand": {"brand": chosen("Acme")},
        "right": {"right": chosen("acme-eu-tm")},
        "type": {"type": chosen("counterfeit")},
        "description": {"description": typed("Fake ACME backpacks sold with our logo.")},
        "evidence": {"evidence": typed(None)},
        "seller": {"seller": typed(None)},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": team, "domain": team.lower()},
        "user": {"id": "U0REPORTER", "name": "reporter"},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{view_id}-{team}",
        "view": {
            **form,
            "id": view_id,
            "team_id": team,
            "state": {"values": values},
            "hash": "h",
        },
    }
    response = await bot.interact(payload)
    assert response.status == 200
    answer: dict[str, Any] = json.loads(await response.text())
    return answer


async def test_one_view_id_in_two_workspaces_files_two_cases(bot: SlackDriver) -> None:
    form = await _open_form(bot)
    first = await _submit_form(bot, form, view_id="VSAME", team="T1", urls=EBAY)
    second = await _submit_form(bot, form, view_id="VSAME", team="T2", urls=TAOBAO)
    assert "TD-1 is open" in json.dumps(first["view"]).replace("*", "")
    assert "TD-2 is open" in json.dumps(second["view"]).replace("*", "")
    assert await _count(bot, Case) == 2


async def test_a_view_id_seen_again_in_a_later_form_files_a_new_case(bot: SlackDriver) -> None:
    # Slack promises a view id names one view while it is open, not that it never comes back.
    earlier, later = await _open_form(bot), await _open_form(bot)
    first = await _submit_form(bot, earlier, view_id="VAGAIN", team="T1", urls=EBAY)
    second = await _submit_form(bot, later, view_id="VAGAIN", team="T1", urls=TAOBAO)
    assert "already filed" not in json.dumps(second["view"])
    assert "TD-1" in json.dumps(first["view"]) and "TD-2" in json.dumps(second["view"])
    assert await _count(bot, Case) == 2


async def test_one_opened_form_submitted_again_files_one_case(bot: SlackDriver) -> None:
    form = await _open_form(bot)
    await _submit_form(bot, form, view_id="VRETRY", team="T1", urls=EBAY)
    again = await _submit_form(bot, form, view_id="VRETRY", team="T1", urls=EBAY)
    assert "TD-1" in json.dumps(again["view"]) and "already filed" in json.dumps(again["view"])
    assert await _count(bot, Case) == 1


async def test_status_of_a_case_is_ephemeral_summary(bot: SlackDriver) -> None:
    await bot.submit_report(urls=f"{EBAY}\n{TAOBAO}")

    async def guides_posted() -> bool:  # both platforms are portals here: a person files them
        async with bot.bot.db.sessions() as session:
            states = (await session.execute(select(Notice.status))).scalars().all()
        return list(states) == ["awaiting_person"] * 2

    await eventually(guides_posted)
    await bot.command("status TD-1")
    answers = await bot.slack.wait_for_responses(1)
    assert answers[0]["response_type"] == "ephemeral"
    text = json.dumps(answers[0]["blocks"])
    assert "TD-1" in text and "open: 2 awaiting you" in text


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
