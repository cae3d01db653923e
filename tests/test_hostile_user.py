"""A hostile workspace member, through the bot's real endpoint: reading a case filed in a private
channel they are not in, and forging the buttons and forms of a case's thread.

People: U0MEMBER reports and is in the private channel G0SECRET, U0OUTSIDER reports but is not in
it, U0LEGAL approves, U0STRANGER is in no list. Every forged request must be refused and change
nothing: no event, no job, no status.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually, press, view_submission
from sqlalchemy import func, select

from bot.config.schema import AppConfig
from storage.models import Case, Event, Job, Notice

MEMBER, OUTSIDER, STRANGER, LEGAL = "U0MEMBER", "U0OUTSIDER", "U0STRANGER", "U0LEGAL"
SECRET = "G0SECRET"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
EBAY = "https://www.ebay.com/itm/123456789012"
CONFIDENTIAL = "Confidential: the supplier leak counsel is investigating."


@pytest.fixture
def config() -> AppConfig:
    return build_config(access={"reporters": [MEMBER, OUTSIDER], "approvers": [LEGAL]})


@pytest.fixture(autouse=True)
def secret_channel(bot: SlackDriver) -> None:
    bot.slack.channels[SECRET] = {"is_private": True, "members": [MEMBER, "UBOT"]}


async def _file_in_secret(bot: SlackDriver, *, seller: str = "") -> int:
    """U0MEMBER files a case from the private channel, through the form the bot opened there."""
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command(TAOBAO, user=MEMBER, channel=SECRET)
    calls = await bot.slack.wait_for("views.open", count=opened + 1)
    metadata = calls[-1].params["view"]["private_metadata"]
    _, body = await bot.submit_report(
        urls=TAOBAO,
        user=MEMBER,
        channel=SECRET,
        description=CONFIDENTIAL,
        seller=seller,
        metadata=metadata,
    )
    assert body.get("response_action") == "update", body
    return await _case_id(bot, TAOBAO)


async def _file_in_public(bot: SlackDriver, *, seller: str = "") -> int:
    _, body = await bot.submit_report(urls=EBAY, user=MEMBER, seller=seller)
    assert body.get("response_action") == "update", body
    return await _case_id(bot, EBAY)


async def _case_id(bot: SlackDriver, url: str) -> int:
    from storage.models import Listing

    async with bot.bot.db.sessions() as session:
        found = await session.execute(
            select(Listing.case_id).where(Listing.url.contains(url[-12:]))
        )
        return int(found.scalar_one())


async def _awaiting(bot: SlackDriver, case_id: int) -> int:
    """The case's portal notice, once it waits for a person."""

    async def ready() -> int | None:
        async with bot.bot.db.sessions() as session:
            notice = (
                await session.execute(select(Notice).where(Notice.case_id == case_id))
            ).scalar_one_or_none()
        return notice.id if notice and notice.status == "awaiting_person" else None

    notice_id: int = await eventually(ready)
    return notice_id


async def _state(bot: SlackDriver) -> tuple[int, int, list[str]]:
    """What a refused request must leave as it was: events, case jobs, notice statuses."""
    async with bot.bot.db.sessions() as session:
        events = (await session.execute(select(func.count()).select_from(Event))).scalar_one()
        jobs = (
            await session.execute(
                select(func.count()).select_from(Job).where(Job.serial_key.is_not(None))
            )
        ).scalar_one()
        statuses = (await session.execute(select(Notice.status).order_by(Notice.id))).scalars()
        return int(events), int(jobs), list(statuses)


async def _settled(bot: SlackDriver, *case_ids: int) -> tuple[int, int, list[str]]:
    for case_id in case_ids:
        await _awaiting(bot, case_id)

    # The portal guides are posted (their jobs done) before the snapshot.
    async def quiet() -> tuple[int, int, list[str]] | None:
        async with bot.bot.db.sessions() as session:
            busy = (
                await session.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.state.in_(["queued", "running"]))
                )
            ).scalar_one()
        return None if busy else await _state(bot)

    state: tuple[int, int, list[str]] = await eventually(quiet)
    return state


def _ephemerals(bot: SlackDriver) -> list[dict[str, Any]]:
    return [call.params for call in bot.slack.calls_to("chat.postEphemeral")]


async def _answers(bot: SlackDriver, count: int) -> list[dict[str, Any]]:
    return list(await bot.slack.wait_for_responses(count))


async def _open_home(bot: SlackDriver, user: str) -> str:
    published = len(bot.slack.calls_to("views.publish"))
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"Ev{user}{published}",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
    }
    response = await bot.post(json.dumps(event), "application/json")
    assert response.status == 200
    calls = await bot.slack.wait_for("views.publish", count=published + 1)
    assert calls[-1].params["user_id"] == user
    return json.dumps(calls[-1].params["view"], ensure_ascii=False)


def _page(user: str, what: str, bot: SlackDriver, name: str) -> dict[str, Any]:
    return press(
        "cases_page:1",
        json.dumps({"what": what, "page": 1}),
        user=user,
        channel="C0TEAM",
        response_url=bot.slack.response_url(name),
    )


# -- reading ---------------------------------------------------------------------------------------


async def test_a_stranger_is_refused_status_list_home_and_paging(bot: SlackDriver) -> None:
    case_id = await _file_in_secret(bot)

    await bot.command(f"status TD-{case_id}", user=STRANGER)
    await bot.command("list all", user=STRANGER)
    status, listed = await _answers(bot, 2)
    for answer in (status, listed):
        text = json.dumps(answer, ensure_ascii=False)
        assert answer["response_type"] == "ephemeral"
        assert "access.viewers" in text and "<@U0LEGAL>" in text, text
        assert CONFIDENTIAL not in text and "Acme" not in text

    home = await _open_home(bot, STRANGER)
    assert "access.viewers" in home
    assert f"TD-{case_id}" not in home and "All open listings" not in home

    await bot.interact(_page(STRANGER, "all", bot, "stranger-page"))
    [refused] = await eventually(lambda: _async(_ephemerals(bot)))
    assert refused["user"] == STRANGER and "access.viewers" in refused["text"]
    assert len(bot.slack.responses) == 2  # the page was not answered with cases


async def test_a_viewer_outside_the_private_channel_does_not_see_its_case(
    bot: SlackDriver,
) -> None:
    private = await _file_in_secret(bot)
    public = await _file_in_public(bot)

    await bot.command(f"status TD-{private}", user=OUTSIDER)
    [status] = await _answers(bot, 1)
    assert "private channel" in status["text"] and "<@U0LEGAL>" in status["text"]
    assert CONFIDENTIAL not in json.dumps(status)

    await bot.command("list all", user=OUTSIDER)
    [_, listed] = await _answers(bot, 2)
    text = json.dumps(listed["blocks"], ensure_ascii=False)
    assert f"TD-{public}" in text and f"TD-{private}*" not in text and "(1)" in text

    await bot.interact(_page(OUTSIDER, "all", bot, "outsider-page"))
    [_, _, paged] = await _answers(bot, 3)
    text = json.dumps(paged["blocks"], ensure_ascii=False)
    assert f"TD-{public}" in text and f"TD-{private}*" not in text

    assert f"TD-{private}" not in await _open_home(bot, OUTSIDER)


async def test_members_and_approvers_read_the_private_case_and_membership_is_cached(
    bot: SlackDriver,
) -> None:
    private = await _file_in_secret(bot)
    await bot.command(f"status TD-{private}", user=MEMBER)
    await bot.command(f"status TD-{private}", user=LEGAL)
    await bot.command("list all", user=MEMBER)
    answers = await _answers(bot, 3)
    for answer in answers:
        assert f"TD-{private}" in json.dumps(answer["blocks"], ensure_ascii=False)
    assert any(CONFIDENTIAL in json.dumps(a) for a in answers)
    assert len(bot.slack.calls_to("conversations.members")) == 1


async def test_a_private_case_keeps_its_thread_in_its_channel(bot: SlackDriver) -> None:
    await _file_in_secret(bot)
    parent, *_ = await bot.slack.wait_for("chat.postMessage")  # the first post: the parent
    assert parent.params["channel"] == SECRET
    assert not [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if CONFIDENTIAL in json.dumps(c.params) and c.params["channel"] != SECRET
    ]


async def test_a_private_channel_without_the_bot_cannot_file(bot: SlackDriver) -> None:
    await bot.command(TAOBAO, user=MEMBER, channel="G0HIDDEN")
    [answer] = await _answers(bot, 1)
    assert "/invite" in answer["text"]
    assert not bot.slack.calls_to("views.open")


# -- forged interactions ----------------------------------------------------------------------------


async def test_a_forged_button_for_a_private_case_by_a_non_member_is_refused(
    bot: SlackDriver,
) -> None:
    private = await _file_in_secret(bot)
    notice = await _awaiting(bot, private)
    before = await _settled(bot, private)

    await bot.interact(press("portal_submitted", str(notice), user=OUTSIDER, channel=SECRET))
    await bot.interact(press("notice_withdraw", str(notice), user=OUTSIDER, channel="C0REPORTS"))
    refusals = await eventually(lambda: _async(_ephemerals(bot)[1:]))
    for refused in refusals:
        assert refused["user"] == OUTSIDER and "private channel" in refused["text"], refused
    assert not bot.slack.calls_to("views.open")[1:]  # only the report form was ever opened
    assert await _state(bot) == before


async def test_a_button_naming_another_cases_notice_is_refused(bot: SlackDriver) -> None:
    private = await _file_in_secret(bot)
    public = await _file_in_public(bot)
    secret_notice = await _awaiting(bot, private)
    before = await _settled(bot, private, public)

    # Pressed in the public case's channel, naming the private case's notice: the reporter of
    # both may confirm either, but not one case's notice from another case's thread.
    await bot.interact(
        press("portal_submitted", str(secret_notice), user=MEMBER, channel="C0REPORTS")
    )
    [refused] = await eventually(lambda: _async(_ephemerals(bot)))
    assert refused["user"] == MEMBER and "does not belong" in refused["text"], refused
    assert len(bot.slack.calls_to("views.open")) == 1  # the report form only
    assert await _state(bot) == before


async def _confirm_form(bot: SlackDriver, notice: int, *, user: str, channel: str) -> str:
    opened = len(bot.slack.calls_to("views.open"))
    await bot.interact(press("portal_submitted", str(notice), user=user, channel=channel))
    calls = await bot.slack.wait_for("views.open", count=opened + 1)
    view = calls[-1].params["view"]
    assert view["callback_id"] == "notice_confirm"
    return str(view["private_metadata"])


def _reference(reference: str) -> dict[str, Any]:
    return {"reference": {"reference": {"type": "plain_text_input", "value": reference}}}


async def test_a_form_submission_replayed_by_another_user_is_refused(bot: SlackDriver) -> None:
    private = await _file_in_secret(bot)
    notice = await _awaiting(bot, private)
    metadata = await _confirm_form(bot, notice, user=MEMBER, channel=SECRET)
    before = await _settled(bot, private)

    for user in (LEGAL, OUTSIDER):
        payload = view_submission("notice_confirm", metadata, _reference("IPP-9"), user=user)
        response = await bot.interact(payload)
        body = json.loads(await response.text())
        assert body["response_action"] == "errors", body
        assert await _state(bot) == before

    payload = view_submission("notice_confirm", metadata, _reference("IPP-9"), user=MEMBER)
    response = await bot.interact(payload)
    assert response.status == 200 and not await response.text()
    assert (await _state(bot))[2] == ["sent"]


async def test_a_tampered_private_metadata_is_refused(bot: SlackDriver) -> None:
    private = await _file_in_secret(bot)
    public = await _file_in_public(bot)
    secret_notice, public_notice = await _awaiting(bot, private), await _awaiting(bot, public)
    metadata = await _confirm_form(bot, secret_notice, user=MEMBER, channel=SECRET)
    before = await _settled(bot, private, public)

    response = await bot.interact(
        view_submission(
            "notice_confirm",
            _tampered(metadata, notice=public_notice),
            _reference("IPP-9"),
            user=MEMBER,
        )
    )
    body = json.loads(await response.text())
    assert body["response_action"] == "errors" and "open it again" in body["errors"]["reference"]
    assert await _state(bot) == before


async def test_a_report_form_with_tampered_metadata_files_nothing(bot: SlackDriver) -> None:
    await bot.command(EBAY, user=OUTSIDER, channel="C0TEAM")
    [opened] = await bot.slack.wait_for("views.open")
    metadata = opened.params["view"]["private_metadata"]
    tampered = _tampered(metadata, channel=SECRET)  # its thread posted in a channel not theirs
    _, body = await bot.submit_report(urls=EBAY, user=OUTSIDER, metadata=tampered)
    assert body["response_action"] == "errors" and "open it again" in body["errors"]["urls"]
    _, body = await bot.submit_report(urls=EBAY, user=STRANGER, metadata=metadata)
    assert body["response_action"] == "errors"
    async with bot.bot.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 0


def _tampered(metadata: str, **changes: Any) -> str:
    """The form's private_metadata with some facts changed, as a forger would."""
    data = json.loads(metadata)
    if isinstance(data, dict):
        data.update(changes)
    else:  # a bare notice id
        data = changes.get("notice", data)
    return json.dumps(data)


async def _async(value: Any) -> Any:
    return value


async def test_the_digest_names_no_private_case(bot: SlackDriver) -> None:
    private = await _file_in_secret(bot, seller="secret-seller-shop")
    public = await _file_in_public(bot, seller="public-seller-shop")
    await bot.command("digest", user=OUTSIDER)
    [digest] = await _answers(bot, 1)
    text = json.dumps(digest, ensure_ascii=False)
    assert f"TD-{public}" in text  # the oldest open listings
    assert "public-seller-shop" in text  # the top sellers
    assert f"TD-{private}" not in text
    assert "secret-seller-shop" not in text
