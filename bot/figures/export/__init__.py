"""Export cases, listings, notices and their full event timeline: CSV, JSON, or Lumen notices.

The formats are documented in docs/export.md. In short:

- `csv` — one row per listing, with its case's fields and a compact `timeline` column;
- `json` — one document, cases → listings → events (plus each case's notices, each with the
  notice as it was sent, and case-level events), one case per line;
- `lumen` — a JSON array with one entry per sent notice, each the request body Lumen's API takes,
  built from the notice as it was sent (its kept record), beside that record's identity.

`csv` and `json` are built by `tabular`, `lumen` by `lumen`; `records` reads the database.
`since` keeps the cases reported at or after that moment. Timestamps are UTC, ISO 8601 with `Z`.
Cases are read in chunks of CASE_CHUNK, each in its own short transaction, and `export_chunks`
yields the output piece by piece, so a large export neither holds a lock nor the whole data set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from bot.config.schema import AppConfig
from bot.core.states import NoticeState
from bot.figures.export.lumen import lumen_notice
from bot.figures.export.records import iso, read_records
from bot.figures.export.tabular import CSV_COLUMNS, JSON_VERSION, case_json, csv_line, csv_rows
from storage.db import Database

ExportFormat = Literal["csv", "json", "lumen"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "json", "lumen")
CASE_CHUNK = 200


async def export(
    db: Database, config: AppConfig, *, format: ExportFormat, since: datetime | None
) -> str:
    """The whole export as one string (see `export_chunks` to write it piece by piece)."""
    return "".join([piece async for piece in export_chunks(db, config, format=format, since=since)])


async def export_chunks(
    db: Database, config: AppConfig, *, format: ExportFormat, since: datetime | None
) -> AsyncIterator[str]:
    """The export in pieces; concatenated they are the document."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; one of {', '.join(FORMATS)}")
    records = read_records(db, since=since, chunk=CASE_CHUNK)
    if format == "csv":
        yield csv_line(CSV_COLUMNS)
        async for record in records:
            for row in csv_rows(record):
                yield csv_line(row)
        return

    opening = (
        "[\n"
        if format == "lumen"
        else f'{{"version": {JSON_VERSION}, "since": {json.dumps(iso(since))}, "cases": [\n'
    )
    yield opening
    first = True
    async for record in records:
        items: list[dict[str, Any]]
        if format == "json":
            items = [case_json(record)]
        else:
            items = [
                lumen_notice(config, record, notice)
                for notice in record.notices
                if notice.status == NoticeState.SENT
            ]
        for item in items:
            yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False)
            first = False
    yield ("\n" if not first else "") + ("]\n" if format == "lumen" else "]}\n")
