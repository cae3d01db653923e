"""An email forwarded into Slack (Slack's forwarding address, or the Email app) made an RFC 5322
message again, so the reader can keep, match and read it like one from the mailbox.

Slack shows such an email as a file of filetype `email` whose file object carries the email's
fields: `subject`, `from`/`to`/`cc` (lists of `{address, name, original}`), `plain_text`,
`preview_plain_text`, `headers` (`date`, `message_id`, `in_reply_to`, `reply_to`; `references`
is our guess), `has_more` (the text is cut short). Slack does not document these fields; they
are what its events and `files.info` answers are seen to carry (docs/mailbox.md). The message
built holds only what the file object says, in a fixed order: the same email forwarded twice
is the same bytes, so it is kept once.

Nothing here fetches: `recorded.record_reply` asks Slack's `files.info` (the bot token, Slack's API
host only) when the object in the message is cut short.
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parsedate_to_datetime
from typing import Any

from bot.mailbox.message import MSGID

EMAIL_FILETYPE = "email"
_HEADER_TEXT = 900  # of a header line's 998 characters


def cut_short(file: Mapping[str, Any]) -> bool:
    """Whether the file object lacks the email's full text (Slack says `has_more`, or it carries
    no text at all: a message's file objects can be stubs with only an id)."""
    return bool(file.get("has_more")) or not isinstance(file.get("plain_text"), str)


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())[:_HEADER_TEXT]


def _addresses(people: Any) -> str:
    """`Name <address>, …` from Slack's `[{address, name, original}]`; entries whose address is
    not a plain mail address are left out rather than guessed at."""
    pairs: list[tuple[Any, Any]]
    if isinstance(people, str):  # a header Slack gives as text (`reply_to`, perhaps)
        pairs = list(getaddresses([_one_line(people)]))
    else:
        listed = people if isinstance(people, list) else []
        pairs = [(p.get("name"), p.get("address")) for p in listed if isinstance(p, dict)]
    found: list[str] = []
    for name, address in pairs:
        address = _one_line(address)
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError, TypeError, HeaderParseError):
            continue
        if address:
            found.append(formataddr((_one_line(name), address)))
    return ", ".join(found)[:_HEADER_TEXT]


def _ids(value: Any) -> str:
    """Message-IDs (`<…>`) from a header Slack gives as text or as a list."""
    text = " ".join(value) if isinstance(value, list) else str(value or "")
    return " ".join(dict.fromkeys(MSGID.findall(text)))[:_HEADER_TEXT]


def _date(value: Any) -> str:
    """The date as Slack wrote it, if it reads as an RFC 5322 date; else none."""
    text = _one_line(value)
    try:
        parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError):
        return ""
    return text


def email_of_file(file: Mapping[str, Any]) -> bytes:
    """The email a Slack email file describes, as RFC 5322 bytes: its addresses, subject, date,
    Message-ID, In-Reply-To and References (when Slack gives them) and its plain text."""
    headers = file.get("headers") if isinstance(file.get("headers"), dict) else {}
    assert isinstance(headers, dict)
    message = EmailMessage(policy=email.policy.SMTP)
    fields: Sequence[tuple[str, str]] = (
        ("From", _addresses(file.get("from"))),
        ("To", _addresses(file.get("to"))),
        ("Cc", _addresses(file.get("cc"))),
        ("Reply-To", _addresses(headers.get("reply_to"))),
        ("Subject", _one_line(file.get("subject") or file.get("title"))),
        ("Date", _date(headers.get("date"))),
        ("Message-ID", _ids(headers.get("message_id"))),
        ("In-Reply-To", _ids(headers.get("in_reply_to"))),
        ("References", _ids(headers.get("references"))),
    )
    for name, value in fields:
        if value:
            message[name] = value
    text = file.get("plain_text")
    if not isinstance(text, str):
        text = str(file.get("preview_plain_text") or "")
    message.set_content(text.replace("\r\n", "\n"), charset="utf-8")
    return message.as_bytes()
