"""Files people add as evidence (screenshots, test-buy photos, invoices, PDFs): what is accepted,
and the limits (`evidence.file_max_mb` a file, `evidence.case_max_mb` all of a case's files).

A file is accepted by what its bytes are, not by its name or the type Slack reports: PNG, JPEG,
GIF, WebP and HEIC images, PDF, and plain text or CSV (UTF-8, no NUL bytes, named .txt or .csv:
a "photo.png" that is text is refused, not kept as something it does not claim to be). Anything else
(office documents, archives, executables, HTML) is refused with the list of what is accepted:
those are the kinds a platform's form or counsel can open as they are, and none of them runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config.schema import EvidenceConfig
from bot.slack_ui.evidence_form import FILETYPES, MAX_FILES
from bot.slack_ui.files import file_name

MB = 1024 * 1024
ACCEPTED = "PNG, JPEG, GIF, WebP or HEIC images, PDF, or plain text or CSV"
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


class EvidenceRefused(Exception):
    """A file cannot be kept as evidence; the message says why, for the person who added it."""


@dataclass(frozen=True, slots=True)
class Limits:
    file_bytes: int
    case_bytes: int

    @classmethod
    def of(cls, config: EvidenceConfig) -> Limits:
        return cls(int(config.file_max_mb * MB), int(config.case_max_mb * MB))


def megabytes(size: int) -> str:
    """A size as people read it: `1.4 MB`, `820 KB`, `12 bytes`."""
    if size >= MB:
        return f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} byte{'s' if size != 1 else ''}"


def media_type_of(data: bytes, *, name: str) -> str | None:
    """The media type the bytes are (one that is accepted), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    extension = name.lower().rsplit(".", 1)[-1]
    if extension in ("txt", "csv") and data and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/csv" if extension == "csv" else "text/plain"
    return None


def check_bytes(data: bytes, *, name: str, limits: Limits) -> str:
    """The media type of a downloaded file, once it is one that is accepted and within the
    file limit; EvidenceRefused says why not."""
    if len(data) > limits.file_bytes:
        raise EvidenceRefused(too_big(name, limits))
    media_type = media_type_of(data, name=name)
    if media_type is None:
        what = "is empty" if not data else "is not a file type the bot keeps"
        raise EvidenceRefused(f"{name} {what}: add {ACCEPTED}.")
    return media_type


def check_declared(
    files: Sequence[Mapping[str, Any]], *, limits: Limits, case_bytes: int = 0
) -> None:
    """What can be told of the files before they are fetched (Slack's file objects: names, types,
    sizes), against the limits and what the case holds already (`case_bytes`)."""
    if len(files) > MAX_FILES:
        raise EvidenceRefused(f"Add at most {MAX_FILES} files at a time.")
    total = case_bytes
    for file in files:
        name = file_name(file)
        filetype = str(file.get("filetype") or name.rsplit(".", 1)[-1]).lower()
        if filetype not in FILETYPES:
            raise EvidenceRefused(f"{name} is not a file type the bot keeps: add {ACCEPTED}.")
        size = file.get("size")
        if isinstance(size, int):
            if size > limits.file_bytes:
                raise EvidenceRefused(too_big(name, limits))
            total += size
    check_case_total(total, limits=limits, held=case_bytes)


def check_case_total(total: int, *, limits: Limits, held: int) -> None:
    """The case's files, with the new ones (`total` bytes), within the case limit."""
    if total > limits.case_bytes:
        room = max(0, limits.case_bytes - held)
        raise EvidenceRefused(
            f"A case holds at most {megabytes(limits.case_bytes)} of files "
            f"(`evidence.case_max_mb`); this one has {megabytes(held)}, so "
            f"{megabytes(room)} more fit. Nothing was kept."
        )


def too_big(name: str, limits: Limits) -> str:
    return (
        f"{name} is larger than {megabytes(limits.file_bytes)} (`evidence.file_max_mb`); "
        "nothing was kept."
    )
