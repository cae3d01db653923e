"""The capture's fetch keeps to the short-link guard (marketplace hosts only, public addresses only,
connected to the checked address), to its size limit, and is honest about what stopped it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest
from fakes.marketplace import FakeMarketplace
from warcio.archiveiterator import ArchiveIterator

from bot.evidence.capture import judged
from bot.evidence.fetch import fetch_page
from bot.evidence.verdicts import Verdict
from bot.evidence.warc import capture_warc
from bot.intake.guard import HostPolicy

EBAY = "https://www.ebay.com/itm/123456789012"


@pytest.fixture
async def market() -> AsyncIterator[FakeMarketplace]:
    async with FakeMarketplace() as fake:
        yield fake


async def test_a_redirect_off_the_marketplace_is_not_followed(
    market: FakeMarketplace, http: aiohttp.ClientSession
) -> None:
    for location in ("https://collector.example/steal", "http://169.254.169.254/latest/"):
        market.redirect(EBAY, location)
        fetch = await fetch_page(EBAY, http=http, policy=market.policy())
        judgement = judged("ebay", fetch)

        assert judgement.verdict is Verdict.ERROR
        assert "redirected off the marketplace" in (judgement.note or "")
    assert [r.host for r in market.requests] == ["www.ebay.com", "www.ebay.com"]


async def test_a_marketplace_host_on_a_private_address_is_refused_without_a_test_rewrite(
    http: aiohttp.ClientSession,
) -> None:
    async def loopback(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    fetch = await fetch_page(EBAY, http=http, policy=HostPolicy(resolver=loopback))

    assert fetch.exchanges == []
    assert "private or local network address" in (fetch.problem or "")
    assert judged("ebay", fetch).verdict is Verdict.ERROR


async def test_a_redirect_within_the_marketplace_is_followed_and_each_hop_kept(
    market: FakeMarketplace, http: aiohttp.ClientSession
) -> None:
    market.redirect(EBAY, "https://www.ebay.com/")
    market.page("https://www.ebay.com/", "home.html")

    fetch = await fetch_page(EBAY, http=http, policy=market.policy())
    judgement = judged("ebay", fetch)
    records = [
        (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"))
        for record in ArchiveIterator(io.BytesIO(capture_warc(fetch, judgement)))
    ]

    assert judgement.verdict is Verdict.HOME_REDIRECT
    assert fetch.final_url == "https://www.ebay.com/"
    assert records[1:] == [
        ("request", EBAY),
        ("response", EBAY),
        ("request", "https://www.ebay.com/"),
        ("response", "https://www.ebay.com/"),
        ("metadata", EBAY),
    ]


async def test_a_page_over_the_size_limit_is_cut_and_the_warc_says_so(
    market: FakeMarketplace, http: aiohttp.ClientSession
) -> None:
    market.big(EBAY, size=300_000)

    fetch = await fetch_page(EBAY, http=http, policy=market.policy(), max_bytes=100_000)
    judgement = judged("ebay", fetch)
    responses = [
        (record.rec_headers.get_header("WARC-Truncated"), len(record.content_stream().read()))
        for record in ArchiveIterator(io.BytesIO(capture_warc(fetch, judgement)))
        if record.rec_type == "response"
    ]

    assert responses == [("length", 100_000)]
    assert "only its beginning is kept" in (judgement.note or "")


async def test_a_slow_page_is_an_error_with_the_time_limit_named(
    market: FakeMarketplace, http: aiohttp.ClientSession
) -> None:
    market.page(EBAY, "ebay_listing.html")
    market.latency = 5.0

    fetch = await fetch_page(EBAY, http=http, policy=market.policy(), timeout=0.2)

    assert judged("ebay", fetch).verdict is Verdict.ERROR
    assert fetch.problem == "no complete answer within 0.2 s"
