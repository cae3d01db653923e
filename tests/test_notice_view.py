"""View notice (issue 13, part 1): the thread's button shows a notice exactly as it was sent.

Through the bot's real HTTP endpoint with signed requests: a short notice opens a modal with its
header and text; a long one (200 listings) is sent to the person as a file of its exact bytes and
the modal says so; someone who may not read a private channel's case is refused, and sees nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from app_yaml import build_config
from conftest import HOOK_SECRET, SlackDriver, eventually, press
from fakes.smtp import FakeSmtp
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import delete, select
from test_hostile_text import HOSTILE, assert_modal_safe

from bot.config.schema import AppConfig
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.mrkdwn import escape
from bot.slack_ui.notice_view import notice_view_modal
from storage.models import Notice, NoticeRecord

MEMBER, OUTSIDER, LEGAL = "U0MEMBER", "U0OUTSIDER", "U0LEGAL"
SECRET = "G0SECRET"
TEMU = "https://www.temu.com/acme-bag-g-601099512345678.html"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
CONFIDENTIAL = "Confidential: the supplier leak counsel is investigating."


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def config(hook: FakeWebhookReceiver, mailbox: FakeSmtp) -> AppConfig:
    platforms = {
        "etsy": {
            "adapter": "email",
            "to": "ip-notices@etsy.example",
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
        },
        "vendor": {
            "adapter": "webhook",
            "serves": ["temu"],
            "base_url": hook.base_url,
            "secret": "${WEBHOOK_SECRET}",
        },
    }
    return build_config(
        platforms=platforms,
        access={"reporters": ["U0REPORTER", MEMBER, OUTSIDER], "approvers": [LEGAL]},
        environ={"WEBHOOK_SECRET": HOOK_SECRET},
    )


async def _kept(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        rows = await session.execute(select(NoticeRecord).order_by(NoticeRecord.id))
        return list(rows.scalars())


async def _delivered(bot: SlackDriver, urls: str, **report: Any) -> NoticeRecord:
    """File a report; the notice's record once its thread has its buttons."""
    await bot.submit_report(urls=urls, **report)
    [record] = await eventually(lambda: _kept(bot))

    async def buttons() -> bool:
        return any(
            nb.VIEW_NOTICE in json.dumps(call.params.get("blocks"))
            for call in bot.slack.calls_to("chat.postMessage")
        )

    await eventually(buttons)
    return record


def _view_button(bot: SlackDriver) -> dict[str, Any]:
    """The View notice button as the thread shows it."""
    for call in bot.slack.calls_to("chat.postMessage"):
        for block in call.params.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == nb.VIEW_NOTICE:
                    return dict(element)
    raise AssertionError("no View notice button in the thread")


def _modal_text(view: dict[str, Any]) -> str:
    return "\n".join(
        block["text"]["text"] for block in view["blocks"] if block["type"] == "section"
    )


async def test_view_notice_shows_a_short_notice_in_a_modal(bot: SlackDriver) -> None:
    record = await _delivered(bot, TEMU)
    button = _view_button(bot)
    assert button["value"] == str(record.notice_id)

    await bot.interact(press(nb.VIEW_NOTICE, button["value"], user="U0REPORTER"))
    [opened] = await bot.slack.wait_for("views.open")

    view = opened.params["view"]
    shown = _modal_text(view)
    for expected in ("webhook", "vendor", record.sha256, "/notices", "sent"):
        assert expected in shown, expected
    # The JSON body, pretty-printed, whole.
    pretty = json.dumps(json.loads(record.body), indent=2, ensure_ascii=False)
    assert '"rights_holder": {' in shown and "Acme Outdoor GmbH" in shown
    assert len(pretty) < 3000 and pretty.replace("&", "&amp;") in shown
    assert bot.slack.calls_to("files.getUploadURLExternal") == []
    assert_modal_safe(view, hostile="<!channel>")


async def test_view_notice_sends_a_long_notice_as_a_file_of_its_exact_bytes(
    bot: SlackDriver, mailbox: FakeSmtp
) -> None:
    urls = "\n".join(
        f"https://www.etsy.com/listing/{1_000_000_000 + n}/acme-bag" for n in range(200)
    )
    record = await _delivered(bot, urls)
    assert record.media_type == "message/rfc822" and record.body == mailbox.received[0].content

    await bot.interact(press(nb.VIEW_NOTICE, str(record.notice_id), user="U0REPORTER"))
    [opened] = await bot.slack.wait_for("views.open")
    [completed] = await bot.slack.wait_for("files.completeUploadExternal")

    shown = _modal_text(opened.params["view"])
    assert "Too long to show here" in shown and "direct messages" in shown
    assert f"TD-{(await _notice(bot)).case_id}-notice-{record.notice_id}.eml" in shown
    assert record.sha256 in shown and escape(record.message_id or "?") in shown
    # The file went to the person's DM, and holds the bytes as sent.
    [dm] = bot.slack.calls_to("conversations.open")
    assert dm.params["users"] == "U0REPORTER"
    assert completed.params["channel_id"] == "D0REPORTER"
    [uploaded] = bot.slack.uploads.values()
    assert uploaded == record.body
    message = BytesParser(policy=policy.default).parsebytes(uploaded)
    assert message["Message-ID"] == record.message_id


async def _notice(bot: SlackDriver) -> Notice:
    async with bot.bot.db.sessions() as session:
        return (await session.execute(select(Notice))).scalar_one()


async def test_view_notice_is_refused_to_someone_who_may_not_read_a_private_case(
    bot: SlackDriver,
) -> None:
    bot.slack.channels[SECRET] = {"is_private": True, "members": [MEMBER, "UBOT"]}
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command(TAOBAO, user=MEMBER, channel=SECRET)  # the form, opened in the channel
    calls = await bot.slack.wait_for("views.open", count=opened + 1)
    form = calls[-1].params["view"]["private_metadata"]
    record = await _delivered(
        bot, TAOBAO, user=MEMBER, channel=SECRET, metadata=form, description=CONFIDENTIAL
    )
    shown_before = len(bot.slack.calls_to("views.open"))

    await bot.interact(press(nb.VIEW_NOTICE, str(record.notice_id), user=OUTSIDER, channel=SECRET))
    [refusal] = await bot.slack.wait_for("chat.postEphemeral")

    assert refusal.params["user"] == OUTSIDER and "private channel" in refusal.params["text"]
    assert len(bot.slack.calls_to("views.open")) == shown_before
    assert bot.slack.calls_to("files.getUploadURLExternal") == []

    # A member of the channel sees the guide as it was shown.
    await bot.interact(press(nb.VIEW_NOTICE, str(record.notice_id), user=MEMBER, channel=SECRET))
    calls = await bot.slack.wait_for("views.open", count=shown_before + 1)
    shown = _modal_text(calls[-1].params["view"])
    assert "File this notice on Alibaba IP Protection Platform" in shown
    assert CONFIDENTIAL in shown and record.sha256 in shown


async def test_view_notice_says_so_when_no_copy_was_kept(bot: SlackDriver) -> None:
    record = await _delivered(bot, TEMU)
    # A team's retention deleted the case's records by hand (README, "Retention").
    async with bot.bot.db.transaction() as session:
        await session.execute(delete(NoticeRecord).where(NoticeRecord.case_id == record.case_id))

    await bot.interact(press(nb.VIEW_NOTICE, str(record.notice_id), user="U0REPORTER"))
    [answer] = await bot.slack.wait_for("chat.postEphemeral")

    assert "No copy of this notice was kept" in answer.params["text"]
    assert bot.slack.calls_to("views.open") == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_view_modal_escapes_what_the_notice_says(hostile: str) -> None:
    header = [("Case", "TD-1"), ("Path", hostile), ("SHA-256", "0" * 64)]
    for text in (f"Subject: {hostile}\n\n{hostile}\n" * 3, None):
        view = notice_view_modal(
            title="TD-1, notice 1",
            header=header,
            text=text,
            sent_as_file=f"{hostile}.eml",
            records=2,
            every=f"takedown-bot notice {hostile}",
        )
        assert_modal_safe(view, hostile=hostile)
