"""The `email` channel: the notice as a plain-text email to a platform's or a law firm's intake.

One SMTP transaction per notice. The Message-ID is derived from the notice's idempotency key, so
every attempt at the same notice carries the same id (mail systems and people can spot a
duplicate) and the id is the notice's reference.

Email cannot be asked whether a message arrived, so the error typing is careful about the one
moment that matters: once the message content has been handed to the server, a lost connection
or a timeout may hide a delivered message. That is an `AmbiguousError`, held for a person rather
than resent. Before it (connecting, authenticating, the envelope) trouble is transient; a 5xx
reply is the server's final word and a `PermanentError` carrying its message.

A person's answer to the platform's request for information (`answer`) is a reply in the notice's
thread, sent the same way and typed the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from dataclasses import replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import SMTPUTF8 as SMTPUTF8_POLICY
from email.utils import format_datetime
from typing import ClassVar, Literal

import aiosmtplib
from pydantic import Field, SecretStr, field_validator, model_validator
from typing_extensions import override

from bot.delivery.adapters.base import (
    Adapter,
    AdapterOptions,
    AmbiguousError,
    OutgoingAnswer,
    OutgoingNotice,
    PermanentError,
    Receipt,
    SentCopy,
    TransientError,
)
from bot.delivery.cleaning import clean_line

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
MESSAGE_ID_DOMAIN = "takedown-bot"
_NETWORK_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPServerDisconnected,
    OSError,
)


def _check_address(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class EmailOptions(AdapterOptions):
    to: str
    cc: list[str] = Field(default_factory=list)
    from_address: str | None = None  # default: rights_holder.email
    reply_to: str | None = None  # default: rights_holder.email when from_address differs
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30, gt=0, le=600)  # seconds, per SMTP step
    ca_file: str | None = None  # a private CA bundle to trust (an in-house relay), PEM

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("from_address", "reply_to")
    @classmethod
    def _optional_address(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    @field_validator("cc")
    @classmethod
    def _cc(cls, value: list[str]) -> list[str]:
        return [_check_address(item) for item in value]

    @model_validator(mode="after")
    def _credentials(self) -> EmailOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        return self


def message_id(idempotency_key: str) -> str:
    """The Message-ID of a notice: stable for the notice, safe as an RFC 5322 id."""
    local = ".".join(part for part in _MSGID_UNSAFE.sub("-", idempotency_key).split(".") if part)
    if local != idempotency_key or not local:
        # Two keys that differ only in unsafe characters must not share an id.
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
        local = f"{local[:200]}.{digest}" if local else digest
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


class EmailAdapter(Adapter):
    name = "email"
    max_batch = 200
    idempotent = False  # a resent email is a second email
    can_check = False
    can_answer = True  # a reply in the notice's email thread
    attaches_files = True  # evidence files within evidence.attach_max_mb; the rest linked
    Options: ClassVar[type[AdapterOptions]] = EmailOptions

    @property
    def settings(self) -> EmailOptions:
        assert isinstance(self.options, EmailOptions)
        return self.options

    def build_message(self, notice: OutgoingNotice, *, now: datetime | None = None) -> EmailMessage:
        """The email for a notice (headers and plain-text body), not yet sent."""
        opts = self.settings
        holder = notice.rights_holder
        sender = opts.from_address or holder.email
        message = EmailMessage()
        message["Subject"] = clean_line(notice.subject)
        message["From"] = Address(display_name=clean_line(holder.name), addr_spec=sender)
        message["To"] = opts.to
        if opts.cc:
            message["Cc"] = ", ".join(opts.cc)
        reply_to = opts.reply_to or (holder.email if sender != holder.email else None)
        if reply_to:
            message["Reply-To"] = reply_to
        message["Date"] = format_datetime(now or datetime.now(UTC))
        message["Message-ID"] = message_id(notice.idempotency_key)
        message["X-Takedown-Case"] = clean_line(notice.case_ref)
        message["X-Takedown-Notice"] = str(notice.notice_id)
        body = notice.text
        plain = body.isascii() and all(len(line) <= 998 for line in body.splitlines())
        message.set_content(body, charset="utf-8", cte="7bit" if plain else "quoted-printable")
        for item in notice.evidence_items:
            if item.data is not None:
                _attach(message, item.name, item.media_type, item.data)
        return message

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        opts = self.settings
        message = self.build_message(notice)
        reference = str(message["Message-ID"])
        refused, reply, content = await self._send(notice, message)
        log.info("email notice %s sent to %s as %s", notice.notice_id, opts.to, reference)
        return Receipt(
            reference=reference,
            detail={"to": opts.to, "cc": list(opts.cc), "refused": refused, "server_reply": reply},
            copy=SentCopy("message/rfc822", content, message_id=reference),
        )

    async def _send(
        self, notice: OutgoingNotice, message: EmailMessage
    ) -> tuple[dict[str, str], str, bytes]:
        """One SMTP transaction: the refused copies, the server's reply and the bytes sent."""
        opts = self.settings
        sender = opts.from_address or notice.rights_holder.email
        recipients = [opts.to, *opts.cc]
        # Loading the system's CA store reads files: keep it off the event loop.
        tls_context = (
            None if opts.security == "none" else await asyncio.to_thread(self._tls_context)
        )
        smtp = aiosmtplib.SMTP(
            hostname=opts.host,
            port=opts.port,
            timeout=opts.timeout,
            use_tls=opts.security == "tls",
            start_tls=opts.security == "starttls",
            username=opts.username,
            password=opts.password.get_secret_value() if opts.password else None,
            tls_context=tls_context,
        )
        try:
            await self._connect(smtp)
            return await self._transfer(smtp, sender, recipients, message)
        finally:
            await _close(smtp)

    @override
    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:
        raise AmbiguousError(
            "the mail server may have accepted the notice before the connection was lost; "
            f"email cannot be asked, so check with {self.settings.to} before resending"
        )

    def build_answer(
        self, notice: OutgoingNotice, answer: OutgoingAnswer, *, now: datetime | None = None
    ) -> EmailMessage:
        """The reply to a notice's email carrying a person's answer: the notice's From, To and Cc,
        `Re:` its subject, threaded under it (`In-Reply-To`, `References`: the Message-ID it went
        out with, else the one derived from its key, which is what it was sent with), its own
        stable Message-ID, the answer's files attached."""
        message = self.build_message(notice, now=now)
        original = answer.in_reply_to or message_id(notice.idempotency_key)
        subject = clean_line(answer.subject or notice.subject)
        del message["Subject"], message["Message-ID"]
        message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        message["Message-ID"] = message_id(answer.idempotency_key)
        message["In-Reply-To"] = original
        message["References"] = original
        message["X-Takedown-Answer"] = str(answer.answer_id)
        body = answer.text
        plain = body.isascii() and all(len(line) <= 998 for line in body.splitlines())
        message.clear_content()  # the notice's own body and attachments: the answer has its own
        message.set_content(body, charset="utf-8", cte="7bit" if plain else "quoted-printable")
        for file in answer.files:
            _attach(message, file.name, file.media_type, file.data)
        return message

    @override
    async def answer(self, notice: OutgoingNotice, answer: OutgoingAnswer) -> Receipt:
        message = self.build_answer(notice, answer)
        original = str(message["In-Reply-To"])
        reference = str(message["Message-ID"])
        try:
            refused, reply, content = await self._send(notice, message)
        except AmbiguousError as exc:
            copy = replace(exc.copy, in_reply_to=original) if exc.copy else None
            raise AmbiguousError(
                "the connection to the mail server was lost while the answer was being sent; "
                "it may have been delivered",
                copy=copy,
            ) from exc
        log.info(
            "email answer %s to notice %s sent as %s", answer.answer_id, notice.notice_id, reference
        )
        return Receipt(
            reference=reference,
            detail={"refused": refused, "server_reply": reply},
            copy=SentCopy("message/rfc822", content, message_id=reference, in_reply_to=original),
        )

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=self.settings.ca_file)
        return context

    async def _connect(self, smtp: aiosmtplib.SMTP) -> None:
        """Connect, upgrade to TLS, log in: nothing is sent yet, so network trouble is transient."""
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            await smtp.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise _by_code(exc, f"the mail server {where} refused the login") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc, f"the mail server {where} refused the connection") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            if _certificate_problem(exc):
                raise PermanentError(
                    f"the mail server {where} presented a certificate that is not trusted"
                ) from exc
            if isinstance(exc, _NETWORK_ERRORS):
                raise TransientError(
                    f"could not reach the mail server {where}: {_message(exc)}"
                ) from exc
            # What is left is a mismatch of settings: no STARTTLS, no usable login method.
            raise PermanentError(f"the mail server {where}: {_message(exc)}") from exc

    async def _transfer(
        self, smtp: aiosmtplib.SMTP, sender: str, recipients: list[str], message: EmailMessage
    ) -> tuple[dict[str, str], str, bytes]:
        """MAIL, RCPT, DATA: the refused copies, the server's reply and the bytes sent. Until
        DATA starts, nothing can have been delivered."""
        addresses = [sender, *recipients]
        utf8 = not all(address.isascii() for address in addresses)
        if utf8 and not smtp.supports_extension("smtputf8"):
            raise PermanentError("the mail server cannot take non-ASCII addresses (no SMTPUTF8)")
        encoding = "utf-8" if utf8 else "ascii"
        options = ["SMTPUTF8"] if utf8 else []
        content = message.as_bytes(policy=SMTPUTF8_POLICY if utf8 else SMTP_POLICY)
        refused: dict[str, str] = {}
        try:
            await smtp.mail(sender, options=options, encoding=encoding)
            for address in recipients:
                try:
                    await smtp.rcpt(address, encoding=encoding)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    if address == recipients[0]:
                        raise
                    refused[address] = f"{exc.code} {exc.message}"
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc, "the mail server refused the notice") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"the mail server connection failed: {_message(exc)}") from exc
        try:
            reply = await smtp.data(content)
        except aiosmtplib.SMTPResponseException as exc:
            # A reply code is the server's decision: the message was not taken.
            raise _by_code(exc, "the mail server refused the notice") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise AmbiguousError(
                "the connection to the mail server was lost while the notice was being sent; "
                "it may have been delivered",
                copy=SentCopy("message/rfc822", content, message_id=str(message["Message-ID"])),
            ) from exc
        return refused, reply.message, content


def _attach(message: EmailMessage, name: str, media_type: str, data: bytes) -> None:
    maintype, _, subtype = media_type.partition("/")
    if not subtype or maintype == "multipart":
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=clean_line(name))


def _by_code(exc: aiosmtplib.SMTPResponseException, what: str) -> TransientError | PermanentError:
    text = f"{what}: {exc.code} {_message(exc)}"
    if 500 <= exc.code < 600:
        return PermanentError(text)
    return TransientError(text)


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return clean_line(str(message))[:500]


def _certificate_problem(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _close(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
