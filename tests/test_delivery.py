"""Durable delivery end to end: a case filed through Slack reaches each platform's channel (fake
eBay, Mercado Libre and webhook servers on loopback, a real SMTP server), is followed to a
decision, and every step shows in the status thread. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
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
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.smtp import FakeSmtp
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select

from bot.config.schema import AppConfig
from storage.models import Event, Job, Listing, Notice

EBAY_1 = "https://www.ebay.com/itm/123456789012"
EBAY_2 = "https://www.ebay.co.uk/itm/223456789012"
MELI = "https://articulo.mercadolibre.com.ar/MLA-1234567890-mochila-acme-_JM"
ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"
TEMU = "https://www.temu.com/acme-bag-g-601099512345678.html"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def config(
    ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver, mailbox: FakeSmtp
) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001", "trademark": "1002", "copyright": "1003"},
            "poll_every": "1s",
            "timeout": 2,
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1", "trademark": "PPPI2", "copyright": "PPPI3"},
            "poll_every": "1s",
            "timeout": 2,
        },
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
            "poll_every": "1s",
        },
    }
    environ = {
        "EBAY_VERO_TOKEN": EBAY_TOKEN,
        "MELI_TOKEN": MELI_TOKEN,
        "WEBHOOK_SECRET": HOOK_SECRET,
    }
    return build_config(platforms=platforms, environ=environ)


async def _notices(bot: SlackDriver) -> list[Notice]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(Notice).order_by(Notice.id))).scalars())


async def _listings(bot: SlackDriver) -> list[Listing]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(Listing).order_by(Listing.id))).scalars())


def _thread_texts(bot: SlackDriver) -> list[str]:
    return [
        json.dumps(c.params.get("blocks")) + c.params.get("text", "")
        for c in bot.slack.calls_to("chat.postMessage")
        if c.params.get("thread_ts")
    ]


async def _statuses(bot: SlackDriver) -> dict[str, str]:
    return {item.key: item.status for item in await _listings(bot)}


async def test_multi_platform_case_reaches_each_channel_once(
    bot: SlackDriver,
    ebay: FakeEbayVero,
    meli: FakeMercadoLibre,
    hook: FakeWebhookReceiver,
    mailbox: FakeSmtp,
) -> None:
    _, body = await bot.submit_report(urls="\n".join([EBAY_1, EBAY_2, MELI, ETSY, TEMU, TAOBAO]))
    assert body["response_action"] == "update"

    async def delivered() -> bool:
        return all(n.status in ("sent", "awaiting_person") for n in await _notices(bot))

    await eventually(delivered)
    notices = {n.platform: n for n in await _notices(bot)}
    assert {p: n.adapter for p, n in notices.items()} == {
        "ebay": "ebay_vero",
        "mercadolibre": "mercadolibre",
        "etsy": "email",
        "temu": "webhook",
        "taobao": "portal",
    }
    # eBay: one report for both items, with the reason code for counterfeits and the bearer token.
    creates = [r for r in ebay.requests if r.method == "POST"]
    assert len(creates) == 1
    assert creates[0].headers["Authorization"] == f"Bearer {EBAY_TOKEN}"
    items = creates[0].json["reportItems"]
    assert sorted(i["itemId"] for i in items) == ["123456789012", "223456789012"]
    assert {i["veroReasonCodeId"] for i in items} == {"1001"}
    # Mercado Libre: one denounce for the item.
    denounces = [r for r in meli.requests if r.method == "POST"]
    assert [r.path for r in denounces] == ["/moderations/pppi/denounces/items/MLA1234567890"]
    assert denounces[0].json["report_reason_id"] == "PPPI1"
    # Email: one message whose Message-ID is the notice's reference.
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["To"] == "ip-notices@etsy.example"
    assert notices["etsy"].reference == mailbox.messages[0]["Message-ID"]
    assert "https://www.etsy.com/listing/1234567890" in mailbox.messages[0].get_content()
    # Webhook: one signed delivery with the idempotency key.
    posts = [r for r in hook.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].signature_ok
    assert posts[0].headers["Idempotency-Key"] == notices["temu"].idempotency_key
    # Portal: the guide is in the thread, with its buttons.
    await eventually(lambda: _async(any("portal_submitted" in t for t in _thread_texts(bot))))
    statuses = await _statuses(bot)
    assert statuses["taobao:612345678901"] == "queued"
    assert {
        statuses[k]
        for k in ("ebay:123456789012", "ebay:223456789012", "mercadolibre:MLA1234567890")
    } <= {"submitted", "in_review"}


async def _async(value: Any) -> Any:
    return value


async def test_platform_decisions_are_polled_into_the_thread(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    await bot.submit_report(urls=f"{EBAY_1}\n{EBAY_2}")
    [notice] = await eventually(lambda: _sent(bot))
    assert notice.reference is not None
    ebay.decide(notice.reference, "123456789012", "Removed")
    ebay.decide(
        notice.reference,
        "223456789012",
        "ClarificationRequired",
        "Send a test-buy photo of the label",
    )

    async def decided() -> bool:
        s = await _statuses(bot)
        return s["ebay:123456789012"] == "removed" and s["ebay:223456789012"] == "needs_info"

    await eventually(decided, timeout=15)
    listings = {item.key: item for item in await _listings(bot)}
    assert listings["ebay:223456789012"].status_reason == "Send a test-buy photo of the label"
    assert (
        listings["ebay:123456789012"].decided_at is not None
        and listings["ebay:123456789012"].submitted_at is not None
    )

    async def announced() -> str:
        texts = "\n".join(_thread_texts(bot))
        return texts if "Removed" in texts and "Send a test-buy photo of the label" in texts else ""

    texts = await eventually(announced)
    assert "<@U0REPORTER>" in texts
    await bot.slack.wait_for("chat.update")  # the parent message's summary is refreshed
    async with bot.bot.db.sessions() as session:
        kinds = [
            (e.kind, e.detail.get("to"))
            for e in (await session.execute(select(Event).order_by(Event.id))).scalars()
        ]
    assert ("status_changed", "removed") in kinds and ("status_changed", "needs_info") in kinds


async def _sent(bot: SlackDriver) -> list[Notice]:
    notices = await _notices(bot)
    return notices if notices and all(n.status == "sent" for n in notices) else []


async def test_server_errors_and_rate_limits_are_retried_until_delivered(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    ebay.fail_next(status=500, times=1)
    ebay.rate_limit_next(retry_after="1", times=1)
    await bot.submit_report(urls=EBAY_1)
    [notice] = await eventually(lambda: _sent(bot), timeout=20)
    creates = [r for r in ebay.requests if r.method == "POST"]
    assert len(creates) == 3  # 500, 429, then accepted: one report exists
    assert len(ebay.reports) == 1 and notice.reference in ebay.reports


async def test_permanent_error_fails_listings_with_a_retry_button_that_works(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    ebay.error_next(
        status=400, errors=[{"errorId": 150001, "message": "The item is not in the VeRO programme"}]
    )
    await bot.submit_report(urls=EBAY_1)

    async def failed() -> bool:
        return (await _statuses(bot)).get("ebay:123456789012") == "failed"

    await eventually(failed)
    [notice] = await _notices(bot)
    assert notice.status == "failed" and "not in the VeRO programme" in (notice.last_error or "")
    await eventually(
        lambda: _async(
            any(
                "notice_retry" in t and "not in the VeRO programme" in t for t in _thread_texts(bot)
            )
        )
    )

    response = await bot.interact(press("notice_retry", str(notice.id)))
    assert response.status == 200
    [notice] = await eventually(lambda: _sent(bot))
    assert (await _statuses(bot))["ebay:123456789012"] in ("submitted", "in_review")
    assert len(ebay.reports) == 1


async def test_timeout_after_sending_is_reconciled_not_resent(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    ebay.slow_next(delay=5)  # the report is filed, but the answer never comes in time
    await bot.submit_report(urls=EBAY_1)

    async def settled() -> list[Notice]:
        notices = await _notices(bot)
        return notices if notices and notices[0].status in ("held", "sent") else []

    [notice] = await eventually(settled, timeout=20)
    assert len(ebay.reports) == 1, "never filed twice"
    assert notice.status == "held"
    await eventually(lambda: _async(any("held_sent" in t for t in _thread_texts(bot))))


async def test_portal_flow_through_its_buttons(bot: SlackDriver) -> None:
    await bot.submit_report(urls=TAOBAO)

    async def awaiting() -> list[Notice]:
        notices = await _notices(bot)
        return notices if notices and notices[0].status == "awaiting_person" else []

    [notice] = await eventually(awaiting)
    guide = await eventually(
        lambda: _async([t for t in _thread_texts(bot) if "portal_submitted" in t])
    )
    assert (
        "Alibaba IP Protection Platform" in guide[0]
        and "018123456" in guide[0]
        and "taobao" in guide[0].lower()
    )

    await bot.interact(press("portal_submitted", str(notice.id)))
    [opened] = await bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "notice_confirm"

    values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-2026-0042"}}}
    metadata = opened.params["view"]["private_metadata"]  # sealed by the bot (bot.desk.seal)
    response = await bot.interact(view_submission("notice_confirm", metadata, values))
    assert response.status == 200
    listing = (await _listings(bot))[0]
    assert (listing.status, listing.reference) == ("submitted", "IPP-2026-0042")

    await bot.interact(press("notice_decide", str(notice.id), user="U0LEGAL"))
    calls = await bot.slack.wait_for("views.open", count=2)
    decision_view = calls[1].params["view"]
    option = decision_view["blocks"][1]["element"]["options"][0]
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": "removed"}}},
        "listings": {"listings": {"type": "multi_static_select", "selected_options": [option]}},
        "note": {"note": {"type": "plain_text_input", "value": "Taken down within 2 days"}},
    }
    metadata = decision_view["private_metadata"]
    await bot.interact(view_submission("notice_decision", metadata, values, user="U0LEGAL"))
    listing = (await _listings(bot))[0]
    assert (listing.status, listing.status_reason) == ("removed", "Taken down within 2 days")
    await eventually(
        lambda: _async(
            any("Taken down within 2 days" in t and "U0LEGAL" in t for t in _thread_texts(bot))
        )
    )


async def test_could_not_submit_on_portal_fails_with_retry(bot: SlackDriver) -> None:
    await bot.submit_report(urls=TAOBAO)
    await eventually(lambda: _async(any("portal_failed" in t for t in _thread_texts(bot))))
    [notice] = await _notices(bot)
    await bot.interact(press("portal_failed", str(notice.id)))
    [opened] = await bot.slack.wait_for("views.open")  # it asks why
    reason = {"reason": {"reason": {"type": "plain_text_input", "value": "Form is down"}}}
    metadata = opened.params["view"]["private_metadata"]
    await bot.interact(view_submission("notice_not_filed", metadata, reason))
    await eventually(lambda: _async(any("notice_retry" in t for t in _thread_texts(bot))))
    assert (await _statuses(bot))["taobao:612345678901"] == "failed"


async def test_slack_outage_delays_thread_messages_without_losing_or_reordering(
    bot: SlackDriver,
) -> None:
    bot.slack.fail_next("chat.postMessage", times=4, status=429, error="ratelimited", retry_after=1)
    await bot.submit_report(urls=TAOBAO)
    await eventually(
        lambda: _async(
            len([c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")])
            >= 1
        ),
        timeout=20,
    )

    async def notify_jobs_done() -> bool:
        # the worker marks a job done after Slack answered, so the reply can be seen first
        async with bot.bot.db.sessions() as session:
            jobs = list((await session.execute(select(Job).where(Job.kind == "notify"))).scalars())
        return bool(jobs) and all(job.state == "done" for job in jobs)

    await eventually(notify_jobs_done)
    ok_posts = [c for c in bot.slack.calls_to("chat.postMessage")]
    parents = [c for c in ok_posts if not c.params.get("thread_ts")]
    assert len(parents) == 5  # 4 refused, then posted once
    first_reply = next(i for i, c in enumerate(ok_posts) if c.params.get("thread_ts"))
    assert first_reply > 4, "the thread reply waited for its parent"


async def test_webhook_decisions_are_polled(bot: SlackDriver, hook: FakeWebhookReceiver) -> None:
    await bot.submit_report(urls=TEMU)
    await eventually(lambda: _sent(bot))
    hook.decide("temu:601099512345678", "rejected", "Listing is a genuine resale")

    async def rejected() -> bool:
        return (await _statuses(bot))["temu:601099512345678"] == "rejected"

    await eventually(rejected, timeout=15)
    await asyncio.sleep(0)
