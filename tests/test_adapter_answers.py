"""What the API adapters (eBay VeRO, Mercado Libre, the webhook) make of answers they cannot use,
each against its fake platform on loopback:

- an answer the adapter cannot read is an error that names the platform, never a quiet retry (a
  platform that changed its format answers the same way next time); after a submission it leaves
  the outcome unknown, before anything was sent it is final;
- whatever a platform puts in Retry-After, the adapter gives a bounded, finite, non-negative
  number of seconds or None, and never raises over it;
- an answer body over 1 MB is not read: an error naming the platform (a refusal's error page is
  still read by its status).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from adapter_kit import KINDS, Channel, make_notice, open_channel
from fakes.ebay import FakeEbayVero, OAuthClient

from bot.delivery.adapters import base, parse_adapter_options
from bot.delivery.adapters.base import AdapterError, AmbiguousError, PermanentError, TransientError
from bot.delivery.adapters.ebay_vero import EbayVeroAdapter

UNREADABLE = "answered in a form the bot cannot read"
CAP = 1024 * 1024  # the adapters read at most this many bytes of an answer
DAY = 24 * 3600.0  # the longest wait an adapter passes on from Retry-After

JUNK = {
    "html": b"<html><body>Down for maintenance</body></html>",
    "array": b"[1, 2, 3]",
    "string": b'"ok"',
    "null": b"null",
    "not-utf8": b"\xff\xfe\x00{",
}


@pytest.fixture(params=KINDS)
async def channel(
    request: pytest.FixtureRequest, http: aiohttp.ClientSession
) -> AsyncIterator[Channel]:
    async with open_channel(request.param, http) as opened:
        yield opened


# --- unreadable answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
async def test_an_unreadable_answer_to_a_check_is_an_error_naming_the_platform(
    channel: Channel, junk: bytes
) -> None:
    notice = await channel.sent()
    channel.fake.malformed_next(status=200, body=junk)

    with pytest.raises(AdapterError) as caught:
        await channel.adapter.check(notice)

    assert str(caught.value).startswith(f"{channel.company} {UNREADABLE} (")
    assert not isinstance(caught.value, TransientError), "a changed format is not retried quietly"
    assert isinstance(caught.value, base.UnreadableAnswer)


async def test_a_check_answer_of_an_unknown_shape_is_an_error_naming_the_platform(
    channel: Channel,
) -> None:
    notice = await channel.sent()
    channel.fake.malformed_next(status=200, body=channel.unknown_check_answer)

    with pytest.raises(AdapterError) as caught:
        await channel.adapter.check(notice)

    assert str(caught.value).startswith(f"{channel.company} {UNREADABLE} (")
    assert not isinstance(caught.value, TransientError)
    assert isinstance(caught.value, base.UnreadableAnswer)


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
async def test_an_unreadable_answer_to_a_submission_leaves_its_outcome_unknown(
    channel: Channel, junk: bytes
) -> None:
    channel.fake.malformed_next(status=channel.malformed_status, body=junk)

    with pytest.raises(AmbiguousError) as caught:
        await channel.adapter.submit(channel.notice())

    assert str(caught.value).startswith(f"{channel.company} {UNREADABLE} (")
    assert isinstance(caught.value, base.UnreadableAnswer)


async def test_an_unreadable_token_answer_is_final_and_nothing_is_sent(
    http: aiohttp.ClientSession,
) -> None:
    client = OAuthClient(client_id="Acme-PRD-1", client_secret="cert-1", refresh_token="r-1")
    async with FakeEbayVero(oauth=client) as fake:
        options = {
            "base_url": fake.base_url,
            "oauth": {
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "refresh_token": client.refresh_token,
                "token_url": fake.token_url,
            },
            "reason_codes": {"counterfeit": "9001"},
        }
        adapter = EbayVeroAdapter(
            parse_adapter_options("ebay_vero", options), platform="ebay", http=http
        )
        fake.token_error_next(200, {"token_type": "User Access Token"})

        with pytest.raises(PermanentError) as caught:
            await adapter.submit(make_notice("ebay:110000000001"))

    assert str(caught.value).startswith(f"eBay {UNREADABLE} (getting an access token)")
    assert isinstance(caught.value, base.UnreadableAnswer)
    assert fake.requests == [], "no report is filed without a token"


# --- Retry-After ------------------------------------------------------------------------------------

RETRY_AFTER = {
    "7": 7.0,
    "0": 0.0,
    "2.5": 2.5,
    " 12 ": 12.0,
    "1000000000000": DAY,
    "9" * 400: DAY,
    "-1": None,
    "inf": None,
    "Infinity": None,
    "NaN": None,
    "1e12": None,
    "0x10": None,
    "1_000": None,
    "soon": None,
    "": None,
    "Thu, 01 Jan 1970 00:00:00 GMT": 0.0,
    "Mon, 01 Jan 0001 00:00:00 +0100": 0.0,
    "Fri, 31 Dec 9999 23:59:59 GMT": DAY,
    "Fri, 31 Dec 9999 23:59:59 -1200": DAY,
    "Mon, 01 Jan 99999999999 00:00:00 GMT": None,
    "Mon, 32 Jan 2024 00:00:00 GMT": None,
}


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("header", "expected"),
    RETRY_AFTER.items(),
    ids=[repr(value[:40]) for value in RETRY_AFTER],
)
async def test_retry_after_is_a_bounded_number_of_seconds_or_none(
    channel: Channel, status: int, header: str, expected: float | None
) -> None:
    channel.fake.refuse_next(status=status, headers={"Retry-After": header})

    with pytest.raises(TransientError) as caught:
        await channel.adapter.submit(channel.notice())

    wait = caught.value.retry_after
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= DAY)
    assert wait == expected


# --- answers over the cap ---------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "with-length"])
async def test_a_check_answer_over_the_cap_is_refused_naming_the_platform(
    channel: Channel, declared: bool
) -> None:
    notice = await channel.sent()
    channel.fake.oversized_next(size=CAP + 1, declared=declared)

    with pytest.raises(AdapterError) as caught:
        await channel.adapter.check(notice)

    assert str(caught.value).startswith(f"{channel.company} {UNREADABLE} (")
    assert "larger than 1 MB" in str(caught.value)
    assert not isinstance(caught.value, TransientError)


async def test_a_submission_answer_over_the_cap_leaves_its_outcome_unknown(
    channel: Channel,
) -> None:
    channel.fake.oversized_next(size=8 * CAP)

    with pytest.raises(AmbiguousError) as caught:
        await channel.adapter.submit(channel.notice())

    assert str(caught.value).startswith(f"{channel.company} {UNREADABLE} (")
    assert "larger than 1 MB" in str(caught.value)


async def test_an_answer_of_exactly_the_cap_is_read(channel: Channel) -> None:
    notice = await channel.sent()
    channel.fake.oversized_next(size=CAP)

    decisions = await channel.adapter.check(notice)

    assert [decision.listing_id for decision in decisions] == [90]


async def test_an_error_page_over_the_cap_still_counts_by_its_status(channel: Channel) -> None:
    notice = await channel.sent()
    channel.fake.oversized_next(size=2 * CAP, status=503)

    with pytest.raises(TransientError, match="503"):
        await channel.adapter.check(notice)
