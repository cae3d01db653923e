"""Webhook signature v2 (docs/webhook.md, Signatures): it covers the method, the path with its
query, the timestamp and the body, so a signature made for one request is worthless for another.
v1 (timestamp and body only) is still sent beside it during the deprecation period.

The fake receiver (tests/fakes/webhook.py) checks v2 on every request; the docs' own receiver code
is run against what the adapter really sends."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes.webhook import FakeWebhookReceiver
from test_adapter_webhook import make_notice

from bot.delivery.adapters.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookAdapter,
    WebhookOptions,
    sign,
    sign_v2,
    verify_request,
)

SECRET = "whsec-v2-0123456789abcdef"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "webhook.md"
NOW = 1_800_000_000


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    async with FakeWebhookReceiver(secret=SECRET) as fake:
        yield fake


def make_adapter(http: aiohttp.ClientSession, base_url: str, **options: Any) -> WebhookAdapter:
    values = {"base_url": base_url, "secret": SECRET, **options}
    return WebhookAdapter(WebhookOptions.model_validate(values), platform="ebay", http=http)


async def _submit_and_check(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver, **options: Any
) -> None:
    adapter = make_adapter(http, receiver.base_url, **options)
    receipt = await adapter.submit(make_notice())
    await adapter.check(dataclasses.replace(make_notice(), reference=receipt.reference))


# --- through the adapter and the fake receiver ----------------------------------------------------


async def test_the_receiver_verifies_v2_on_every_request(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    await _submit_and_check(http, receiver)

    assert [(r.method, r.signature_ok) for r in receiver.requests] == [
        ("POST", True),
        ("GET", True),
    ]
    for request in receiver.requests:
        versions = [part.split("=")[0] for part in request.headers[SIGNATURE_HEADER].split(",")]
        assert sorted(versions) == ["v1", "v2"]  # v1 beside it during the deprecation period
        assert request.signature_v1_ok


async def test_a_get_signature_replayed_against_another_path_fails_v2(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    await _submit_and_check(http, receiver)
    other = make_notice(idempotency_key="td-8-vendor-1", case_ref="TD-8")
    second = await make_adapter(http, receiver.base_url).submit(other)
    genuine = receiver.requests[1]
    assert genuine.method == "GET" and genuine.signature_ok
    replayed = {name: genuine.headers[name] for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)}

    async with http.get(
        f"{receiver.base_url}/notices/{second.reference}", headers=replayed
    ) as response:
        assert response.status == 401
        assert (await response.json()) == {"error": "invalid signature"}
    assert not receiver.requests[-1].signature_ok
    assert receiver.requests[-1].signature_v1_ok  # what v1 alone would have let through


async def test_v1_can_be_switched_off_once_the_receiver_checks_v2(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    await _submit_and_check(http, receiver, signature_v1=False)

    for request in receiver.requests:
        assert request.signature_ok
        assert request.headers[SIGNATURE_HEADER].startswith("v2=")
        assert "v1=" not in request.headers[SIGNATURE_HEADER]


async def test_a_reference_with_reserved_characters_is_signed_as_sent(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    adapter = make_adapter(http, receiver.base_url)
    notice = dataclasses.replace(make_notice(), reference="VND/2026 ~é?x=1")

    with pytest.raises(Exception, match="404"):  # no such notice: but the signature held
        await adapter.check(notice)

    [request] = receiver.requests
    assert request.signature_ok, request.target


# --- the signature itself -------------------------------------------------------------------------


def _v2(method: str, target: str, body: bytes = b"") -> str:
    return sign_v2(SECRET, method=method, target=target, timestamp=NOW, body=body)


def _verifies(header: str, method: str, target: str, body: bytes = b"", **kw: Any) -> bool:
    return verify_request(
        SECRET,
        method=method,
        target=target,
        timestamp=str(NOW),
        body=body,
        header=header,
        now=NOW,
        **kw,
    )


def test_v2_covers_the_method_the_path_the_query_and_the_body() -> None:
    header = _v2("POST", "/api/notices?tenant=acme", b"{}")

    assert _verifies(header, "POST", "/api/notices?tenant=acme", b"{}")
    assert not _verifies(header, "PUT", "/api/notices?tenant=acme", b"{}")
    assert not _verifies(header, "POST", "/api/notices?tenant=other", b"{}")
    assert not _verifies(header, "POST", "/api/notices", b"{}")
    assert not _verifies(header, "POST", "/api/notices?tenant=acme", b'{"a": 1}')


def test_v2_refuses_a_stale_timestamp() -> None:
    header = _v2("GET", "/api/notices/VND-1")

    assert not verify_request(
        SECRET,
        method="GET",
        target="/api/notices/VND-1",
        timestamp=str(NOW),
        body=b"",
        header=header,
        now=NOW + 301,
    )


def test_v1_counts_only_where_the_receiver_still_accepts_it() -> None:
    v1_only = sign(SECRET, NOW, b"")

    assert not _verifies(v1_only, "GET", "/api/notices/VND-1")
    assert _verifies(v1_only, "GET", "/api/notices/VND-1", accept_v1=True)


# --- the receiver code in docs/webhook.md ----------------------------------------------------------


def _docs_function(name: str) -> Callable[..., bool]:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    [code] = [block for block in blocks if f"def {name}(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 (our own documentation)
    function: Callable[..., bool] = namespace[name]
    return function


async def test_the_documented_receiver_code_accepts_the_adapters_requests_and_not_a_replay(
    http: aiohttp.ClientSession, receiver: FakeWebhookReceiver
) -> None:
    genuine = _docs_function("takedown_request_is_genuine")
    await _submit_and_check(http, receiver)
    post, get = receiver.requests

    for request in (post, get):
        assert genuine(SECRET, request.method, request.target, request.headers, request.body)
    assert not genuine(SECRET, "GET", "/hooks/notices/WH-999", get.headers, b"")
    assert not genuine(SECRET, "GET", get.target, get.headers, b"x")
