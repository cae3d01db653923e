"""A notice's reference (the platform's id for it) checked against the platform's shape before it
goes anywhere, and every path part an adapter builds from data percent-encoded: a reference typed
in the confirm form, or kept from before, never reaches another endpoint with the bot's token."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from adapter_kit import open_channel
from app_yaml import build_config
from conftest import EBAY_TOKEN, SlackDriver, eventually, press, view_submission
from fakes.ebay import FakeEbayVero
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import PermanentError
from storage.models import Notice

TRAVERSAL = "123/../../../../sell/account/v1/privilege"
EBAY_ITEM = "https://www.ebay.com/itm/123456789012"
EBAY_SHAPE = "An eBay VeRO report id is digits only"
MELI_SHAPE = "A Mercado Libre denounce id is"
FREE_TEXT_SHAPE = "A reference is"


# --- each platform's shape --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "typed", "kept"),
    [
        ("ebay_vero", " 5069012345 ", "5069012345"),
        ("mercadolibre", "900001", "900001"),
        ("mercadolibre", "DEN-2026_77", "DEN-2026_77"),
        ("webhook", "VND-2026-000815", "VND-2026-000815"),
        ("portal", "  IPP-2026-0042\n", "IPP-2026-0042"),
        ("email", "<td-7.abc@takedown-bot>", "<td-7.abc@takedown-bot>"),
        ("portal", "Reclamação nº 42 / lote 7", "Reclamação nº 42 / lote 7"),
    ],
)
def test_a_reference_in_the_platforms_shape_is_kept(adapter: str, typed: str, kept: str) -> None:
    assert adapter_class(adapter).parse_reference(typed) == kept


@pytest.mark.parametrize(
    ("adapter", "typed", "message"),
    [
        ("ebay_vero", TRAVERSAL, EBAY_SHAPE),
        ("ebay_vero", "5069012345a", EBAY_SHAPE),
        ("ebay_vero", "５０６９", EBAY_SHAPE),  # full-width digits are not eBay's
        ("ebay_vero", "1" * 21, EBAY_SHAPE),
        ("ebay_vero", "", "Enter the platform's complaint or report number."),
        ("mercadolibre", TRAVERSAL, MELI_SHAPE),
        ("mercadolibre", "9000 01", MELI_SHAPE),
        ("mercadolibre", "9" * 65, MELI_SHAPE),
        ("webhook", "VND\n2026", FREE_TEXT_SHAPE),
        ("webhook", "x" * 201, FREE_TEXT_SHAPE),
        ("portal", "IPP\u202e2026", FREE_TEXT_SHAPE),  # a bidirectional override
        ("portal", "IPP\x002026", FREE_TEXT_SHAPE),
        ("email", "   ", "Enter the platform's complaint or report number."),
    ],
)
def test_a_reference_the_platform_never_issues_is_refused_with_a_reason(
    adapter: str, typed: str, message: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        adapter_class(adapter).parse_reference(typed)

    assert str(caught.value).startswith(message)


# --- path parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ebay", "mercadolibre"])
async def test_a_kept_traversal_reference_reaches_no_other_endpoint(
    kind: str, http: aiohttp.ClientSession
) -> None:
    async with open_channel(kind, http) as channel:
        notice = await channel.sent()
        filed = channel.paths()

        with pytest.raises(PermanentError) as caught:
            await channel.adapter.check(replace(notice, reference=TRAVERSAL))

        assert channel.fake.strays == []
        assert channel.paths() == filed, "nothing was sent with the traversal in its path"
        assert "reference" in str(caught.value)


@pytest.mark.parametrize("reference", ["../../admin", "..", ".", "a b?c#d"])
async def test_a_webhook_reference_stays_one_path_segment(
    reference: str, http: aiohttp.ClientSession
) -> None:
    async with open_channel("webhook", http) as channel:
        notice = await channel.sent()

        # The receiver does not know it, or it cannot be a path segment at all.
        with contextlib.suppress(PermanentError):
            await channel.adapter.check(replace(notice, reference=reference))

        assert channel.fake.strays == []
        assert all(
            request.path in ("/hooks/notices", f"/hooks/notices/{reference}")
            for request in channel.fake.requests
        )


# --- the confirm form -----------------------------------------------------------------------------


@pytest.fixture
def config(ebay: FakeEbayVero) -> AppConfig:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001", "trademark": "1002", "copyright": "1003"},
            "poll_every": "1s",
            "timeout": 2,
        },
    }
    return build_config(
        platforms=platforms,
        environ={"EBAY_VERO_TOKEN": EBAY_TOKEN},
        access={"approvers": ["U0LEGAL"]},
    )


async def _notice(bot: SlackDriver) -> Notice | None:
    async with bot.bot.db.sessions() as session:
        return (await session.execute(select(Notice))).scalar_one_or_none()


async def _open_confirm_form(bot: SlackDriver, notice_id: int) -> str:
    """An approver presses It arrived… on the held notice: the form's metadata, as the bot sealed it."""
    await bot.interact(press("held_sent", str(notice_id), user="U0LEGAL"))
    [opened] = await bot.slack.wait_for("views.open")
    return str(opened.params["view"]["private_metadata"])


def _confirm(metadata: str, reference: str) -> dict[str, Any]:
    values = {"reference": {"reference": {"type": "plain_text_input", "value": reference}}}
    return view_submission("notice_confirm", metadata, values, user="U0LEGAL")


async def test_the_confirm_form_refuses_a_reference_ebay_never_issues(
    bot: SlackDriver, ebay: FakeEbayVero
) -> None:
    ebay.malformed_next()  # the report is filed, but its answer is junk: the notice is held
    await bot.submit_report(urls=EBAY_ITEM)

    async def held() -> Notice | None:
        notice = await _notice(bot)
        return notice if notice is not None and notice.status == "held" else None

    notice = await eventually(held)
    assert notice.id is not None
    [report_id] = ebay.reports

    metadata = await _open_confirm_form(bot, notice.id)
    response = await bot.interact(_confirm(metadata, TRAVERSAL))

    text = await response.text()
    assert text, "the form took the traversal as the notice's reference"
    answer = json.loads(text)
    assert answer["response_action"] == "errors"
    assert answer["errors"]["reference"].startswith(EBAY_SHAPE)
    still = await _notice(bot)
    assert still is not None and (still.status, still.reference) == ("held", None)

    response = await bot.interact(_confirm(metadata, report_id))
    assert response.status == 200 and not await response.text()
    report_path = f"/commerce/vero/v2/vero_report/{report_id}"
    await eventually(lambda: _seen(ebay, report_path))
    assert ebay.strays == []
    assert {request.path for request in ebay.requests} == {
        "/commerce/vero/v2/vero_report",
        "/commerce/vero/v2/vero_report_items",
        report_path,
    }


async def _seen(ebay: FakeEbayVero, path: str) -> bool:
    return any(request.path == path for request in ebay.requests)
