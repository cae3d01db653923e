"""The portal guide carries everything the email notice carries: a person filing a web form must
not have less to paste than an email intake receives. The two are compared value by value, so a
line added to the notice's text that the guide lacks fails here. And a report's seller reaches
the guide posted in its thread."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
from conftest import SlackDriver, eventually

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters.base import NoticeListing
from bot.delivery.adapters.email import EmailAdapter, EmailOptions
from bot.delivery.notices import build_notice, notice_fields
from bot.slack_ui.notice_blocks import portal_guide

HOLDER = RightsHolder(
    name="Acme Outdoor GmbH",
    email="brand-protection@acme.example",
    address="Hauptstr. 1, 10115 Berlin, DE",
    phone="+49 30 1234567",
    signatory="Jane Roe, Head of Brand Protection",
    agent="Brandguard & Partners LLP",
)
RIGHT = Right(
    id="acme-eu-tm",
    kind="trademark",
    mark="ACME",
    number="018123456",
    office="EUIPO",
    classes=[18, 25],
    jurisdiction="EU",
    owner="Acme Holding <AG>",
)
LISTINGS = [
    NoticeListing(1, "taobao", "taobao:612345678901", "https://item.taobao.com/item.htm?id=612345678901", seller="Shady <Deals>"),
    NoticeListing(2, "taobao", "taobao:612345678902", "https://item.taobao.com/item.htm?id=612345678902", seller="Knockoff & Hub"),
    NoticeListing(3, "taobao", "taobao:612345678903", "https://item.taobao.com/item.htm?id=612345678903"),
]  # fmt: skip
# The notice's text beyond its values: its greeting and the dates of sending and signing (a
# person filing a form files it on the day they do).
_PROSE = re.compile(
    r"^(To the intellectual property team of |This is a notice of |Date: |Signed on )"
)
_SECTION = re.compile(r"^[A-Z][A-Z ()0-9]+$")  # NOTIFIER, INFRINGING LISTINGS (3), …
_LISTING = re.compile(r"^\d+\. (\S+) \(listing (\S+)(?:, seller (.+))?\)$")


def _notice():  # type: ignore[no-untyped-def]
    return build_notice(
        notice_id=9,
        case_ref="TD-7",
        platform="taobao",
        channel="taobao",
        idempotency_key="notice-9",
        brand="Acme",
        right=RIGHT,
        rights_holder=HOLDER,
        infringement="counterfeit",
        description="Counterfeit ACME backpacks.\nThey copy our <catalogue> photos & logo.",
        evidence=["https://acme.example/testbuy/1.jpg", "https://acme.example/testbuy/2.jpg"],
        listings=LISTINGS,
        now=datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
    )


def _email_values(body: str) -> list[str]:
    """Every value the email's body carries, line by line: a labelled line's value, a listing
    line's URL and seller, a list item, the signature, the signing party."""
    values: list[str] = []
    for line in (line.strip() for line in body.splitlines()):
        if not line or _SECTION.match(line) or _PROSE.match(line):
            continue
        if listing := _LISTING.match(line):
            values += [value for value in (listing[1], listing[3]) if value]
        elif line.startswith("- "):
            values.append(line[2:])
        elif signature := re.fullmatch(r"/(.+)/ \(electronic signature\)", line):
            values.append(signature[1])
        elif line.startswith("for "):
            values.append(line[4:])
        elif ": " in line and line.split(": ", 1)[0].replace(" ", "").isalpha():
            values.append(line.split(": ", 1)[1])
        else:
            values.append(line)  # anything else (the description) must be there as written
    return values


def _guide_text(blocks: list[dict[str, Any]]) -> str:
    """What the guide shows to copy: its fields' code blocks, unescaped."""
    pieces: list[str] = []
    for block in blocks:
        text = str((block.get("text") or {}).get("text", ""))
        pieces += re.findall(r"```(.*?)```", text, re.DOTALL)
    return "\n".join(pieces).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_the_portal_guide_carries_every_value_of_the_email_notice(
    http: aiohttp.ClientSession,
) -> None:
    notice = _notice()
    options = EmailOptions(to="ipr@taobao.example", host="127.0.0.1")
    email = EmailAdapter(options, platform="taobao", http=http).build_message(notice)
    body = email.get_content()
    _, blocks = portal_guide(
        notice_id=notice.notice_id,
        platform=notice.platform,
        listings=len(notice.listings),
        fields=notice_fields(notice),
        portal="Alibaba IP Protection Platform",
        url="https://ipp.alibabagroup.com/",
    )
    guide = " ".join(_guide_text(blocks).split())
    values = _email_values(body)
    assert "Shady <Deals>" in values and "Brandguard & Partners LLP" in values  # parsed
    assert "TD-7 (notice 9)" in values
    missing = [value for value in values if " ".join(value.split()) not in guide]
    assert not missing, f"the email carries these, the portal guide does not: {missing}"
    assert str(email["Subject"]).startswith("IP infringement notice TD-7")


async def test_the_guide_posted_in_the_thread_names_the_seller(bot: SlackDriver) -> None:
    await bot.submit_report(
        urls="https://item.taobao.com/item.htm?id=612345678901", seller="Shady <Deals>"
    )

    async def guide() -> str:
        for call in bot.slack.calls_to("chat.postMessage"):
            if call.params.get("thread_ts") and "portal_failed" in json.dumps(call.params):
                return json.dumps(call.params["blocks"], ensure_ascii=False)
        return ""

    posted = await eventually(guide)
    assert "*Seller*\\n```Shady &lt;Deals&gt;```" in posted
    assert "*Our reference*\\n```TD-1 (notice 1)```" in posted
