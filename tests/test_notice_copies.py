"""Every channel keeps the notice exactly as it went (issue 13, part 1): the API adapters the JSON
bytes the platform's server received, with the path; a portal the guide a person is shown; a send
whose outcome is unknown is kept as uncertain, once.

The adapters against their fake platforms on loopback (tests/adapter_kit.py), then the real bot
through its signed HTTP endpoint, comparing what is kept with what each fake server received."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import pytest
from adapter_kit import KINDS, open_channel
from app_yaml import build_config
from conftest import (
    EBAY_TOKEN,
    HOOK_SECRET,
    MELI_TOKEN,
    SlackDriver,
    eventually,
    press,
    view_submission,
)
from delivery_kit import (
    APPROVER,
    EBAY,
    MELI,
    TAOBAO,
    creates,
    held_back_bot,
    only_notice,
    run_jobs,
)
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.delivery.adapters.base import AmbiguousError, UnreadableReceipt
from bot.slack_ui import notice_blocks as nb
from storage.db import Database
from storage.models import NoticeRecord

TEMU = "https://www.temu.com/acme-bag-g-601099512345678.html"
PATHS = {
    "ebay": "/vero_report",
    "mercadolibre": "/moderations/pppi/denounces/items/MLA123456789",
    "webhook": "/notices",
}


def _posts(fake: Any) -> list[Any]:
    return [request for request in fake.requests if request.method == "POST"]


# -- the adapters: the copy is the bytes on the wire -----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_each_api_adapter_keeps_the_json_bytes_the_platform_received(
    kind: str, http: aiohttp.ClientSession
) -> None:
    async with open_channel(kind, http) as channel:
        receipt = await channel.adapter.submit(channel.notice())

        [received] = _posts(channel.fake)
        assert receipt.copy is not None
        assert receipt.copy.body == received.body  # the same bytes, not a re-serialisation
        assert json.loads(receipt.copy.body) == received.json
        assert (receipt.copy.media_type, receipt.copy.path) == ("application/json", PATHS[kind])
        assert received.path.endswith(PATHS[kind])


@pytest.mark.parametrize("kind", ["ebay", "mercadolibre"])
async def test_an_api_send_whose_answer_is_lost_carries_what_may_have_arrived(
    kind: str, http: aiohttp.ClientSession
) -> None:
    async with open_channel(kind, http) as channel:
        channel.fake.drop_next()  # processed, then the connection is cut
        with pytest.raises(AmbiguousError) as lost:
            await channel.adapter.submit(channel.notice())
        channel.fake.malformed_next(status=channel.malformed_status)  # processed, answer junk
        with pytest.raises(UnreadableReceipt) as unreadable:
            await channel.adapter.submit(channel.notice())

        first, second = _posts(channel.fake)
        assert lost.value.copy is not None and lost.value.copy.body == first.body
        assert unreadable.value.copy is not None and unreadable.value.copy.body == second.body
        assert lost.value.copy.path == PATHS[kind]


# -- through the bot ------------------------------------------------------------------------------


@pytest.fixture
def config(ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver) -> AppConfig:
    """eBay, Mercado Libre and a webhook vendor (for Temu) on their fakes; Taobao a portal."""
    platforms: dict[str, Any] = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1"},
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
        access={"approvers": [APPROVER]},
        delivery={"backoff": ["1s"]},
        environ={
            "EBAY_VERO_TOKEN": EBAY_TOKEN,
            "MELI_TOKEN": MELI_TOKEN,
            "WEBHOOK_SECRET": HOOK_SECRET,
        },
    )


async def _kept(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        rows = await session.execute(select(NoticeRecord).order_by(NoticeRecord.id))
        return list(rows.scalars())


async def test_every_channel_keeps_what_it_sent(
    bot: SlackDriver, ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver
) -> None:
    await bot.submit_report(urls="\n".join([EBAY, MELI, TEMU, TAOBAO]))
    kept = {
        record.channel: record
        for record in await eventually(lambda: _at_least(bot, 4))  # one per platform
    }

    for channel, fake in (("ebay", ebay), ("mercadolibre", meli), ("vendor", hook)):
        [received] = _posts(fake)
        record = kept[channel]
        assert record.body == received.body, channel
        assert record.sha256 == hashlib.sha256(received.body).hexdigest()
        assert (record.media_type, record.outcome) == ("application/json", "sent")
        assert received.path.endswith(record.path or "?")
    assert kept["vendor"].path == "/notices" and kept["ebay"].adapter == "ebay_vero"


async def _at_least(bot: SlackDriver, count: int) -> list[NoticeRecord] | None:
    kept = await _kept(bot)
    return kept if len(kept) >= count else None


async def test_a_portal_guide_is_kept_as_the_text_and_fields_a_person_is_shown(
    bot: SlackDriver,
) -> None:
    await bot.submit_report(urls=TAOBAO)
    [record] = await eventually(lambda: _at_least(bot, 1))
    guide = await _guide(bot)

    text = record.body.decode()
    assert (record.media_type, record.outcome, record.adapter) == (
        "text/plain",
        "awaiting_person",
        "portal",
    )
    assert record.path == "https://ipp.alibabagroup.com/"
    assert text.startswith("File this notice on Alibaba IP Protection Platform: https://")
    labels = [
        block["text"]["text"].split("*")[1] for block in guide[1:] if block["type"] == "section"
    ]
    assert labels and all(f"\n{label}:" in text for label in labels)  # every field of the guide
    assert "Rights holder: Acme Outdoor GmbH" in text
    assert f"Listing URLs: {TAOBAO}" in text
    assert record.sha256 == hashlib.sha256(record.body).hexdigest()


async def _guide(bot: SlackDriver) -> list[dict[str, Any]]:
    async def posted() -> list[dict[str, Any]] | None:
        for call in bot.slack.calls_to("chat.postMessage"):
            if nb.PORTAL_SUBMITTED in json.dumps(call.params.get("blocks")):
                return list(call.params["blocks"])
        return None

    found: list[dict[str, Any]] = await eventually(posted)
    return found


# -- a send whose outcome is unknown --------------------------------------------------------------


def _arrived(value: str) -> dict[str, Any]:
    return {"reference": {"reference": {"type": "plain_text_input", "value": value}}}


async def test_an_uncertain_send_is_kept_once_and_settling_it_keeps_no_second_copy(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        ebay.drop_next()  # eBay files the report; its answer is lost
        await bot.submit_report(urls=EBAY)
        await run_jobs(bot)
        notice = await only_notice(bot)
        assert notice.status == "held"
        [uncertain] = await _kept(bot)
        [received] = creates(ebay)
        assert (uncertain.outcome, uncertain.body) == ("uncertain", received.body)

        # An approver checked eBay: it arrived. What arrived is the uncertain copy.
        await bot.interact(press(nb.HELD_SENT, str(notice.id), user=APPROVER))
        [opened] = await slack.wait_for("views.open")
        metadata = opened.params["view"]["private_metadata"]
        await bot.interact(
            view_submission(nb.CONFIRM_VIEW, metadata, _arrived("5000000001"), user=APPROVER)
        )
        assert (await only_notice(bot)).status == "sent"
        assert [record.id for record in await _kept(bot)] == [uncertain.id]


async def test_a_send_again_after_an_uncertain_send_keeps_its_own_copy(
    settings_for: Any, db: Database, slack: FakeSlack, ebay: FakeEbayVero
) -> None:
    async with held_back_bot(settings_for(), db, slack) as bot:
        ebay.drop_next()
        await bot.submit_report(urls=EBAY)
        await run_jobs(bot)
        notice = await only_notice(bot)
        assert notice.status == "held"

        await bot.interact(press(nb.RETRY, str(notice.id), user=APPROVER))  # Send again
        await slack.wait_for("chat.postEphemeral")
        await run_jobs(bot)

        assert (await only_notice(bot)).status == "sent"
        first, second = creates(ebay)
        uncertain, sent = await _kept(bot)
        assert (uncertain.outcome, uncertain.body) == ("uncertain", first.body)
        assert (sent.outcome, sent.body) == ("sent", second.body)
