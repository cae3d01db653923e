"""The IMAP conversation the reader needs, over aioimaplib: connect (TLS, or STARTTLS) with the
certificate verified, select a folder, list the UIDs after one, fetch a message by UID in pieces,
and move it.

A message is fetched in 1 MiB pieces (`BODY.PEEK[]<offset.length>`): aioimaplib joins a literal
by re-copying what it has for each network read, so one 40 MB literal would cost gigabytes of
copying; pieces keep every literal small. `PEEK` leaves the message unread for the people who
share the mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Self

from aioimaplib import IMAP4, IMAP4_SSL, AioImapException, Command, Response

from bot.config.schema import MailboxConfig

PIECE = 1024 * 1024
TIMEOUT = 60.0
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The mailbox cannot be read now (connection, login, certificate, a refused command)."""


# What a run can meet halfway through a folder: the next period's run goes on from there.
READ_ERRORS = (MailboxError, OSError, TimeoutError, AioImapException)


def tls_context(config: MailboxConfig) -> ssl.SSLContext:
    """Certificates verified, and the host name checked: against `ca_file`, or the system's."""
    return ssl.create_default_context(cafile=config.ca_file)


def _ok(response: Response, what: str) -> Response:
    if response.result != "OK":
        said = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
        raise MailboxError(f"IMAP {what} refused: {said[:200]}")
    return response


@dataclass
class Folder:
    """A selected folder."""

    name: str
    uidvalidity: int


class ImapSession:
    """One logged-in IMAP connection: `async with ImapSession.open(config) as imap: …`."""

    def __init__(self, client: IMAP4) -> None:
        self._client = client

    @classmethod
    async def open(cls, config: MailboxConfig) -> Self:
        # Loading the CA store reads files: keep it off the event loop (as the email adapter does).
        context = await asyncio.to_thread(tls_context, config)
        try:
            if config.security == "tls":
                client: IMAP4 = IMAP4_SSL(
                    config.host, config.imap_port, ssl_context=context, timeout=TIMEOUT
                )
                await client.wait_hello_from_server()
            else:
                client = IMAP4(config.host, config.imap_port, timeout=TIMEOUT)
                await client.wait_hello_from_server()
                await _starttls(client, context, config.host)
            _ok(await client.login(config.user, config.password), "login")
        except (OSError, TimeoutError, ssl.SSLError, AioImapException) as exc:
            raise MailboxError(f"cannot reach the mailbox {config.host}:{config.imap_port}: "
                               f"{type(exc).__name__}: {exc}") from None  # fmt: skip
        return cls(client)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, TimeoutError, AioImapException):
            await self._client.logout()

    async def select(self, name: str) -> Folder:
        response = _ok(await self._client.select(_quoted(name)), f"SELECT {name}")
        for line in response.lines:
            if found := _UIDVALIDITY.search(bytes(line)):
                return Folder(name, int(found.group(1)))
        raise MailboxError(f"the server gave no UIDVALIDITY for {name}")

    async def uids_after(self, last_uid: int) -> list[int]:
        """The UIDs above `last_uid`, ascending (`n:*` also names the highest UID below n)."""
        response = _ok(await self._client.uid_search("UID", f"{last_uid + 1}:*", charset=None),
                       "UID SEARCH")  # fmt: skip
        found = {int(word) for line in response.lines[:-1] for word in bytes(line).split()
                 if word.isdigit()}  # fmt: skip
        return sorted(uid for uid in found if uid > last_uid)

    async def size(self, uid: int) -> int | None:
        response = _ok(await self._client.uid("fetch", str(uid), "(RFC822.SIZE)"), "FETCH")
        for line in response.lines:
            if found := _SIZE.search(bytes(line)):
                return int(found.group(1))
        return None  # expunged meanwhile

    async def fetch(self, uid: int, size: int) -> bytes:
        """The message's bytes, in pieces."""
        pieces: list[bytes] = []
        offset = 0
        while offset < size:
            response = _ok(
                await self._client.uid("fetch", str(uid), f"(BODY.PEEK[]<{offset}.{PIECE}>)"),
                "FETCH",
            )
            literal = next((bytes(line) for line in response.lines if isinstance(line, bytearray)),
                           b"")  # fmt: skip
            if not literal:
                break
            pieces.append(literal)
            offset += len(literal)
        return b"".join(pieces)

    async def move(self, uid: int, folder: str) -> None:
        _ok(await self._client.uid("move", str(uid), _quoted(folder)), f"MOVE to {folder}")


def _quoted(name: str) -> str:
    """A folder name as an IMAP quoted string (names may hold spaces)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _starttls(client: IMAP4, context: ssl.SSLContext, host: str) -> None:
    """STARTTLS, which aioimaplib does not offer: the command, then TLS on the same transport."""
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise MailboxError("the server does not offer STARTTLS (set security: tls?)")
    command = Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    _ok(await asyncio.wait_for(protocol.execute(command), TIMEOUT), "STARTTLS")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(protocol.transport, protocol, context, server_hostname=host)
    protocol.transport = transport
    await asyncio.wait_for(protocol.capability(), TIMEOUT)  # what it offers once encrypted
