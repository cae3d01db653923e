"""How a notice names the evidence files that go with it: the text's EVIDENCE FILES section (an
email's body, a webhook's `text`) and the portal guide's files to upload."""

from __future__ import annotations

from collections.abc import Sequence

from bot.delivery.adapters.base import EvidenceRef, OutgoingNotice
from bot.delivery.cleaning import clean_line
from bot.slack_ui.upload_blocks import UploadFile

NO_LINK = "no download link (the bot has no public address set: PUBLIC_URL)"


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def describe(ref: EvidenceRef) -> str:
    """`name (media type, size, SHA-256 …)`."""
    return (
        f"{clean_line(ref.name)} ({clean_line(ref.media_type)}, {size_text(ref.size)}, "
        f"SHA-256 {ref.sha256})"
    )


def where(ref: EvidenceRef) -> str:
    """Attached, or where to download it and until when."""
    if ref.attached:
        return "attached"
    if ref.url is None or ref.expires_at is None:
        return NO_LINK
    return f"{ref.url} (until {ref.expires_at.strftime('%Y-%m-%d')})"


def evidence_files_section(items: Sequence[EvidenceRef]) -> list[str]:
    """The notice text's lines on its evidence files; none when there are none."""
    if not items:
        return []
    return ["", f"EVIDENCE FILES ({len(items)})", *(f"- {describe(r)}: {where(r)}" for r in items)]


def upload_field(items: Sequence[EvidenceRef]) -> list[tuple[str, str]]:
    """The portal guide's files to upload, as one field (its kept copy's wording)."""
    if not items:
        return []
    return [("Files to upload", "\n".join(f"{describe(r)}: {where(r)}" for r in items))]


def upload_files(notice: OutgoingNotice) -> list[UploadFile]:
    """The portal guide's files to upload, for its block in the thread."""
    return [
        UploadFile(
            clean_line(ref.name), f"{clean_line(ref.media_type)}, {size_text(ref.size)}", ref.url
        )
        for ref in notice.evidence_items
    ]
