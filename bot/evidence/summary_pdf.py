"""The bundle's one-page case summary (`summary.pdf`, fpdf2): the rights holder, the right, the
listings with their states and dates, and the SHA-256 of each notice as sent and each piece of
evidence. What does not fit on the page is counted, and `case.json`, `notices.json` and
`evidence.json` in the bundle list it all.

Reproducible: its creation date is the case's opening, and its file id is derived from its
content (fpdf2's default), so the same records give the same bytes. Text goes through the PDF's
core font (Latin-1): a character it cannot show becomes `?` (the JSON files keep it exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig
from bot.core.platforms import platform_name
from bot.evidence.case_records import CaseRecords, rights_holder

if TYPE_CHECKING:
    from fpdf import FPDF

MAX_LISTINGS = 14
MAX_HASHES = 10
_WIDTH = 180  # mm between the margins of an A4 page


def summary_pdf(found: CaseRecords, config: AppConfig) -> bytes:
    """The summary page's PDF bytes."""
    from fpdf import FPDF  # a second and more to import (Pillow): only when a bundle is built

    pdf = FPDF(format="A4")
    pdf.set_creation_date(found.case.created_at)
    pdf.set_producer("takedown-bot")
    pdf.set_title(f"{found.ref} evidence bundle")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    _heading(pdf, found)
    _parties(pdf, found, config)
    _listings(pdf, found)
    _hashes(pdf, found)
    return bytes(pdf.output())


def _text(value: object) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _line(
    pdf: FPDF, text: str, *, size: float = 9, bold: bool = False, height: float = 4.6
) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", size)
    pdf.cell(_WIDTH, height, _text(text), new_x="LMARGIN", new_y="NEXT")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _heading(pdf: FPDF, found: CaseRecords) -> None:
    case = found.case
    _line(pdf, f"{found.ref} - evidence bundle", size=16, bold=True, height=8)
    kind = INFRINGEMENT_TYPES.get(case.infringement, case.infringement)
    opened = case.created_at.strftime("%Y-%m-%d %H:%M UTC")
    _line(pdf, f"{case.brand} - {kind} - opened {opened} by Slack user {case.reporter_id}")
    last = found.events[-1].created_at if found.events else case.created_at
    _line(
        pdf,
        f"Records up to {last:%Y-%m-%d %H:%M UTC}: {len(found.events)} events, "
        f"{len(found.records)} notices and answers as sent, {len(found.items)} evidence items",
    )
    pdf.ln(2)


def _parties(pdf: FPDF, found: CaseRecords, config: AppConfig) -> None:
    holder = rights_holder(found, config)
    _line(pdf, "Rights holder", size=11, bold=True, height=6)
    for key in ("name", "address", "email", "phone", "signatory", "agent"):
        if holder.get(key):
            _line(pdf, _cut(f"{key.capitalize()}: {holder[key]}", 120))
    pdf.ln(1)
    _line(pdf, "Right", size=11, bold=True, height=6)
    found_right = config.right(found.case.right_id)
    _line(pdf, _cut(found_right[1].label() if found_right else found.case.right_id, 120))
    if found.case.description:
        _line(pdf, _cut(f"Why: {' '.join(found.case.description.split())}", 130))
    pdf.ln(2)


def _listings(pdf: FPDF, found: CaseRecords) -> None:
    _line(pdf, f"Listings ({len(found.listings)})", size=11, bold=True, height=6)
    for listing in found.listings[:MAX_LISTINGS]:
        status = listing.status.replace("_", " ")
        dates = [f"reported {listing.created_at:%Y-%m-%d}"]
        if listing.submitted_at:
            dates.append(f"sent {listing.submitted_at:%Y-%m-%d}")
        if listing.decided_at:
            dates.append(f"decided {listing.decided_at:%Y-%m-%d}")
        _line(pdf, _cut(f"{platform_name(listing.platform)}: {listing.url}", 120), bold=True)
        reference = f" - ref {listing.reference}" if listing.reference else ""
        _line(pdf, _cut(f"    {status}{reference} - {', '.join(dates)}", 120), size=8, height=4)
    _more(pdf, len(found.listings) - MAX_LISTINGS, "listings", "case.json")
    pdf.ln(2)


def _hashes(pdf: FPDF, found: CaseRecords) -> None:
    _line(pdf, "SHA-256 of what was sent and kept", size=11, bold=True, height=6)
    rows: list[tuple[str, str]] = [
        (
            f"{record.kind} to {record.channel} ({record.outcome}, #{record.notice_id})",
            record.sha256,
        )
        for record in found.records
    ]
    rows += [(f"{item.kind}: {_cut(item.name, 40)}", item.sha256) for item in found.items]
    _rows(pdf, rows[:MAX_HASHES])
    _more(pdf, len(rows) - MAX_HASHES, "hashes", "notices.json and evidence.json")
    pdf.ln(2)
    _line(
        pdf,
        "Every file in this bundle is listed with its SHA-256 in MANIFEST.sha256 "
        "(check: sha256sum -c MANIFEST.sha256).",
        size=8,
    )


def _rows(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    if not rows:
        _line(pdf, "None yet.", size=8)
    for label, digest in rows:
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(62, 4, _text(label))
        pdf.set_font("Courier", "", 7.5)
        pdf.cell(_WIDTH - 62, 4, digest, new_x="LMARGIN", new_y="NEXT")


def _more(pdf: FPDF, count: int, what: str, where: str) -> None:
    if count > 0:
        _line(pdf, f"... and {count} more {what}: {where} in this bundle lists them all.", size=8)
