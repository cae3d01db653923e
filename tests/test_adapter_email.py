"""The email adapter against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes.smtp import FakeSmtp
from pydantic import ValidationError

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import (
    AmbiguousError,
    NoticeListing,
    OutgoingNotice,
    PermanentError,
    TransientError,
)
from bot.delivery.adapters.email import EmailAdapter, EmailOptions, message_id
from bot.delivery.notices import build_notice

HOLDER = RightsHolder(
    name="Acme Outdoor GmbH",
    email="brand-protection@acme.example",
    address="Hauptstr. 1, 10115 Berlin, DE",
    phone="+49 30 1234567",
    signatory="Jane Roe, Head of Brand Protection",
)
RIGHT = Right(id="acme-eu-tm", kind="trademark", number="018123456", office="EUIPO", classes=[25])
LISTINGS = [
    NoticeListing(1, "etsy", "etsy:1234567890", "https://www.etsy.com/listing/1234567890"),
    NoticeListing(2, "etsy", "etsy:1234567891", "https://www.etsy.com/listing/1234567891"),
]


def make_notice(**overrides: Any) -> OutgoingNotice:
    values: dict[str, Any] = {
        "notice_id": 9,
        "case_ref": "TD-42",
        "platform": "etsy",
        "channel": "etsy",
        "idempotency_key": "td-42-etsy-1",
        "brand": "Acme",
        "right": RIGHT,
        "rights_holder": HOLDER,
        "infringement": "counterfeit",
        "description": "Counterfeit Acme jackets: the logo and the care labels are fakes.",
        "evidence": ["https://acme.example/evidence/42.pdf"],
        "listings": LISTINGS,
    }
    values.update(overrides)
    return build_notice(**values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    with FakeSmtp(accounts={"notices": "s3cret!"}) as server:
        yield server


def adapter(http: aiohttp.ClientSession, port: int, **options: Any) -> EmailAdapter:
    values = {
        "to": "ip-notices@platform.example",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        **options,
    }
    return EmailAdapter(EmailOptions.model_validate(values), platform="etsy", http=http)


# --- delivery --------------------------------------------------------------------------------


async def test_notice_is_delivered_once_with_its_headers_and_body(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    notice = make_notice()

    receipt = await adapter(http, smtp_server.port).submit(notice)

    [got] = smtp_server.received
    assert got.mail_from == "brand-protection@acme.example"
    assert got.rcpt_tos == ["ip-notices@platform.example"]
    assert got.message["Subject"] == notice.subject
    assert got.message["From"] == "Acme Outdoor GmbH <brand-protection@acme.example>"
    assert got.message["To"] == "ip-notices@platform.example"
    assert got.message["Date"] is not None
    assert got.message["Message-ID"] == "<td-42-etsy-1@takedown-bot>"
    assert got.message["X-Takedown-Case"] == "TD-42"
    body = got.message.get_content()
    assert "https://www.etsy.com/listing/1234567890" in body
    assert "Registration number: 018123456" in body
    assert "/Jane Roe, Head of Brand Protection/" in body
    assert receipt.reference == "<td-42-etsy-1@takedown-bot>"


async def test_message_id_is_the_same_for_every_attempt_at_a_notice(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    sender = adapter(http, smtp_server.port)

    first = await sender.submit(make_notice())
    second = await sender.submit(make_notice())

    ids = [got.message["Message-ID"] for got in smtp_server.received]
    assert ids == [first.reference, second.reference] == ["<td-42-etsy-1@takedown-bot>"] * 2


def test_message_id_makes_an_unsafe_key_safe_and_distinct() -> None:
    first = message_id("case 42/<ebay>@x")
    second = message_id("case 42/[ebay]@x")

    assert first != second
    assert first.startswith("<case-42/-ebay-") and first.endswith("@takedown-bot>")
    assert " " not in first and first.count("@") == 1


async def test_cc_and_from_address_and_reply_to(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    sender = adapter(
        http,
        smtp_server.port,
        cc=["legal@acme.example"],
        from_address="notices@mailer.acme.example",
    )

    await sender.submit(make_notice())

    [got] = smtp_server.received
    assert got.mail_from == "notices@mailer.acme.example"
    assert got.rcpt_tos == ["ip-notices@platform.example", "legal@acme.example"]
    assert got.message["Cc"] == "legal@acme.example"
    assert got.message["From"] == "Acme Outdoor GmbH <notices@mailer.acme.example>"
    assert got.message["Reply-To"] == "brand-protection@acme.example"


async def test_non_ascii_text_arrives_intact(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    holder = HOLDER.model_copy(update={"name": "Müller Outdoor GmbH"})
    notice = make_notice(rights_holder=holder, description="Fälschungen der Jacke „Größe L“ — 100%")

    await adapter(http, smtp_server.port).submit(notice)

    [got] = smtp_server.received
    assert got.message["From"].addresses[0].display_name == "Müller Outdoor GmbH"
    assert "Fälschungen der Jacke „Größe L“ — 100%" in got.message.get_content()


async def test_login_with_username_and_password(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    sender = adapter(http, smtp_server.port, username="notices", password="s3cret!")

    await sender.submit(make_notice())

    [got] = smtp_server.received
    assert got.login == b"notices"


async def test_wrong_password_is_permanent_with_the_servers_message(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    sender = adapter(http, smtp_server.port, username="notices", password="wrong")

    with pytest.raises(PermanentError, match="535"):
        await sender.submit(make_notice())

    assert smtp_server.received == []


def test_password_never_shows_in_the_options() -> None:
    options = EmailOptions(to="a@b.example", host="h", username="u", password="s3cret!")

    assert "s3cret!" not in repr(options) and "s3cret!" not in str(options.model_dump())


# --- refusals and failures ---------------------------------------------------------------------


async def test_recipient_rejected_with_550_is_permanent(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.rcpt_replies["ip-notices@platform.example"] = (
        "550 5.1.1 <ip-notices@platform.example>: mailbox unavailable"
    )

    with pytest.raises(PermanentError, match=r"550 5\.1\.1 .*mailbox unavailable"):
        await adapter(http, smtp_server.port).submit(make_notice())

    assert smtp_server.received == []


async def test_cc_rejected_still_delivers_to_the_main_recipient(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.rcpt_replies["gone@acme.example"] = "550 5.1.1 no such user"

    receipt = await adapter(http, smtp_server.port, cc=["gone@acme.example"]).submit(make_notice())

    [got] = smtp_server.received
    assert got.rcpt_tos == ["ip-notices@platform.example"]
    assert receipt.detail["refused"] == {"gone@acme.example": "550 5.1.1 no such user"}


async def test_greylisting_451_is_transient(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.rcpt_replies["ip-notices@platform.example"] = "451 4.7.1 greylisted, retry"

    with pytest.raises(TransientError, match="451"):
        await adapter(http, smtp_server.port).submit(make_notice())


async def test_content_refused_with_554_is_permanent(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.data_reply = "554 5.7.1 message rejected as spam"

    with pytest.raises(PermanentError, match="rejected as spam"):
        await adapter(http, smtp_server.port).submit(make_notice())


async def test_content_deferred_with_452_is_transient(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.data_reply = "452 4.3.1 insufficient system storage"

    with pytest.raises(TransientError, match="452"):
        await adapter(http, smtp_server.port).submit(make_notice())


async def test_connection_refused_is_transient(http: aiohttp.ClientSession) -> None:
    with pytest.raises(TransientError, match="could not reach the mail server"):
        await adapter(http, free_port()).submit(make_notice())


async def test_unknown_host_is_transient(http: aiohttp.ClientSession) -> None:
    sender = adapter(http, 25, host="smtp.does-not-exist.invalid", timeout=5)

    with pytest.raises(TransientError):
        await sender.submit(make_notice())


async def test_timeout_after_the_content_was_sent_is_ambiguous(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    smtp_server.data_delay = 1.0

    with pytest.raises(AmbiguousError, match="may have been delivered"):
        await adapter(http, smtp_server.port, timeout=0.3).submit(make_notice())

    assert smtp_server.content_arrived.is_set()


async def test_email_cannot_tell_whether_a_notice_arrived(http: aiohttp.ClientSession) -> None:
    with pytest.raises(AmbiguousError):
        await adapter(http, 25).find_existing(make_notice())


# --- options and registry --------------------------------------------------------------------


def test_registry_finds_the_email_adapter() -> None:
    cls = adapter_class("email")

    assert cls is EmailAdapter
    assert (cls.max_batch, cls.idempotent, cls.can_check, cls.platforms) == (200, False, False, ())


def test_options_defaults() -> None:
    options = EmailOptions(to="ip@platform.example", host="smtp.acme.example")

    assert (options.port, options.security, options.timeout) == (587, "starttls", 30)


@pytest.mark.parametrize(
    "values",
    [
        {"host": "h"},  # no `to`
        {"to": "not an address", "host": "h"},
        {"to": "a@b.example", "host": "h", "security": "ssl"},
        {"to": "a@b.example", "host": "h", "password": "p"},  # password without username
        {"to": "a@b.example", "host": "h", "cc": ["x"]},
        {"to": "a@b.example", "host": "h", "port": 0},
    ],
)
def test_invalid_options_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EmailOptions.model_validate(values)


# --- TLS (a self-signed certificate made with the openssl command, when it is installed) -------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; TLS tests need a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[FakeSmtp]:
    with FakeSmtp(accounts={"notices": "s3cret!"}, starttls=server_context(certificate)) as server:
        yield server


async def test_starttls_upgrades_before_logging_in(
    starttls_server: FakeSmtp, certificate: tuple[Path, Path], http: aiohttp.ClientSession
) -> None:
    sender = adapter(
        http,
        starttls_server.port,
        security="starttls",
        ca_file=str(certificate[0]),
        username="notices",
        password="s3cret!",
    )

    await sender.submit(make_notice())

    [got] = starttls_server.received
    assert got.tls and got.login == b"notices"


async def test_untrusted_certificate_is_permanent(
    starttls_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    sender = adapter(http, starttls_server.port, security="starttls")

    with pytest.raises(PermanentError, match="certificate"):
        await sender.submit(make_notice())

    assert starttls_server.received == []


async def test_starttls_required_but_not_offered_is_permanent(
    smtp_server: FakeSmtp, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(PermanentError, match="STARTTLS"):
        await adapter(http, smtp_server.port, security="starttls").submit(make_notice())


async def test_implicit_tls(certificate: tuple[Path, Path], http: aiohttp.ClientSession) -> None:
    with FakeSmtp(implicit_tls=server_context(certificate)) as server:
        sender = adapter(http, server.port, security="tls", ca_file=str(certificate[0]))
        await sender.submit(make_notice())

    [got] = server.received
    assert got.tls
