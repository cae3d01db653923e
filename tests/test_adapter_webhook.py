"""The webhook adapter against the fake receiver (tests/fakes/webhook.py) on loopback."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakes.webhook import FakeWebhookReceiver
from pydantic import ValidationError

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import (
    AmbiguousError,
    ListingDecision,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
    TransientError,
)
from bot.delivery.adapters.webhook import WebhookAdapter, WebhookOptions, sign, verify_signature
from bot.delivery.notices import build_notice

SECRET = "whsec-0123456789abcdef"
HOLDER = RightsHolder(
    name="Acme Outdoor GmbH",
    email="brand-protection@acme.example",
    address="Hauptstr. 1, 10115 Berlin, DE",
    phone="+49 30 1234567",
    signatory="Jane Roe",
)
RIGHT = Right(id="acme-eu-tm", kind="trademark", number="018123456", office="EUIPO", classes=[25])
LISTINGS = [
    NoticeListing(11, "ebay", "ebay:123456789012", "https://www.ebay.de/itm/123456789012"),
    NoticeListing(
        12, "ebay", "ebay:223456789012", "https://www.ebay.de/itm/223456789012", seller="fakes4u"
    ),
]


def make_notice(**overrides: Any) -> OutgoingNotice:
    values: dict[str, Any] = {
        "notice_id": 5,
        "case_ref": "TD-7",
        "platform": "ebay",
        "channel": "vendor",
        "idempotency_key": "td-7-vendor-1",
        "brand": "Acme",
        "right": RIGHT,
        "rights_holder": HOLDER,
        "infringement": "counterfeit",
        "description": "Counterfeit Acme jackets; the labels are misprinted fakes.",
        "evidence": ["https://acme.example/evidence/7.pdf"],
        "listings": LISTINGS,
    }
    values.update(overrides)
    return build_notice(**values)


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    async with FakeWebhookReceiver(secret=SECRET) as fake:
        yield fake


def adapter(http: aiohttp.ClientSession, base_url: str, **options: Any) -> WebhookAdapter:
    values = {"base_url": base_url, "secret": SECRET, **options}
    return WebhookAdapter(WebhookOptions.model_validate(values), platform="ebay", http=http)


@pytest.fixture
def webhook(http: aiohttp.ClientSession, receiver: FakeWebhookReceiver) -> WebhookAdapter:
    return adapter(http, receiver.base_url)


# --- submit ------------------------------------------------------------------------------------


async def test_submit_files_one_signed_notice_and_returns_its_reference(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receipt = await webhook.submit(make_notice())

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/notices")
    assert request.signature_ok
    assert request.headers["Idempotency-Key"] == "td-7-vendor-1"
    assert request.headers["X-Takedown-Signature"].startswith("v1=")
    assert list(receiver.notices) == [receipt.reference]


async def test_submitted_json_carries_the_whole_notice(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    notice = make_notice()

    await webhook.submit(notice)

    body = receiver.requests[0].json
    assert body["notice_id"] == 5
    assert body["idempotency_key"] == "td-7-vendor-1"
    assert body["case"] == "TD-7"
    assert (body["platform"], body["brand"], body["infringement"]) == (
        "ebay",
        "Acme",
        "counterfeit",
    )
    assert body["right"]["number"] == "018123456" and body["right"]["classes"] == [25]
    assert body["right"]["owner"] == "Acme Outdoor GmbH"
    assert body["rights_holder"]["email"] == "brand-protection@acme.example"
    assert body["listings"] == [
        {"listing_id": 11, "key": "ebay:123456789012", "url": LISTINGS[0].url, "seller": None},
        {"listing_id": 12, "key": "ebay:223456789012", "url": LISTINGS[1].url, "seller": "fakes4u"},
    ]
    assert body["evidence"] == ["https://acme.example/evidence/7.pdf"]
    assert (body["subject"], body["text"], body["eu"]) == (notice.subject, notice.text, True)
    assert body["sent_at"].endswith("+00:00")


async def test_listing_statuses_in_the_answer_become_decisions(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.decide("ebay:223456789012", "removed", "already down")

    receipt = await webhook.submit(make_notice())

    assert receipt.decisions == (
        ListingDecision(11, "in_review"),
        ListingDecision(12, "removed", reason="already down"),
    )


async def test_resending_the_same_key_gets_the_same_reference_and_no_second_notice(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    first = await webhook.submit(make_notice())
    second = await webhook.submit(make_notice())

    assert first.reference == second.reference
    assert len(receiver.notices) == 1
    assert receiver.duplicates == ["td-7-vendor-1"]


async def test_extra_static_headers_are_sent(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    sender = adapter(http, receiver.base_url, headers={"X-Tenant": "acme"})

    await sender.submit(make_notice())

    assert receiver.requests[0].headers["X-Tenant"] == "acme"


# --- check -------------------------------------------------------------------------------------


async def test_check_reads_the_decisions_by_reference(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receipt = await webhook.submit(make_notice())
    receiver.decide("ebay:123456789012", "removed")
    receiver.decide("ebay:223456789012", "needs_info", "send the registration certificate")

    decisions = await webhook.check(dataclasses.replace(make_notice(), reference=receipt.reference))

    assert decisions == [
        ListingDecision(11, "removed"),
        ListingDecision(12, "needs_info", reason="send the registration certificate"),
    ]
    status_query = receiver.requests[-1]
    assert (status_query.method, status_query.path) == (
        "GET",
        f"/hooks/notices/{receipt.reference}",
    )
    assert status_query.signature_ok and status_query.body == b""


async def test_check_of_an_unknown_reference_is_permanent(webhook: WebhookAdapter) -> None:
    notice = dataclasses.replace(make_notice(), reference="WH-404")

    with pytest.raises(PermanentError, match="404: no such notice"):
        await webhook.check(notice)


async def test_unknown_statuses_and_listings_in_an_answer_are_ignored(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receipt = await webhook.submit(make_notice())
    receiver.decide("ebay:123456789012", "vanished")

    decisions = await webhook.check(dataclasses.replace(make_notice(), reference=receipt.reference))

    assert decisions == [ListingDecision(12, "in_review")]


async def test_find_existing_says_resend(webhook: WebhookAdapter) -> None:
    assert await webhook.find_existing(make_notice()) is None


# --- failures ----------------------------------------------------------------------------------


async def test_server_error_is_transient(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.fail_next(status=503)

    with pytest.raises(TransientError, match="503"):
        await webhook.submit(make_notice())


async def test_rate_limit_is_transient_with_retry_after(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.rate_limit_next(retry_after="7")

    with pytest.raises(TransientError) as error:
        await webhook.submit(make_notice())

    assert error.value.retry_after == 7.0


async def test_validation_error_is_permanent_with_the_receivers_message(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.error_next(status=400, error="listing 12 is outside our mandate")

    with pytest.raises(PermanentError, match="400: listing 12 is outside our mandate"):
        await webhook.submit(make_notice())


async def test_receiver_message_field_is_shown_when_there_is_no_error_field(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.error_next(status=422, message="brand Acme is not under contract")

    with pytest.raises(PermanentError, match="brand Acme is not under contract"):
        await webhook.submit(make_notice())


async def test_wrong_secret_is_refused_permanently(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    sender = adapter(http, receiver.base_url, secret="another-secret-0000")

    with pytest.raises(PermanentError, match="401: invalid signature"):
        await sender.submit(make_notice())

    assert receiver.notices == {}


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(TransientError, match="could not reach"):
        await adapter(http, f"http://127.0.0.1:{port}").submit(make_notice())


async def test_timeout_is_transient_because_a_resend_is_deduplicated(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    sender = adapter(http, receiver.base_url, timeout=0.3)
    receiver.slow_next(delay=1.0)

    with pytest.raises(TransientError, match="did not answer"):
        await sender.submit(make_notice())
    receipt = await sender.submit(make_notice())

    assert list(receiver.notices) == [receipt.reference]
    assert receiver.duplicates == ["td-7-vendor-1"]


async def test_dropped_connection_is_transient(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.drop_next()

    with pytest.raises(TransientError):
        await webhook.submit(make_notice())


async def test_answer_that_is_not_json_leaves_the_outcome_unknown(
    webhook: WebhookAdapter, receiver: FakeWebhookReceiver
) -> None:
    receiver.malformed_next()

    # Ambiguous on an idempotent channel: the delivery layer sends it again with the same key.
    with pytest.raises(AmbiguousError, match="not JSON"):
        await webhook.submit(make_notice())


# --- signatures --------------------------------------------------------------------------------


def test_signature_verifies_for_the_same_secret_body_and_timestamp() -> None:
    body = json.dumps({"a": 1}).encode()

    header = sign(SECRET, 1_700_000_000, body)

    assert verify_signature(SECRET, "1700000000", body, header, now=1_700_000_100)


def test_signature_fails_for_a_changed_body() -> None:
    header = sign(SECRET, 1_700_000_000, b'{"a": 1}')

    assert not verify_signature(SECRET, 1_700_000_000, b'{"a": 2}', header, now=1_700_000_000)


def test_signature_fails_for_a_stale_timestamp() -> None:
    header = sign(SECRET, 1_700_000_000, b"{}")

    assert not verify_signature(SECRET, 1_700_000_000, b"{}", header, now=1_700_000_301)


def test_signature_fails_for_another_secret_or_a_missing_header() -> None:
    header = sign("another-secret-0000", 1_700_000_000, b"{}")

    assert not verify_signature(SECRET, 1_700_000_000, b"{}", header, now=1_700_000_000)
    assert not verify_signature(SECRET, 1_700_000_000, b"{}", None, now=1_700_000_000)
    assert not verify_signature(SECRET, "yesterday", b"{}", header, now=1_700_000_000)


def test_any_of_several_signatures_may_match_while_secrets_rotate() -> None:
    header = (
        sign("old-secret-000000", 1_700_000_000, b"{}") + "," + sign(SECRET, 1_700_000_000, b"{}")
    )

    assert verify_signature(SECRET, 1_700_000_000, b"{}", header, now=1_700_000_000)


# --- options and registry ----------------------------------------------------------------------


def test_registry_finds_the_webhook_adapter() -> None:
    cls = adapter_class("webhook")

    assert cls is WebhookAdapter
    assert (cls.max_batch, cls.idempotent, cls.can_check) == (500, True, True)


def test_options_defaults_and_secret_hidden() -> None:
    options = WebhookOptions.model_validate(
        {"base_url": "https://v.example/api/", "secret": SECRET}
    )

    assert (options.base_url, options.timeout, options.headers) == ("https://v.example/api", 15, {})
    assert SECRET not in repr(options)


@pytest.mark.parametrize(
    "values",
    [
        {"secret": SECRET},
        {"base_url": "https://v.example"},
        {"base_url": "ftp://v.example", "secret": SECRET},
        {"base_url": "https://v.example", "secret": "short"},
        {
            "base_url": "https://v.example",
            "secret": SECRET,
            "headers": {"X-Takedown-Signature": "x"},
        },
        {"base_url": "https://v.example", "secret": SECRET, "headers": {"X-A": "1\r\nX-B: 2"}},
    ],
)
def test_invalid_options_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WebhookOptions.model_validate(values)
