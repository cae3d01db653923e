"""The ebay_vero adapter against a fake VeRO API v2 server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from fakes.ebay import FakeEbayVero, OAuthClient

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters import adapter_class, parse_adapter_options, validate_adapter_options
from bot.delivery.adapters.base import (
    AmbiguousError,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
    TransientError,
    UnreadableAnswer,
)
from bot.delivery.adapters.ebay_vero import EbayVeroAdapter

TOKEN = "v^1.1#i^1#secret-user-token"
CLIENT = OAuthClient(
    client_id="Acme-takedown-PRD-1234",
    client_secret="PRD-secret-client-5678",
    refresh_token="v^1.1#i^1#r^1#secret-refresh-token",
)
OAUTH_KEYS = {
    "client_id": CLIENT.client_id,
    "client_secret": CLIENT.client_secret,
    "refresh_token": CLIENT.refresh_token,
}
REASONS = {"counterfeit": "9001", "trademark": "9002", "copyright": "9003", "patent": "9048"}
TRADEMARK = Right(
    id="acme-eu-tm", kind="trademark", number="018123456", office="EUIPO", classes=[18, 25]
)
HOLDER = RightsHolder(name="Acme Outdoor GmbH", email="brand-protection@acme.example")


def make_notice(
    *item_ids: str,
    infringement: str = "counterfeit",
    right: Right = TRADEMARK,
    description: str = "Counterfeit Acme backpacks using our logo.",
    reference: str | None = None,
) -> OutgoingNotice:
    listings = tuple(
        NoticeListing(
            listing_id=100 + i,
            platform="ebay",
            key=f"ebay:{item_id}",
            url=f"https://www.ebay.de/itm/{item_id}",
        )
        for i, item_id in enumerate(item_ids)
    )
    return OutgoingNotice(
        notice_id=7,
        case_ref="TD-42",
        platform="ebay",
        channel="ebay",
        idempotency_key="notice-7",
        brand="Acme",
        right=right,
        rights_holder=HOLDER,
        infringement=infringement,
        description=description,
        evidence=(),
        listings=listings,
        subject="Notice of infringement",
        text="…",
        reference=reference,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeEbayVero]:
    async with FakeEbayVero(token=TOKEN) as server:
        yield server


def make_adapter(http: aiohttp.ClientSession, base_url: str, **overrides: Any) -> EbayVeroAdapter:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "token": TOKEN,
        "reason_codes": REASONS,
        "timeout": 0.5,
    }
    settings.update(overrides)
    return EbayVeroAdapter(parse_adapter_options("ebay_vero", settings), platform="ebay", http=http)


@pytest.fixture
def adapter(http: aiohttp.ClientSession, fake: FakeEbayVero) -> EbayVeroAdapter:
    return make_adapter(http, fake.base_url)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/commerce/vero/v2"


# --- what the adapter declares --------------------------------------------------------------------


def test_adapter_declares_a_non_idempotent_checkable_channel_for_ebay() -> None:
    assert adapter_class("ebay_vero") is EbayVeroAdapter
    assert EbayVeroAdapter.platforms == ("ebay",)
    # eBay's limit per report; splitting larger notices is the caller's job (by max_batch)
    assert EbayVeroAdapter.max_batch == 150
    assert EbayVeroAdapter.idempotent is False
    assert EbayVeroAdapter.can_check is True


# --- submit ---------------------------------------------------------------------------------------


async def test_submit_creates_one_report_covering_every_listing(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    receipt = await adapter.submit(make_notice("110000000001", "110000000002", "110000000003"))

    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert (sent.method, sent.path) == ("POST", "/commerce/vero/v2/vero_report")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"].startswith("application/json")
    items = sent.json["reportItems"]
    assert [item["itemId"] for item in items] == ["110000000001", "110000000002", "110000000003"]
    assert {item["veroReasonCodeId"] for item in items} == {"9001"}
    assert items[0]["brand"] == "Acme"
    assert "Counterfeit Acme backpacks" in items[0]["messageToSeller"]
    assert "018123456" in items[0]["detailedMessage"]
    assert list(fake.reports) == [receipt.reference]


async def test_submit_receipt_puts_every_listing_in_review(adapter: EbayVeroAdapter) -> None:
    receipt = await adapter.submit(make_notice("110000000001", "110000000002"))

    assert [(d.listing_id, d.status, d.reference) for d in receipt.decisions] == [
        (100, "in_review", "110000000001"),
        (101, "in_review", "110000000002"),
    ]


async def test_submit_uses_the_reason_code_of_the_notices_infringement(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    await adapter.submit(make_notice("110000000001", infringement="trademark"))

    assert fake.requests[0].json["reportItems"][0]["veroReasonCodeId"] == "9002"


async def test_submit_sends_the_marketplace_header_when_configured(
    http: aiohttp.ClientSession, fake: FakeEbayVero
) -> None:
    adapter = make_adapter(http, fake.base_url, marketplace_id="EBAY_DE")

    await adapter.submit(make_notice("110000000001"))

    assert fake.requests[0].headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_DE"


async def test_patent_report_carries_the_patent_number(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    patent = Right(id="acme-pat", kind="patent", number="EP1234567", office="EPO")

    await adapter.submit(make_notice("110000000001", infringement="patent", right=patent))

    assert fake.requests[0].json["reportItems"][0]["patent"] == "EP1234567"


async def test_long_texts_are_clipped_to_ebays_field_limits(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    await adapter.submit(make_notice("110000000001", description="Fake. " * 600))

    item = fake.requests[0].json["reportItems"][0]
    assert len(item["messageToSeller"]) <= 1000
    assert len(item["detailedMessage"]) <= 1000
    assert len(fake.reports) == 1


async def test_infringement_without_a_reason_code_is_refused_before_sending(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    with pytest.raises(PermanentError, match=r"reason code.*'design'"):
        await adapter.submit(make_notice("110000000001", infringement="design"))

    assert fake.requests == []


async def test_listing_that_is_not_an_ebay_item_is_refused_before_sending(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    notice = make_notice("110000000001")
    foreign = NoticeListing(
        listing_id=9, platform="etsy", key="etsy:123", url="https://www.etsy.com/listing/123"
    )
    notice = replace(notice, listings=(*notice.listings, foreign))

    with pytest.raises(PermanentError, match="not an eBay item"):
        await adapter.submit(notice)

    assert fake.requests == []


# --- submit failures ------------------------------------------------------------------------------


async def test_server_error_is_transient(adapter: EbayVeroAdapter, fake: FakeEbayVero) -> None:
    fake.fail_next(status=500)

    with pytest.raises(TransientError, match="500"):
        await adapter.submit(make_notice("110000000001"))

    assert fake.reports == {}


async def test_rate_limit_is_transient_and_honours_retry_after_seconds(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.rate_limit_next(retry_after="7")

    with pytest.raises(TransientError) as caught:
        await adapter.submit(make_notice("110000000001"))

    assert caught.value.retry_after == 7.0


async def test_rate_limit_retry_after_may_be_an_http_date(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.rate_limit_next(
        retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    )

    with pytest.raises(TransientError) as caught:
        await adapter.submit(make_notice("110000000001"))

    assert caught.value.retry_after is not None
    assert 80 <= caught.value.retry_after <= 90


async def test_refused_token_is_permanent_with_ebays_message(
    http: aiohttp.ClientSession, fake: FakeEbayVero
) -> None:
    adapter = make_adapter(http, fake.base_url, token="expired-token")

    with pytest.raises(PermanentError) as caught:
        await adapter.submit(make_notice("110000000001"))

    message = str(caught.value)
    assert "401" in message
    assert "[1001] Invalid access token" in message
    assert "expired-token" not in message
    assert fake.reports == {}


async def test_validation_error_shows_every_message_from_ebay(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.error_next(
        status=400,
        errors=[
            {"errorId": 200010, "message": "The item 110000000001 is not active."},
            {
                "errorId": 200011,
                "longMessage": "The reason code is not valid for this marketplace.",
            },
        ],
    )

    with pytest.raises(PermanentError) as caught:
        await adapter.submit(make_notice("110000000001"))

    assert "[200010] The item 110000000001 is not active." in str(caught.value)
    assert "[200011] The reason code is not valid for this marketplace." in str(caught.value)


@pytest.mark.parametrize(
    ("status", "fallback"),
    [
        (403, "VeRO programme member"),
        (404, "not found"),
        (409, "no reason given"),
        (422, "no reason given"),
    ],
)
async def test_refusal_without_a_body_has_a_clear_fallback(
    adapter: EbayVeroAdapter, fake: FakeEbayVero, status: int, fallback: str
) -> None:
    fake.error_next(status=status)

    with pytest.raises(PermanentError, match=fallback):
        await adapter.submit(make_notice("110000000001"))


async def test_timeout_after_sending_is_ambiguous_and_the_report_did_arrive(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.slow_next(delay=2.0)

    with pytest.raises(AmbiguousError, match="may have been created"):
        await adapter.submit(make_notice("110000000001"))

    assert len(fake.reports) == 1


async def test_connection_cut_after_sending_is_ambiguous(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.drop_next()

    with pytest.raises(AmbiguousError):
        await adapter.submit(make_notice("110000000001"))

    assert len(fake.reports) == 1


async def test_unreachable_server_is_transient(http: aiohttp.ClientSession) -> None:
    adapter = make_adapter(http, closed_port_url())

    with pytest.raises(TransientError, match="could not connect"):
        await adapter.submit(make_notice("110000000001"))


async def test_malformed_success_body_is_ambiguous(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.malformed_next()

    with pytest.raises(AmbiguousError, match="no report id"):
        await adapter.submit(make_notice("110000000001"))

    assert len(fake.reports) == 1


# --- check ----------------------------------------------------------------------------------------


async def test_check_asks_for_the_reports_item_details(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    receipt = await adapter.submit(make_notice("110000000001"))

    await adapter.check(make_notice("110000000001", reference=receipt.reference))

    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("GET", f"/commerce/vero/v2/vero_report/{receipt.reference}")
    assert sent.query == {"includeItemDetails": "true"}
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_check_maps_each_item_status(adapter: EbayVeroAdapter, fake: FakeEbayVero) -> None:
    items = (
        "110000000001",
        "110000000002",
        "110000000003",
        "110000000004",
        "110000000005",
        "110000000006",
    )
    receipt = await adapter.submit(make_notice(*items))
    report_id = receipt.reference
    assert report_id is not None
    fake.decide(report_id, "110000000001", "Removed")
    fake.decide(
        report_id,
        "110000000002",
        "ClarificationRequired",
        "Please send the registration certificate.",
    )
    fake.decide(report_id, "110000000003", "SubmissionFailed", "The item has already ended.")
    fake.decide(report_id, "110000000004", "Submitted")
    fake.decide(report_id, "110000000005", "CLARIFICATION_REQUIRED", "Which logo is infringed?")
    # 110000000006 stays Received

    decisions = await adapter.check(make_notice(*items, reference=report_id))

    assert [(d.listing_id, d.status, d.reason, d.reference) for d in decisions] == [
        (100, "removed", None, "110000000001"),
        (101, "needs_info", "Please send the registration certificate.", "110000000002"),
        (102, "rejected", "The item has already ended.", "110000000003"),
        (103, "in_review", None, "110000000004"),
        (104, "needs_info", "Which logo is infringed?", "110000000005"),
        (105, "in_review", None, "110000000006"),
    ]


async def test_check_treats_an_unknown_status_as_still_in_review(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    receipt = await adapter.submit(make_notice("110000000001"))
    assert receipt.reference is not None
    fake.decide(receipt.reference, "110000000001", "UNDER_LEGAL_REVIEW")

    decisions = await adapter.check(make_notice("110000000001", reference=receipt.reference))

    assert [(d.status, d.reason) for d in decisions] == [("in_review", None)]


async def test_check_timeout_is_transient(adapter: EbayVeroAdapter, fake: FakeEbayVero) -> None:
    receipt = await adapter.submit(make_notice("110000000001"))
    fake.slow_next(delay=2.0)

    with pytest.raises(TransientError, match="did not answer"):
        await adapter.check(make_notice("110000000001", reference=receipt.reference))


async def test_check_malformed_body_is_an_unreadable_answer_not_a_retry(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    receipt = await adapter.submit(make_notice("110000000001"))
    fake.malformed_next(status=200)

    with pytest.raises(UnreadableAnswer, match=r"^eBay answered in a form the bot cannot read"):
        await adapter.check(make_notice("110000000001", reference=receipt.reference))


async def test_check_of_an_unknown_report_is_permanent(adapter: EbayVeroAdapter) -> None:
    with pytest.raises(PermanentError, match="not found"):
        await adapter.check(make_notice("110000000001", reference="5999999999"))


# --- find_existing --------------------------------------------------------------------------------


async def test_find_existing_is_none_when_ebay_has_none_of_the_items(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    assert await adapter.find_existing(make_notice("110000000001", "110000000002")) is None

    assert [(r.path, r.query) for r in fake.requests] == [
        ("/commerce/vero/v2/vero_report_items", {"itemId": "110000000001"}),
        ("/commerce/vero/v2/vero_report_items", {"itemId": "110000000002"}),
    ]


async def test_find_existing_stays_ambiguous_when_an_item_was_reported(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.slow_next(delay=2.0)
    notice = make_notice("110000000001")
    with pytest.raises(AmbiguousError):
        await adapter.submit(notice)

    with pytest.raises(AmbiguousError, match="110000000001 on record as reported"):
        await adapter.find_existing(notice)


@pytest.mark.parametrize("status", [400, 404])
async def test_find_existing_stays_ambiguous_when_ebay_cannot_be_asked(
    adapter: EbayVeroAdapter, fake: FakeEbayVero, status: int
) -> None:
    fake.error_next(status=status)

    with pytest.raises(AmbiguousError, match="VeRO portal"):
        await adapter.find_existing(make_notice("110000000001"))


async def test_find_existing_stays_ambiguous_when_the_answer_is_unreadable(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.malformed_next(status=200, body=b'{"violations": []}')

    with pytest.raises(AmbiguousError, match="eBay answered in a form the bot cannot read"):
        await adapter.find_existing(make_notice("110000000001"))


async def test_find_existing_server_error_is_transient(
    adapter: EbayVeroAdapter, fake: FakeEbayVero
) -> None:
    fake.fail_next(status=502)

    with pytest.raises(TransientError):
        await adapter.find_existing(make_notice("110000000001"))


# --- options --------------------------------------------------------------------------------------


def test_options_need_a_token_or_a_refresh_token() -> None:
    assert validate_adapter_options("ebay_vero", {"reason_codes": REASONS}) == [
        "set token (an access token, e.g. ${EBAY_VERO_TOKEN}) or oauth (client_id, "
        "client_secret and refresh_token, so expiring access tokens are renewed)"
    ]
    both = {"token": TOKEN, "oauth": OAUTH_KEYS}
    assert validate_adapter_options("ebay_vero", both) == ["set token or oauth, not both"]


def test_options_reject_unknown_keys() -> None:
    problems = validate_adapter_options("ebay_vero", {"token": TOKEN, "site": "EBAY_US"})

    assert problems == ["site: unknown key for the ebay_vero adapter"]


def test_options_reject_empty_tokens_and_reason_codes() -> None:
    problems = validate_adapter_options(
        "ebay_vero", {"token": " ", "reason_codes": {"counterfeit": ""}}
    )

    assert problems == [
        "token: must not be empty (set it from the environment, e.g. ${EBAY_VERO_TOKEN})",
        "reason_codes: the reason code for 'counterfeit' must be a code, got ''",
    ]


def test_options_reject_unknown_infringement_types() -> None:
    problems = validate_adapter_options(
        "ebay_vero", {"token": TOKEN, "reason_codes": {"fake": "9001"}}
    )

    assert len(problems) == 1
    assert problems[0].startswith("reason_codes: unknown infringement type 'fake'")


def test_options_defaults_and_the_token_stays_hidden() -> None:
    options = parse_adapter_options("ebay_vero", {"token": TOKEN})

    assert options.model_dump()["base_url"] == "https://api.ebay.com/commerce/vero/v2"
    assert options.model_dump()["timeout"] == 30.0
    assert TOKEN not in repr(options)
    assert TOKEN not in str(options)


def test_options_as_design_md_shows_them_are_valid() -> None:
    entry = {
        "base_url": "https://api.ebay.com/commerce/vero/v2",
        "token": TOKEN,
        "reason_codes": {"counterfeit": "…", "trademark": "…", "copyright": "…"},
    }

    assert validate_adapter_options("ebay_vero", entry) == []


async def test_numeric_reason_codes_from_yaml_are_sent_as_strings(
    http: aiohttp.ClientSession, fake: FakeEbayVero
) -> None:
    adapter = make_adapter(http, fake.base_url, reason_codes={"counterfeit": 9001})

    await adapter.submit(make_notice("110000000001"))

    assert fake.requests[0].json["reportItems"][0]["veroReasonCodeId"] == "9001"


# --- access tokens from a refresh token (oauth:) ---------------------------------------------------


@pytest.fixture
async def oauth_fake() -> AsyncIterator[FakeEbayVero]:
    async with FakeEbayVero(oauth=CLIENT) as server:
        yield server


def oauth_adapter(http: aiohttp.ClientSession, fake: FakeEbayVero, **keys: Any) -> EbayVeroAdapter:
    return make_adapter(
        http, fake.base_url, token=None, oauth={**OAUTH_KEYS, "token_url": fake.token_url, **keys}
    )


async def test_oauth_gets_an_access_token_first_and_keeps_it(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    receipt = await adapter.submit(make_notice("110000000001"))
    await adapter.check(make_notice("110000000001", reference=receipt.reference))

    assert oauth_fake.token_requests == [
        {
            "grant_type": "refresh_token",
            "refresh_token": CLIENT.refresh_token,
            "scope": "https://api.ebay.com/oauth/api_scope/commerce.vero",
        }
    ]
    [token] = oauth_fake.issued
    assert {r.headers["Authorization"] for r in oauth_fake.requests} == {f"Bearer {token}"}


async def test_oauth_fetches_one_token_for_many_requests_at_once(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    await asyncio.gather(*(adapter.submit(make_notice(f"11000000000{n}")) for n in range(8)))

    assert len(oauth_fake.token_requests) == 1
    assert len(oauth_fake.reports) == 8


async def test_oauth_renews_a_refused_token_and_sends_the_request_once_more(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    await adapter.submit(make_notice("110000000001"))
    oauth_fake.expire_tokens()  # revoked, or expired before eBay said it would

    receipt = await adapter.submit(make_notice("110000000002"))

    assert len(oauth_fake.issued) == 2
    assert [r.headers["Authorization"] for r in oauth_fake.requests] == [
        f"Bearer {oauth_fake.issued[0]}",
        f"Bearer {oauth_fake.issued[0]}",  # refused with 401: nothing was created
        f"Bearer {oauth_fake.issued[1]}",
    ]
    assert list(oauth_fake.reports) == ["5000000001", receipt.reference]


async def test_oauth_renews_a_token_shortly_before_it_expires(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    assert adapter.tokens is not None
    now = [1000.0]
    adapter.tokens.clock = lambda: now[0]
    await adapter.submit(make_notice("110000000001"))
    now[0] += 7200 - 400  # eBay said 2 h: still good
    await adapter.submit(make_notice("110000000002"))
    assert len(oauth_fake.issued) == 1
    now[0] += 200  # within the last five minutes: renewed before eBay would refuse it
    await adapter.submit(make_notice("110000000003"))
    assert len(oauth_fake.issued) == 2
    assert oauth_fake.requests[-1].headers["Authorization"] == f"Bearer {oauth_fake.issued[1]}"


async def test_a_refused_refresh_token_is_permanent_and_names_no_secret(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake, refresh_token="v^1.1#i^1#r^1#revoked-secret")

    with pytest.raises(PermanentError) as raised:
        await adapter.submit(make_notice("110000000001"))

    message = str(raised.value)
    assert "eBay refused the refresh token" in message
    assert "invalid_grant" in message and "create a new refresh token" in message
    for secret in ("revoked-secret", CLIENT.client_secret):
        assert secret not in message
    assert not oauth_fake.requests  # no report was attempted


async def test_a_wrong_client_secret_is_permanent(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake, client_secret="not-the-secret")

    with pytest.raises(PermanentError, match="invalid_client"):
        await adapter.submit(make_notice("110000000001"))


async def test_a_token_endpoint_outage_is_transient_and_the_next_try_gets_a_token(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    oauth_fake.token_error_next(503)

    with pytest.raises(TransientError, match="eBay answered 503 \\(getting an access token\\)"):
        await adapter.submit(make_notice("110000000001"))
    await adapter.submit(make_notice("110000000001"))
    assert len(oauth_fake.issued) == 1 and len(oauth_fake.reports) == 1


async def test_an_answer_without_an_access_token_is_final(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    oauth_fake.token_error_next(200, {"token_type": "User Access Token"})

    with pytest.raises(PermanentError, match="no access_token"):
        await adapter.submit(make_notice("110000000001"))


async def test_an_unreachable_token_endpoint_is_transient(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    adapter = oauth_adapter(http, oauth_fake, token_url=closed_port_url())

    with pytest.raises(TransientError, match="could not connect to eBay"):
        await adapter.submit(make_notice("110000000001"))


def test_oauth_options_have_ebays_defaults_and_hide_their_secrets() -> None:
    options = parse_adapter_options("ebay_vero", {"oauth": OAUTH_KEYS})
    oauth = options.model_dump()["oauth"]

    assert oauth["token_url"] == "https://api.ebay.com/identity/v1/oauth2/token"
    assert oauth["scope"] == "https://api.ebay.com/oauth/api_scope/commerce.vero"
    for secret in (CLIENT.client_secret, CLIENT.refresh_token):
        assert secret not in repr(options) and secret not in str(options)


def test_oauth_options_name_what_is_missing_or_empty() -> None:
    problems = validate_adapter_options(
        "ebay_vero",
        {"oauth": {"client_secret": " ", "refresh_token": "", "token_url": "ftp://x"}},
    )

    assert problems == [
        "oauth.token_url: expected an http(s) URL, got 'ftp://x'",
        "oauth.client_id: required by the ebay_vero adapter",
        "oauth.client_secret: must not be empty (set it from the environment, e.g. ${VAR})",
        "oauth.refresh_token: must not be empty (set it from the environment, e.g. ${VAR})",
    ]


async def test_oauth_without_a_refresh_token_uses_the_apps_own_credentials(
    http: aiohttp.ClientSession, oauth_fake: FakeEbayVero
) -> None:
    keys = {"client_id": CLIENT.client_id, "client_secret": CLIENT.client_secret}
    adapter = make_adapter(
        http, oauth_fake.base_url, token=None, oauth={**keys, "token_url": oauth_fake.token_url}
    )
    await adapter.submit(make_notice("110000000001"))

    assert oauth_fake.token_requests == [
        {
            "grant_type": "client_credentials",
            "scope": "https://api.ebay.com/oauth/api_scope/commerce.vero",
        }
    ]
    wrong = make_adapter(
        http,
        oauth_fake.base_url,
        token=None,
        oauth={**keys, "client_secret": "nope", "token_url": oauth_fake.token_url},
    )
    with pytest.raises(
        PermanentError, match=r"eBay refused the app's credentials .*invalid_client"
    ):
        await wrong.submit(make_notice("110000000002"))
