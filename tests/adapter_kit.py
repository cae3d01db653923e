"""Each API adapter (eBay VeRO, Mercado Libre, the webhook) wired to its fake platform on loopback,
for the tests that hold for all of them alike.

    async with open_channel("ebay", http) as channel:
        notice = await channel.sent()            # a notice filed, with the platform's reference
        channel.fake.malformed_next(status=200)  # script the platform's next answer
        await channel.adapter.check(notice)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.server import FakePlatform
from fakes.webhook import FakeWebhookReceiver

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters import adapter_class, parse_adapter_options
from bot.delivery.adapters.base import Adapter, NoticeListing, OutgoingNotice

KINDS = ("ebay", "mercadolibre", "webhook")
TOKEN = "platform-token-0123456789"
SECRET = "whsec-0123456789abcdef"

_RIGHT = Right(id="acme-eu-tm", kind="trademark", number="018123456", office="EUIPO")
_HOLDER = RightsHolder(name="Acme Outdoor GmbH", email="brand-protection@acme.example")


def make_notice(listing_key: str, *, reference: str | None = None) -> OutgoingNotice:
    """A one-listing notice for the listing `listing_key` (`ebay:110000000001`)."""
    platform, _, item = listing_key.partition(":")
    return OutgoingNotice(
        notice_id=9,
        case_ref="TD-9",
        platform=platform,
        channel=platform,
        idempotency_key="td-9-notice-9",
        brand="Acme",
        right=_RIGHT,
        rights_holder=_HOLDER,
        infringement="counterfeit",
        description="Counterfeit Acme backpacks using our logo.",
        evidence=(),
        listings=(
            NoticeListing(
                listing_id=90, platform=platform, key=listing_key, url=f"https://x/{item}"
            ),
        ),
        subject="Notice of infringement",
        text="…",
        reference=reference,
    )


@dataclass
class Channel:
    kind: str
    company: str  # the platform as the adapter's messages name it
    fake: FakePlatform[Any]
    adapter: Adapter
    listing_key: str
    malformed_status: int  # what a successful submission answers
    unknown_check_answer: bytes  # a JSON object for `check` lacking what the adapter reads

    def notice(self, reference: str | None = None) -> OutgoingNotice:
        return make_notice(self.listing_key, reference=reference)

    async def sent(self) -> OutgoingNotice:
        """A notice the platform accepted, carrying the reference it gave."""
        receipt = await self.adapter.submit(self.notice())
        assert receipt.reference
        return replace(self.notice(), reference=receipt.reference)

    def paths(self) -> list[str]:
        """Every request path the platform saw, endpoints and strays alike."""
        return [request.path for request in self.fake.requests] + [
            stray.partition(" ")[2] for stray in self.fake.strays
        ]


def _adapter(name: str, platform: str, http: aiohttp.ClientSession, **options: Any) -> Adapter:
    cls = adapter_class(name)
    return cls(parse_adapter_options(name, options), platform=platform, http=http)


@asynccontextmanager
async def open_channel(kind: str, http: aiohttp.ClientSession) -> AsyncIterator[Channel]:
    """The `kind` adapter (one of KINDS) talking to its fake platform, which runs until the end."""
    if kind == "ebay":
        async with FakeEbayVero(token=TOKEN) as ebay:
            yield Channel(
                kind,
                "eBay",
                ebay,
                _adapter(
                    "ebay_vero",
                    "ebay",
                    http,
                    base_url=ebay.base_url,
                    token=TOKEN,
                    reason_codes={"counterfeit": "9001"},
                    timeout=5,
                ),
                "ebay:110000000001",
                201,
                b'{"veroReportId": "5000000001", "veroReportStatus": "Received"}',
            )
    elif kind == "mercadolibre":
        async with FakeMercadoLibre(token=TOKEN) as meli:
            yield Channel(
                kind,
                "Mercado Libre",
                meli,
                _adapter(
                    "mercadolibre",
                    "mercadolibre",
                    http,
                    base_url=meli.base_url,
                    token=TOKEN,
                    report_reasons={"counterfeit": "PPPI1"},
                    timeout=5,
                ),
                "mercadolibre:MLA123456789",
                201,
                b'{"id": "900001", "item_id": "MLA123456789", "state": "CREATED"}',
            )
    elif kind == "webhook":
        async with FakeWebhookReceiver(secret=SECRET) as hook:
            yield Channel(
                kind,
                "the webhook receiver",
                hook,
                _adapter("webhook", "temu", http, base_url=hook.base_url, secret=SECRET, timeout=5),
                "temu:601099512345678",
                200,
                b'{"reference": "WH-1", "listings": {"temu:601099512345678": "removed"}}',
            )
    else:
        raise AssertionError(kind)
