"""The mercadolibre adapter against a fake Brand Protection Program API on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakes.mercadolibre import FakeMercadoLibre, OAuthApp

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
from bot.delivery.adapters.mercadolibre import MercadoLibreAdapter

TOKEN = "APP_USR-1234567890-secret"
REASONS = {"counterfeit": "PPPI1", "trademark": "PPPI2", "copyright": "PPPI3"}
TRADEMARK = Right(
    id="acme-br-tm", kind="trademark", number="912345678", office="INPI", classes=[18]
)
HOLDER = RightsHolder(name="Acme Outdoor GmbH", email="brand-protection@acme.example")


def make_notice(
    *item_ids: str,
    infringement: str = "counterfeit",
    description: str = "Counterfeit Acme backpacks using our logo.",
    reference: str | None = None,
) -> OutgoingNotice:
    listings = tuple(
        NoticeListing(
            listing_id=200 + i,
            platform="mercadolibre",
            key=f"mercadolibre:{item_id}",
            url=f"https://articulo.mercadolibre.com.ar/{item_id[:3]}-{item_id[3:]}",
        )
        for i, item_id in enumerate(item_ids)
    )
    return OutgoingNotice(
        notice_id=8,
        case_ref="TD-43",
        platform="mercadolibre",
        channel="mercadolibre",
        idempotency_key="notice-8",
        brand="Acme",
        right=TRADEMARK,
        rights_holder=HOLDER,
        infringement=infringement,
        description=description,
        evidence=(),
        listings=listings,
        subject="Denuncia",
        text="…",
        reference=reference,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeMercadoLibre]:
    async with FakeMercadoLibre(token=TOKEN) as server:
        yield server


def make_adapter(
    http: aiohttp.ClientSession, base_url: str, **overrides: Any
) -> MercadoLibreAdapter:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "token": TOKEN,
        "report_reasons": REASONS,
        "timeout": 0.5,
    }
    settings.update(overrides)
    options = parse_adapter_options("mercadolibre", settings)
    return MercadoLibreAdapter(options, platform="mercadolibre", http=http)


@pytest.fixture
def adapter(http: aiohttp.ClientSession, fake: FakeMercadoLibre) -> MercadoLibreAdapter:
    return make_adapter(http, fake.base_url)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- what the adapter declares --------------------------------------------------------------------


def test_adapter_declares_one_listing_per_non_idempotent_denounce() -> None:
    assert adapter_class("mercadolibre") is MercadoLibreAdapter
    assert MercadoLibreAdapter.platforms == ("mercadolibre",)
    assert MercadoLibreAdapter.max_batch == 1
    assert MercadoLibreAdapter.idempotent is False
    assert MercadoLibreAdapter.can_check is True


# --- submit ---------------------------------------------------------------------------------------


async def test_submit_denounces_the_item_with_reason_and_comment(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))

    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert (sent.method, sent.path) == ("POST", "/moderations/pppi/denounces/items/MLA123456789")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert set(sent.json) == {"report_reason_id", "comment"}
    assert sent.json["report_reason_id"] == "PPPI1"
    assert "Counterfeit Acme backpacks" in sent.json["comment"]
    assert "trademark 912345678 (INPI)" in sent.json["comment"]
    assert list(fake.denounces) == [receipt.reference]


async def test_submit_receipt_puts_the_listing_in_review(adapter: MercadoLibreAdapter) -> None:
    receipt = await adapter.submit(make_notice("MLB987654321"))

    assert [(d.listing_id, d.status, d.reference) for d in receipt.decisions] == [
        (200, "in_review", "MLB987654321")
    ]


async def test_submit_uses_the_reason_of_the_notices_infringement(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    await adapter.submit(make_notice("MLA123456789", infringement="trademark"))

    assert fake.requests[0].json["report_reason_id"] == "PPPI2"


async def test_long_comment_is_clipped(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    await adapter.submit(make_notice("MLA123456789", description="Falso. " * 500))

    assert len(fake.requests[0].json["comment"]) <= 1000


async def test_infringement_without_a_report_reason_is_refused_before_sending(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    with pytest.raises(PermanentError, match=r"report reason.*'patent'"):
        await adapter.submit(make_notice("MLA123456789", infringement="patent"))

    assert fake.requests == []


async def test_notice_with_several_listings_is_refused_before_sending(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    with pytest.raises(PermanentError, match="exactly one listing"):
        await adapter.submit(make_notice("MLA1", "MLA2"))

    assert fake.requests == []


async def test_key_that_is_not_a_mercadolibre_item_is_refused_before_sending(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    with pytest.raises(PermanentError, match="not a Mercado Libre item"):
        await adapter.submit(make_notice("../../users/me"))

    assert fake.requests == []


# --- submit failures ------------------------------------------------------------------------------


async def test_server_error_is_transient(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.fail_next(status=503)

    with pytest.raises(TransientError, match="503"):
        await adapter.submit(make_notice("MLA123456789"))

    assert fake.denounces == {}


async def test_rate_limit_is_transient_and_honours_retry_after(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.rate_limit_next(retry_after="12")

    with pytest.raises(TransientError) as caught:
        await adapter.submit(make_notice("MLA123456789"))

    assert caught.value.retry_after == 12.0


async def test_refused_token_is_permanent_with_the_platforms_message(
    http: aiohttp.ClientSession, fake: FakeMercadoLibre
) -> None:
    adapter = make_adapter(http, fake.base_url, token="APP_USR-expired")

    with pytest.raises(PermanentError) as caught:
        await adapter.submit(make_notice("MLA123456789"))

    assert "401" in str(caught.value)
    assert "invalid access token" in str(caught.value)
    assert "APP_USR-expired" not in str(caught.value)


async def test_validation_error_shows_message_and_causes(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.error_next(
        status=400,
        message="Item already denounced",
        cause=[{"code": "item.denounced", "message": "There is an open denounce for MLA123456789"}],
    )

    with pytest.raises(PermanentError) as caught:
        await adapter.submit(make_notice("MLA123456789"))

    assert "Item already denounced" in str(caught.value)
    assert "[item.denounced] There is an open denounce for MLA123456789" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "fallback"),
    [(403, "Brand Protection Program member"), (404, "not found"), (409, "no reason given")],
)
async def test_refusal_without_a_body_has_a_clear_fallback(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre, status: int, fallback: str
) -> None:
    fake.error_next(status=status)

    with pytest.raises(PermanentError, match=fallback):
        await adapter.submit(make_notice("MLA123456789"))


async def test_timeout_after_sending_is_ambiguous_and_the_denounce_did_arrive(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.slow_next(delay=2.0)

    with pytest.raises(AmbiguousError, match="may have been created"):
        await adapter.submit(make_notice("MLA123456789"))

    assert len(fake.denounces) == 1


async def test_connection_cut_after_sending_is_ambiguous(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.drop_next()

    with pytest.raises(AmbiguousError):
        await adapter.submit(make_notice("MLA123456789"))

    assert len(fake.denounces) == 1


async def test_unreachable_server_is_transient(http: aiohttp.ClientSession) -> None:
    adapter = make_adapter(http, closed_port_url())

    with pytest.raises(TransientError, match="could not connect"):
        await adapter.submit(make_notice("MLA123456789"))


async def test_malformed_success_body_is_ambiguous(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    fake.malformed_next()

    with pytest.raises(AmbiguousError, match="no denounce id"):
        await adapter.submit(make_notice("MLA123456789"))

    assert len(fake.denounces) == 1


async def test_find_existing_asks_a_person(adapter: MercadoLibreAdapter) -> None:
    with pytest.raises(AmbiguousError, match="mercadolibre:MLA123456789"):
        await adapter.find_existing(make_notice("MLA123456789"))


# --- check ----------------------------------------------------------------------------------------


async def test_check_polls_the_denounce(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))

    await adapter.check(make_notice("MLA123456789", reference=receipt.reference))

    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("GET", f"/moderations/pppi/denounces/{receipt.reference}")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("CREATED", None, ("in_review", None)),
        ("PENDING_MODERATION", None, ("in_review", None)),
        ("WAITING_DOCUMENTATION", None, ("in_review", None)),
        ("DOCUMENTATION_PRESENTED", None, ("in_review", None)),
        (
            "WAITING_MEMBER_RESPONSE",
            "The seller sent an invoice.",
            ("needs_info", "The seller sent an invoice."),
        ),
        ("DOCUMENTATION_NOT_PRESENTED", None, ("removed", None)),
        ("DOCUMENTATION_NOT_APPROVED", None, ("removed", None)),
        ("ITEM_REMOVED", None, ("removed", None)),
        (
            "DOCUMENTATION_APPROVED",
            "The seller is an authorised reseller.",
            ("rejected", "The seller is an authorised reseller."),
        ),
        ("REJECTED", None, ("rejected", "Mercado Libre reports REJECTED")),
        ("SOMETHING_NEW", None, ("in_review", None)),
    ],
)
async def test_check_maps_the_denounce_status(
    adapter: MercadoLibreAdapter,
    fake: FakeMercadoLibre,
    status: str,
    detail: str | None,
    expected: tuple[str, str | None],
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))
    assert receipt.reference is not None
    fake.decide(receipt.reference, status, detail)

    decisions = await adapter.check(make_notice("MLA123456789", reference=receipt.reference))

    assert [(d.listing_id, d.status, d.reason, d.reference) for d in decisions] == [
        (200, *expected, "MLA123456789")
    ]


async def test_check_timeout_is_transient(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))
    fake.slow_next(delay=2.0)

    with pytest.raises(TransientError, match="did not answer"):
        await adapter.check(make_notice("MLA123456789", reference=receipt.reference))


async def test_check_malformed_body_is_an_unreadable_answer_not_a_retry(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))
    fake.malformed_next(status=200)

    with pytest.raises(UnreadableAnswer, match=r"^Mercado Libre answered in a form the bot cannot"):
        await adapter.check(make_notice("MLA123456789", reference=receipt.reference))


async def test_check_server_error_is_transient(
    adapter: MercadoLibreAdapter, fake: FakeMercadoLibre
) -> None:
    receipt = await adapter.submit(make_notice("MLA123456789"))
    fake.fail_next(status=500)

    with pytest.raises(TransientError):
        await adapter.check(make_notice("MLA123456789", reference=receipt.reference))


# --- options --------------------------------------------------------------------------------------


def test_options_need_a_token_or_oauth() -> None:
    assert validate_adapter_options(
        "mercadolibre", {"base_url": "https://api.mercadolibre.com"}
    ) == [
        "set token (an access token, e.g. ${MELI_TOKEN}) or oauth (client_id, client_secret and "
        "refresh_token, so expiring access tokens are renewed)"
    ]
    assert validate_adapter_options(
        "mercadolibre", {"oauth": {"client_id": "1", "client_secret": "s"}}
    ) == ["oauth.refresh_token: required by the mercadolibre adapter"]


def test_options_reject_unknown_keys() -> None:
    problems = validate_adapter_options("mercadolibre", {"token": TOKEN, "site_id": "MLA"})

    assert problems == ["site_id: unknown key for the mercadolibre adapter"]


def test_options_reject_empty_report_reasons() -> None:
    problems = validate_adapter_options(
        "mercadolibre", {"token": TOKEN, "report_reasons": {"trademark": " "}}
    )

    assert problems == ["report_reasons: the report reason for 'trademark' must be an id, got ' '"]


def test_options_as_design_md_shows_them_are_valid_and_hide_the_token() -> None:
    entry = {"base_url": "https://api.mercadolibre.com", "token": TOKEN}
    assert validate_adapter_options("mercadolibre", entry) == []
    options = parse_adapter_options("mercadolibre", {"token": TOKEN})

    assert options.model_dump()["base_url"] == "https://api.mercadolibre.com"
    assert TOKEN not in repr(options)


# --- access tokens renewed with a refresh token that works once (oauth:) ---------------------------


def oauth_app() -> OAuthApp:
    return OAuthApp(
        client_id="1234567890123456",
        client_secret="meli-client-secret-9x8y",
        refresh_token="TG-first-refresh-token-7q6w",
    )


@pytest.fixture
async def oauth_fake() -> AsyncIterator[FakeMercadoLibre]:
    async with FakeMercadoLibre(oauth=oauth_app()) as server:
        yield server


def oauth_adapter(http: aiohttp.ClientSession, fake: FakeMercadoLibre) -> MercadoLibreAdapter:
    app = oauth_app()
    keys = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "refresh_token": app.refresh_token,
        "token_url": fake.token_url,
    }
    return make_adapter(http, fake.base_url, token=None, oauth=keys)


async def test_oauth_sends_the_client_in_the_form_and_spends_each_refresh_token_once(
    http: aiohttp.ClientSession, oauth_fake: FakeMercadoLibre
) -> None:
    adapter = oauth_adapter(http, oauth_fake)
    assert adapter.tokens is not None
    now = [1_000_000.0]
    adapter.tokens.clock = lambda: now[0]
    await adapter.submit(make_notice("MLA1234567890"))
    now[0] += 6 * 3600  # Mercado Libre's 6 hours are up
    await adapter.submit(make_notice("MLA1234567891"))
    oauth_fake.expire_tokens()  # and one refused before its time
    await adapter.submit(make_notice("MLA1234567892"))

    forms = oauth_fake.token_requests
    assert [form["refresh_token"] for form in forms] == [
        "TG-first-refresh-token-7q6w",
        "TG-fake-refresh-1",  # each refresh uses the one the last handed out
        "TG-fake-refresh-2",
    ]
    assert {(form["grant_type"], form["client_id"], form["client_secret"]) for form in forms} == {
        ("refresh_token", "1234567890123456", "meli-client-secret-9x8y")
    }
    assert [r.headers["Authorization"] for r in oauth_fake.requests] == [
        "Bearer APP_USR-fake-access-1",
        "Bearer APP_USR-fake-access-2",
        "Bearer APP_USR-fake-access-2",  # refused (401): nothing was created
        "Bearer APP_USR-fake-access-3",
    ]
    assert len(oauth_fake.denounces) == 3


async def test_oauth_a_spent_refresh_token_is_permanent_and_names_no_secret(
    http: aiohttp.ClientSession, oauth_fake: FakeMercadoLibre
) -> None:
    assert oauth_fake.oauth is not None
    oauth_fake.oauth.refresh_token = "TG-someone-else-used-it"
    adapter = oauth_adapter(http, oauth_fake)

    with pytest.raises(PermanentError) as raised:
        await adapter.submit(make_notice("MLA1234567890"))

    message = str(raised.value)
    assert message.startswith("Mercado Libre refused the refresh token")
    assert "invalid_grant (Error validating grant.)" in message
    assert "TG-first-refresh-token-7q6w" not in message
    assert "meli-client-secret-9x8y" not in message
