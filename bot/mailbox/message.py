"""A raw message made readable: its identifying headers and the text a person would read.

`read_message` never raises: a message it will not read (malformed MIME, too large, too long)
comes back with `skip` saying why, and the reader stores it and goes on. The text is the
message's plain-text parts (HTML ones made text when there is no plain one), decoded from any
transfer encoding and charset (GB2312 and GBK read as GB18030, their superset), with quoted
replies cut off: a platform's answer that quotes our notice must be read for what the platform
says, not for what we said. A forwarded chain is kept: it is what someone forwarded.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field, replace
from email.message import EmailMessage, Message
from email.utils import parseaddr
from html.parser import HTMLParser

from bot.delivery.adapters.email import MESSAGE_ID_DOMAIN

MAX_READ_BYTES = 10 * 1024 * 1024  # larger messages are kept, not read
MAX_TEXT_LINES = 5_000
MAX_TEXT_CHARS = 200_000
MSGID = re.compile(r"<[^<>\s]{1,998}>")  # a Message-ID as headers carry it
_BROKEN = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
)
_GB = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
# Where a reply's quotation of an earlier message starts (en, zh, es, pt, and Outlook's).
_QUOTE_START = re.compile(
    r"^\s*(?:-{2,}\s*Original Message\s*-{2,}|-{2,}\s*原始邮件\s*-{2,}|"
    r"On .{1,200} wrote:|El .{1,200} escribió:|Em .{1,200} escreveu:|在.{1,200}写道[:：])\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class ReadMessage:
    message_id: str | None = None
    answers: list[str] = field(default_factory=list)  # In-Reply-To and References ids
    sender: str | None = None
    subject: str | None = None
    text: str = ""
    ours: bool = False  # one of our own notices (a mail loop)
    skip: str | None = None  # why it is not read


def read_message(raw: bytes) -> ReadMessage:
    """What the reader needs from `raw`; never raises."""
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        headers = _headers(parsed)
    except Exception as exc:
        return ReadMessage(skip=f"malformed message: {type(exc).__name__}")
    if headers.ours:
        return headers
    if len(raw) > MAX_READ_BYTES:
        return replace(
            headers, skip=f"larger than {MAX_READ_BYTES // (1024 * 1024)} MB: kept, not read"
        )
    try:
        if broken := _defect(parsed):
            return replace(headers, skip=f"malformed MIME: {broken}")
        text = _text(parsed)
    except Exception as exc:
        return replace(headers, skip=f"malformed MIME: {type(exc).__name__}")
    if text.count("\n") > MAX_TEXT_LINES or len(text) > MAX_TEXT_CHARS:
        return replace(headers, skip=f"more than {MAX_TEXT_LINES} lines of text: kept, not read")
    return replace(headers, text=_without_quotes(text))


def _header(parsed: Message, name: str) -> str:
    try:
        value = parsed.get(name)
    except Exception:
        return ""
    return str(value or "")


def _headers(parsed: EmailMessage) -> ReadMessage:
    message_id = MSGID.search(_header(parsed, "Message-ID"))
    answers = MSGID.findall(_header(parsed, "In-Reply-To") + " " + _header(parsed, "References"))
    sender = parseaddr(_header(parsed, "From"))[1] or None
    subject = " ".join(_header(parsed, "Subject").split())[:300] or None
    ours = bool(_header(parsed, "X-Takedown-Case") or _header(parsed, "X-Takedown-Notice"))
    ours = ours or bool(message_id and message_id.group(0).endswith(f"@{MESSAGE_ID_DOMAIN}>"))
    return ReadMessage(
        message_id=message_id.group(0) if message_id else None,
        answers=list(dict.fromkeys(answers)),
        sender=sender,
        subject=subject,
        ours=ours,
        skip="one of our own notices came back (a mail loop)" if ours else None,
    )


def _defect(parsed: Message) -> str | None:
    for part in parsed.walk():
        for defect in part.defects:
            if isinstance(defect, _BROKEN):
                return type(defect).__name__
    return None


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    try:
        return payload.decode(_GB.get(charset, charset), errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _text(parsed: Message) -> str:
    plain: list[str] = []
    html: list[str] = []
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(_decoded(part))
        elif kind == "text/html":
            html.append(html_text(_decoded(part)))
    return "\n".join(plain or html)


def _without_quotes(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    kept = "\n".join(lines)
    start = _QUOTE_START.search(kept)
    return kept[: start.start()] if start else kept


class _Text(HTMLParser):
    _BLOCKS = frozenset(
        ["p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "ul", "ol", "blockquote"]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("http"):
                self.parts.append(f" {href} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(html: str) -> str:
    """An HTML body as the text a person reads (links' addresses kept)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
