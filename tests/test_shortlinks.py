"""Short links are followed hop by hop, only through marketplace and shortener hosts, never to an
IP address or a private network, within a redirect limit and a short timeout. The shortener is a
fake on loopback (tests/fakes/redirects.py); no test needs DNS or the internet."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest
from conftest import SlackDriver
from fakes.redirects import FakeRedirects
from sqlalchemy import select

from bot.core.listings import ListingURLError
from bot.intake.shortlinks import (
    SHORTENER_HOSTS,
    Resolver,
    ShortLinkPolicy,
    expand_short_links,
    resolve_short_link,
    resolve_short_links,
    short_link_host,
)
from storage.models import Listing

AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH?ref=share&tag=x"
EBAY = "https://www.ebay.com/itm/123456789012"


@pytest.fixture
async def fake() -> AsyncIterator[FakeRedirects]:
    async with FakeRedirects() as server:
        yield server


def _resolver(answers: dict[str, Sequence[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError(f"{host} not in the test's DNS")
        return answers[host]

    return resolve


async def _refused(url: str, http: aiohttp.ClientSession, **kwargs: object) -> str:
    with pytest.raises(ListingURLError) as caught:
        await resolve_short_link(url, http=http, **kwargs)  # type: ignore[arg-type]
    assert caught.value.url == url
    return caught.value.reason


def test_the_issue_s_shorteners_are_known() -> None:
    wanted = "a.co amzn.to amzn.eu amzn.asia ebay.us s.click.aliexpress.com a.aliexpress.com"
    wanted += " m.tb.cn e.tb.cn shope.ee etsy.me"
    assert set(wanted.split()) <= SHORTENER_HOSTS
    assert short_link_host("https://amzn.to/3xYz") == "amzn.to"
    assert short_link_host("<https://www.amzn.to/3xYz|amzn.to/3xYz>") == "amzn.to"
    assert short_link_host("amzn.to/3xYz") == "amzn.to"
    assert short_link_host(EBAY) is None
    assert short_link_host("https://amzn.to.evil.example/x") is None
    assert short_link_host("ftp://amzn.to/x") is None


async def test_two_hop_chain_to_an_amazon_listing_resolves_without_requesting_it(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    fake.redirect("/3xYz", "https://a.co/d/abc", status=301)
    fake.redirect("/d/abc", AMAZON, status=302)
    final = await resolve_short_link(
        "https://amzn.to/3xYz", http=http, hosts=fake.policy("amzn.to", "a.co")
    )
    assert final == AMAZON
    assert [(r.method, r.host, r.path) for r in fake.requests] == [
        ("HEAD", "amzn.to", "/3xYz"),
        ("HEAD", "a.co", "/d/abc"),
    ]


async def test_relative_location_and_get_only_redirects_are_followed(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    fake.redirect("/s", "/t", head=405)  # HEAD refused, GET redirects
    fake.redirect("/t", EBAY, status=307)
    final = await resolve_short_link("ebay.us/s", http=http, hosts=fake.policy("ebay.us"))
    assert final == EBAY
    assert [r.method for r in fake.requests] == ["HEAD", "GET", "HEAD"]


async def test_a_hop_through_a_marketplace_host_is_allowed(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    # AliExpress share links pass through star.aliexpress.com before the item page.
    item = "https://www.aliexpress.com/item/1005001234567890.html"
    fake.redirect("/e/_abc", "https://star.aliexpress.com/share/share.htm?id=1", status=302)
    fake.redirect("/share/share.htm", item, status=302)
    policy = fake.policy("s.click.aliexpress.com", "star.aliexpress.com")
    assert (
        await resolve_short_link("https://s.click.aliexpress.com/e/_abc", http=http, hosts=policy)
        == item
    )


async def test_five_redirects_resolve_and_six_are_refused(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    policy = fake.policy("amzn.to")
    five = fake.chain("/five", hops=5, host="amzn.to", final=AMAZON)
    assert await resolve_short_link(five, http=http, hosts=policy) == AMAZON
    six = fake.chain("/six", hops=6, host="amzn.to", final=AMAZON)
    reason = await _refused(six, http, hosts=policy)
    assert "too many redirects" in reason
    assert len([r for r in fake.requests if r.path.startswith("/six")]) == 5


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/item",
        "https://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://2130706433/",  # 127.0.0.1 written as one number
        "http://0x7f.1/",
        "http://192.168.1.1.",
    ],
)
async def test_a_hop_to_an_ip_address_is_refused_before_connecting(
    fake: FakeRedirects, http: aiohttp.ClientSession, location: str
) -> None:
    fake.redirect("/x", location)
    started = time.monotonic()
    reason = await _refused("https://amzn.to/x", http, hosts=fake.policy("amzn.to"))
    assert "IP address" in reason
    assert time.monotonic() - started < 1.0  # nothing waited on a connection
    assert len(fake.requests) == 1  # only the short link itself was asked


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.7"], ["127.0.0.1"], ["::1"], ["169.254.169.254"], ["93.184.216.34", "192.168.0.2"]],
)
async def test_a_host_resolving_to_a_private_address_is_refused(
    fake: FakeRedirects, http: aiohttp.ClientSession, addresses: list[str]
) -> None:
    fake.redirect("/x", "https://amzn.eu/d/next")
    policy = fake.policy("amzn.to", resolver=_resolver({"amzn.eu": addresses}))
    reason = await _refused("https://amzn.to/x", http, hosts=policy)
    assert "private or local network address" in reason
    assert len(fake.requests) == 1


async def test_the_system_resolver_is_checked_too(http: aiohttp.ClientSession) -> None:
    # localhost comes from the hosts file, not from the network.
    policy = ShortLinkPolicy(shorteners=SHORTENER_HOSTS | {"localhost"})
    reason = await _refused("http://localhost/x", http, hosts=policy)
    assert "private or local network address" in reason


async def test_private_addresses_pass_only_when_the_policy_allows_them(
    http: aiohttp.ClientSession,
) -> None:
    resolver = _resolver({"amzn.to": ["127.0.0.1"]})
    refused = await _refused("http://amzn.to/x", http, hosts=ShortLinkPolicy(resolver=resolver))
    assert "private or local network address" in refused
    # Allowed, the request goes to the resolved address (port 80 of this machine, which refuses
    # it or answers something that is not a redirect): refused now for another reason.
    allowed = ShortLinkPolicy(resolver=resolver, allow_private=True)
    reason = await _refused("http://amzn.to/x", http, hosts=allowed, timeout=2)
    assert "private" not in reason and "IP address" not in reason


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/dp/B0ABCDEFGH",
        "https://www.amazon.de.evil.example/dp/B0ABCDEFGH",
        "https://www.amazon.de@evil.example/dp/B0ABCDEFGH",
        "javascript:alert(1)",
        "ftp://www.amazon.de/dp/B0ABCDEFGH",
        "https://www.amazon.de:8443/gp/redirect",
    ],
)
async def test_a_hop_off_the_supported_platforms_is_refused(
    fake: FakeRedirects, http: aiohttp.ClientSession, location: str
) -> None:
    fake.redirect("/x", location)
    reason = await _refused("https://amzn.to/x", http, hosts=fake.policy("amzn.to"))
    assert "short link did not lead to a listing on a supported platform" in reason
    assert len(fake.requests) == 1


async def test_a_chain_that_stops_on_a_page_that_is_not_a_listing_is_refused(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    fake.redirect("/x", "https://www.amazon.de/gp/help")
    fake.page("/gp/help")
    reason = await _refused("https://amzn.to/x", http, hosts=fake.policy("amzn.to", "amazon.de"))
    assert "did not lead to a listing on a supported platform" in reason
    assert "Amazon page but not a listing" in reason


async def test_a_dead_short_link_says_what_the_server_answered(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    reason = await _refused("https://amzn.to/gone", http, hosts=fake.policy("amzn.to"))
    assert "could not follow the short link" in reason and "HTTP 404" in reason


async def test_a_slow_shortener_times_out(fake: FakeRedirects, http: aiohttp.ClientSession) -> None:
    fake.slow("/x", delay=5)
    started = time.monotonic()
    reason = await _refused("https://amzn.to/x", http, hosts=fake.policy("amzn.to"), timeout=0.3)
    assert "could not follow the short link (timeout)" in reason
    assert time.monotonic() - started < 1.5


async def test_the_timeout_covers_the_whole_chain(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    start = fake.chain("/c", hops=4, host="amzn.to", final=AMAZON, delay=0.15)
    reason = await _refused(start, http, hosts=fake.policy("amzn.to"), timeout=0.4)
    assert "(timeout)" in reason


async def test_a_url_that_is_not_a_short_link_is_refused_without_a_request(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    reason = await _refused(EBAY, http, hosts=fake.policy("amzn.to"))
    assert "not a short link" in reason
    assert fake.requests == []


async def test_expand_replaces_only_short_links_and_keeps_the_rest(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    fake.redirect("/a", AMAZON)
    fake.redirect("/b", EBAY)
    lines = [
        "https://amzn.to/a",
        "",
        EBAY,
        "not a url",
        "  https://ebay.us/b  ",
        "https://amzn.to/zz",
    ]
    expanded = await expand_short_links(lines, http=http, hosts=fake.policy("amzn.to", "ebay.us"))
    assert expanded == [AMAZON, "", EBAY, "not a url", EBAY, "https://amzn.to/zz"]


async def test_resolve_gives_each_short_link_its_url_or_its_reason(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    fake.redirect("/a", AMAZON)
    fake.redirect("/b", "http://10.0.0.1/")
    lines = ["https://amzn.to/a", "https://amzn.to/a", "https://amzn.to/b", EBAY]
    resolved = await resolve_short_links(lines, http=http, hosts=fake.policy("amzn.to"))
    assert set(resolved) == {"https://amzn.to/a", "https://amzn.to/b"}
    assert resolved["https://amzn.to/a"] == AMAZON
    error = resolved["https://amzn.to/b"]
    assert isinstance(error, ListingURLError) and "IP address" in error.reason
    assert len([r for r in fake.requests if r.path == "/a"]) == 1  # each distinct link once


async def test_expand_follows_links_concurrently_within_its_bound(
    fake: FakeRedirects, http: aiohttp.ClientSession
) -> None:
    lines = []
    for i in range(6):
        fake.slow(f"/s{i}", delay=0.2, location=f"https://www.ebay.com/itm/10000000000{i}")
        lines.append(f"https://ebay.us/s{i}")
    started = time.monotonic()
    expanded = await expand_short_links(
        lines, http=http, hosts=fake.policy("ebay.us"), concurrency=3, timeout=5
    )
    assert expanded == [f"https://www.ebay.com/itm/10000000000{i}" for i in range(6)]
    assert fake.in_flight_max == 3
    assert time.monotonic() - started < 6 * 0.2  # not one after the other


async def test_a_short_link_in_the_form_becomes_its_listing(bot: SlackDriver) -> None:
    async with FakeRedirects() as fake:
        fake.redirect("/abc", "https://www.amazon.de/dp/B0ABCDEFGH?ref=share")
        bot.bot.runtime.short_links = fake.policy("amzn.to")
        _, body = await bot.submit_report(urls="https://amzn.to/abc\nhttps://amzn.to/nowhere")
        assert body["response_action"] == "errors"  # the second link leads to no listing
        assert "line 2" in body["errors"]["urls"] and "line 1" not in body["errors"]["urls"]
        _, body = await bot.submit_report(urls="https://amzn.to/abc")
    assert body["response_action"] == "update"
    async with bot.bot.db.sessions() as session:
        [listing] = (await session.execute(select(Listing))).scalars().all()
    assert (listing.key, listing.submitted_url) == ("amazon.de:B0ABCDEFGH", "https://amzn.to/abc")
