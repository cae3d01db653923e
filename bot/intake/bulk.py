"""Bulk reports: listing URLs from a file, filed as one case. This module reads the file.

A file comes from `takedown-bot report --file` (`bot.cli.report`) or from the report form's file
input (`bot.intake.upload`). Two formats:

- TXT: one URL per line; blank lines and lines starting with `#` are skipped.
- CSV: a header row naming a `url` column, optionally `seller` and `evidence` columns (any order,
  any case, other columns ignored); comma-, semicolon- or tab-separated, as spreadsheets save them.

Text is UTF-8 (a byte-order mark is fine) or UTF-16 with its byte-order mark. Every problem names
the file's own line number, as an editor or a spreadsheet shows it. Per-row evidence links join the
case's evidence, which covers all its listings (a case keeps at most MAX_EVIDENCE_LINKS).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.core.cases import MAX_LISTINGS_PER_CASE
from bot.intake.cases import MAX_EVIDENCE_LINKS, FileLine, ReportDraft

MAX_FILE_BYTES = 64 * 1024 * 1024  # a file given to `takedown-bot report`
# Rows read before the case's own limit is checked: bounds the work a huge file can cause.
MAX_ROWS = 2 * MAX_LISTINGS_PER_CASE

_NEWLINES = re.compile(r"\r\n?")
_EVIDENCE_LINK = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
_EXCEL_SEPARATOR = re.compile(r"^sep=(.)$", re.IGNORECASE)  # Excel's "sep=;" first line
_DELIMITERS = (",", ";", "\t")
_COLUMNS = ("url", "seller", "evidence")


class UrlFileError(Exception):
    """The file as a whole cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class FileRow:
    """One row of a URL file: the line it starts on, its URL, seller and evidence links, or the
    reason it cannot be used."""

    line: int
    url: str
    seller: str | None = None
    evidence: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class UrlFile:
    name: str
    kind: str  # "csv" | "txt"
    rows: list[FileRow] = field(default_factory=list)


def read_url_file(data: bytes, *, name: str, filetype: str | None = None) -> UrlFile:
    """Read a TXT or CSV file of listing URLs (the kind from its name, Slack's `filetype`, or its
    first line). Raises UrlFileError when the file as a whole is unusable."""
    text = _decode(data, name)
    kind = _kind(name, filetype, text)
    rows = _csv_rows(text, name) if kind == "csv" else _txt_rows(text)
    if len(rows) > MAX_ROWS:
        raise UrlFileError(
            f"{name} has {len(rows):,} rows; one case holds at most {MAX_LISTINGS_PER_CASE:,} "
            "listings: split the file"
        )
    return UrlFile(name=name, kind=kind, rows=rows)


def read_path(path: Path) -> UrlFile:
    """Read a URL file from disk (`takedown-bot report --file`)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UrlFileError(
                f"{path} is {size / 2**20:,.1f} MB; a URL file may have at most "
                f"{MAX_FILE_BYTES // 2**20} MB"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise UrlFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UrlFileError(f"{path} is a directory, not a file of URLs") from None
    except PermissionError:
        raise UrlFileError(f"{path}: permission denied") from None
    return read_url_file(data, name=path.name)


def with_file(
    draft: ReportDraft, url_file: UrlFile, rows: Sequence[FileRow] | None = None
) -> ReportDraft:
    """The draft with the file's rows (or just `rows` of it) as its file lines, and the rows'
    evidence links added to the case's evidence."""
    rows = url_file.rows if rows is None else rows
    if not rows:
        raise UrlFileError(
            f"{url_file.name} holds no listing URLs (TXT: one URL per line; CSV: a url column)"
        )
    given = draft.evidence_text.split()
    links = list(dict.fromkeys([*given, *(link for row in rows for link in row.evidence)]))
    if len(links) > MAX_EVIDENCE_LINKS and len(links) > len(set(given)):
        raise UrlFileError(
            f"the evidence column of {url_file.name} brings the case to {len(links)} different "
            f"evidence links; a case keeps at most {MAX_EVIDENCE_LINKS}, for all its listings"
        )
    file_lines = [FileLine(row.line, row.url, row.seller, row.problem) for row in rows]
    return replace(draft, file_lines=file_lines, evidence_text="\n".join(links))


# -- reading --------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise UrlFileError(
            f"{name} is a spreadsheet workbook, not CSV: save it as “CSV UTF-8” and use that file"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UrlFileError(f"{name} is not valid UTF-16 text") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UrlFileError(
                f"{name} line {line} is not UTF-8 text: save the file as UTF-8 (“CSV UTF-8”)"
            ) from None
    if "\x00" in text:
        raise UrlFileError(f"{name} is not a text file: give a .csv or .txt file of URLs")
    return _NEWLINES.sub("\n", text)


def _kind(name: str, filetype: str | None, text: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv") or filetype == "csv":
        return "csv"
    if suffix in ("txt", "text", "list") or filetype in ("text", "txt"):
        return "txt"
    if suffix or (filetype and filetype not in ("", "binary")):
        raise UrlFileError(f"{name}: give a .csv or .txt file of URLs")
    # No extension (a local file): a first line naming a url column makes it CSV.
    first = next((line for line in text.split("\n") if line.strip()), "")
    return "csv" if _header(first) is not None else "txt"


def _txt_rows(text: str) -> list[FileRow]:
    rows = []
    for number, raw in enumerate(text.split("\n"), start=1):
        url = raw.strip()
        if url and not url.startswith("#"):
            rows.append(FileRow(number, url))
    return rows


def _header(line: str, delimiters: Sequence[str] = _DELIMITERS) -> tuple[str, list[str]] | None:
    """(delimiter, lower-cased column names) if `line` is a header row with a url column."""
    for delimiter in delimiters:
        names = [cell.strip().lower() for cell in next(csv.reader([line], delimiter=delimiter))]
        if "url" in names:
            return delimiter, names
    return None


def _csv_rows(text: str, name: str) -> list[FileRow]:
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return []
    delimiters: Sequence[str] = _DELIMITERS
    if match := _EXCEL_SEPARATOR.match(lines[start].strip()):
        delimiters = (match.group(1),)
        start = next((i for i in range(start + 1, len(lines)) if lines[i].strip()), start)
    found = _header(lines[start], delimiters)
    if found is None:
        seen = ", ".join(repr(c.strip()) for c in lines[start].split(delimiters[0])[:6])
        raise UrlFileError(
            f"{name} line {start + 1} must be a header row naming a url column (and optionally "
            f"seller, evidence); it reads {seen}"
        )
    delimiter, names = found
    column = {wanted: names.index(wanted) for wanted in _COLUMNS if wanted in names}
    reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])), delimiter=delimiter)
    rows: list[FileRow] = []
    offset = start + 1  # lines before the first data row
    previous = 0
    try:
        for record in reader:
            line, previous = offset + previous + 1, reader.line_num
            row = _csv_row(line, record, column)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        raise UrlFileError(f"{name} line {offset + reader.line_num}: {exc}") from None
    return rows


def _csv_row(line: int, record: list[str], column: Mapping[str, int]) -> FileRow | None:
    def cell(name: str) -> str:
        index = column.get(name)
        return record[index].strip() if index is not None and index < len(record) else ""

    if not any(value.strip() for value in record):
        return None
    url, seller = cell("url"), cell("seller") or None
    if url.startswith("#"):
        return None  # a commented-out row
    if not url:
        return FileRow(line, "", problem="the url column is empty")
    evidence = tuple(link.rstrip(",;") for link in cell("evidence").split())
    for link in evidence:
        if not _EVIDENCE_LINK.match(link):
            return FileRow(line, url, problem=f"evidence {link[:80]!r} is not an http(s) link")
    return FileRow(line, url, seller, evidence)
