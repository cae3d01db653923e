"""A kept notice, read back for people (the thread's View notice, `takedown-bot notice`): what it
is (its header: adapter, channel, time, outcome, SHA-256, Message-ID or path) and what it says
(an email's headers and decoded body, a JSON body pretty-printed, a portal guide as it was shown).

The bytes themselves never change here: `record.body` is what went out; this only renders it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.core.platforms import platform_name
from storage.models import NoticeRecord
from storage.notice_records import kept_notices_of_case

# A file name's ending by media type, for a notice handed over as a file.
_EXTENSIONS = {"message/rfc822": "eml", "application/json": "json", "text/plain": "txt"}
_OUTCOMES = {
    "sent": "sent",
    "awaiting_person": "shown to a person to file on the portal",
    "uncertain": "may have arrived (the send's outcome was unknown when it was kept)",
}


@dataclass(frozen=True, slots=True)
class KeptNotice:
    """One kept record with the case and platform it belongs to."""

    case_ref: str
    platform: str
    record: NoticeRecord

    @property
    def notice_id(self) -> int:
        return self.record.notice_id

    def header(self) -> list[tuple[str, str]]:
        """Label and value, in reading order."""
        record = self.record
        lines = [
            ("Case", self.case_ref),
            ("Notice", str(record.notice_id)),
            ("Platform", platform_name(self.platform)),
            ("Adapter", record.adapter),
            ("Channel", record.channel),
            ("Kept at", kept_at(record)),
            ("Outcome", _OUTCOMES.get(record.outcome, record.outcome)),
            ("SHA-256", record.sha256),
        ]
        if record.message_id:
            lines.append(("Message-ID", record.message_id))
        if record.path:
            lines.append(("Sent to" if record.media_type == "text/plain" else "Path", record.path))
        lines.append(("Configuration SHA-256", record.config_sha256))
        return lines

    def filename(self) -> str:
        """`TD-42-notice-7.eml`: the name of the exact bytes as a file."""
        extension = _EXTENSIONS.get(self.record.media_type, "bin")
        return f"{self.case_ref}-notice-{self.record.notice_id}.{extension}"


async def kept_of_case(session: AsyncSession, case_id: int) -> list[KeptNotice]:
    """The case's kept notices (not the answers to them), oldest first: a notice sent more than
    once (an uncertain send, then a send again) has a record for each."""
    ref = case_ref(case_id)
    return [
        KeptNotice(ref, platform, record)
        for record, platform in await kept_notices_of_case(session, case_id)
    ]


def kept_at(record: NoticeRecord) -> str:
    """The record's time, UTC to the second: `2026-06-08 09:00:00 UTC`."""
    return record.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def readable(record: NoticeRecord) -> str:
    """What the notice says, as text a person reads."""
    if record.media_type == "message/rfc822":
        return _email_text(record.body)
    if record.media_type == "application/json":
        try:
            return json.dumps(json.loads(record.body), indent=2, ensure_ascii=False)
        except ValueError:  # kept as sent, even if it was not JSON after all
            return record.body.decode("utf-8", "replace")
    return record.body.decode("utf-8", "replace")


def _email_text(raw: bytes) -> str:
    """An email's headers as sent, a blank line, then each text part decoded (other parts
    named, with their size)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    lines = [f"{name}: {value}" for name, value in message.items()]
    assert isinstance(message, EmailMessage)  # policy.default parses into EmailMessage
    for part in message.walk():
        if part.is_multipart():
            continue
        lines.append("")
        if part.get_content_maintype() == "text" and not part.is_attachment():
            lines.append(str(part.get_content()).replace("\r\n", "\n").rstrip("\n"))
        else:
            size = len(part.get_payload(decode=True) or b"")
            name = part.get_filename() or "unnamed"
            lines.append(f"[attachment {name}, {part.get_content_type()}, {size:,} bytes]")
    return "\n".join(lines)
