"""A fake mail server on loopback: a real SMTP server (aiosmtpd) that keeps what it is sent.

    with FakeSmtp(accounts={"notices": "s3cret!"}) as smtp:
        options = {"host": "127.0.0.1", "port": smtp.port, "security": "none", ...}
        smtp.rcpt_replies["gone@acme.example"] = "550 5.1.1 no such user"   # refuse a recipient
        smtp.data_reply = "451 4.3.0 try later"        # refuse the message itself
        smtp.data_delay = 1.0                          # answer the message only after 1 s
        smtp.received[-1].message["To"]                # what arrived, with its login and TLS
        smtp.logins                                    # the AUTH mechanisms tried, in order

Logging in: without `accounts` no login is offered before TLS; with them, AUTH checks each
login against them (an empty dict refuses every login), before TLS unless `starttls` is given.
`starttls=context` offers STARTTLS and requires it; `implicit_tls=context` speaks TLS from the
first byte. aiosmtpd runs the server on its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: bytes | None  # the user name it logged in with
    tls: bool
    content: bytes = b""  # the message's bytes as the server received them


class FakeSmtp:
    """An SMTP server on 127.0.0.1 that accepts mail, with scriptable refusals and accounts."""

    def __init__(
        self,
        *,
        accounts: dict[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.accounts = accounts
        self.received: list[Received] = []
        self.logins: list[str] = []
        self.rcpt_replies: dict[str, str] = {}  # address -> reply
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try later"
        self.data_delay = 0.0
        self.content_arrived = threading.Event()  # set as soon as a message's content arrives
        self.port = 0
        options: dict[str, Any] = {}
        if accounts is not None:
            options.update(authenticator=self._authenticate, auth_require_tls=starttls is not None)
        if starttls is not None:
            options.update(tls_context=starttls, require_starttls=True)
        if implicit_tls is not None:
            options.update(ssl_context=implicit_tls)
        self._options = options
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [got.message for got in self.received]

    def start(self) -> Self:
        # aiosmtpd checks its server by connecting to the port it was given, so it needs a number.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- aiosmtpd's handler hooks -----------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.logins.append(mechanism)
        known = {
            (user.encode(), password.encode()) for user, password in (self.accounts or {}).items()
        }
        ok = isinstance(auth_data, LoginPassword) and tuple(auth_data) in known
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.content_arrived.set()
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        assert server.transport is not None
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), message, login, tls, envelope.content
            )
        )
        return "250 2.0.0 queued as 4242"
