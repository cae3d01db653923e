"""Export cases, listings, notices and their full event timeline: CSV, JSON, or Lumen notices.

The formats are documented in docs/export.md. In short:

- `csv` — one row per listing, with its case's fields and a compact `timeline` column;
- `json` — one document, cases → listings → events (plus each case's notices and case-level
  events), one case per line;
- `lumen` — a JSON array with one entry per sent notice, each the request body Lumen's API
  (`POST https://lumendatabase.org/notices`) takes: principal = rights holder, sender = agent or
  signatory, recipient = platform, the listings as infringing URLs.

`since` keeps the cases reported at or after that moment. Timestamps are UTC, ISO 8601 with `Z`.
Cases are read in chunks of CASE_CHUNK, each in its own short transaction, and `export_chunks`
yields the output piece by piece, so a large export neither holds a lock nor the whole data set.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlmodel import col

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig, Right
from bot.core.cases import case_ref, case_state, thread_link
from bot.core.platforms import PLATFORMS
from bot.delivery.cleaning import clean_line, clean_text
from storage.db import Database
from storage.models import Case, Event, Listing, Notice

ExportFormat = Literal["csv", "json", "lumen"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "json", "lumen")
CASE_CHUNK = 200
JSON_VERSION = 1

CSV_COLUMNS = (
    "case_ref",
    "case_id",
    "case_created_at",
    "brand",
    "right_id",
    "infringement",
    "description",
    "evidence",
    "case_seller",
    "reporter_id",
    "thread_url",
    "listing_id",
    "position",
    "platform",
    "key",
    "url",
    "submitted_url",
    "seller",
    "status",
    "status_reason",
    "reference",
    "notice_id",
    "notice_status",
    "relisted_from",
    "created_at",
    "submitted_at",
    "decided_at",
    "timeline",
)

# Lumen's notice types, by our infringement type (designs and patents have no type of their own).
LUMEN_TYPES = {
    "counterfeit": "Counterfeit",
    "trademark": "Trademark",
    "copyright": "DMCA",
    "design": "Other",
    "patent": "Other",
}
# How a notice travelled, in Lumen's `source` ("sent via") words.
LUMEN_SOURCES = {"portal": "Online Form", "email": "Email"}
_SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class _Chunk:
    cases: list[Case]
    listings: dict[int, list[Listing]]  # case id → its listings
    notices: dict[int, list[Notice]]  # case id → its notices
    events: dict[int, list[Event]]  # case id → its events, oldest first


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
    if format == "csv":
        yield _csv_line(CSV_COLUMNS)
        async for chunk in _chunks(db, since):
            for case in chunk.cases:
                for row in _csv_rows(case, chunk):
                    yield _csv_line(row)
        return

    opening = (
        "[\n"
        if format == "lumen"
        else f'{{"version": {JSON_VERSION}, "since": {json.dumps(_iso(since))}, "cases": [\n'
    )
    yield opening
    first = True
    async for chunk in _chunks(db, since):
        if format == "json":
            items = [_case_json(case, chunk) for case in chunk.cases]
        else:
            items = [
                _lumen_notice(config, case, notice, chunk)
                for case in chunk.cases
                for notice in chunk.notices.get(_id(case), [])
                if notice.status == "sent"
            ]
        for item in items:
            yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False)
            first = False
    yield ("\n" if not first else "") + ("]\n" if format == "lumen" else "]}\n")


async def _chunks(db: Database, since: datetime | None) -> AsyncIterator[_Chunk]:
    last_id = 0
    while True:
        async with db.sessions() as session:
            query = select(Case).where(col(Case.id) > last_id)
            if since is not None:
                query = query.where(col(Case.created_at) >= since)
            cases = list(
                (await session.execute(query.order_by(col(Case.id)).limit(CASE_CHUNK))).scalars()
            )
            if not cases:
                return
            ids = [_id(case) for case in cases]
            listings: dict[int, list[Listing]] = defaultdict(list)
            for listing in (
                await session.execute(
                    select(Listing)
                    .where(col(Listing.case_id).in_(ids))
                    .order_by(col(Listing.case_id), col(Listing.position), col(Listing.id))
                )
            ).scalars():
                listings[listing.case_id].append(listing)
            notices: dict[int, list[Notice]] = defaultdict(list)
            for notice in (
                await session.execute(
                    select(Notice).where(col(Notice.case_id).in_(ids)).order_by(col(Notice.id))
                )
            ).scalars():
                notices[notice.case_id].append(notice)
            events: dict[int, list[Event]] = defaultdict(list)
            for event in (
                await session.execute(
                    select(Event)
                    .where(col(Event.case_id).in_(ids))
                    .order_by(col(Event.created_at), col(Event.id))
                )
            ).scalars():
                events[event.case_id].append(event)
        yield _Chunk(cases, listings, notices, events)
        last_id = ids[-1]


def _id(row: Case | Listing | Notice | Event) -> int:
    assert row.id is not None
    return row.id


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _thread_url(case: Case) -> str | None:
    if case.channel_id and case.thread_ts:
        return thread_link(case.channel_id, case.thread_ts)
    return None


# -- csv ------------------------------------------------------------------------------------------


def _csv_line(cells: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_cell(value) for value in cells])
    return out.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell. Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a
    leading apostrophe, the usual guard against CSV injection."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_SPREADSHEET_TRIGGERS) else text


def _csv_rows(case: Case, chunk: _Chunk) -> list[list[Any]]:
    notices = {_id(notice): notice for notice in chunk.notices.get(_id(case), [])}
    events = chunk.events.get(_id(case), [])
    rows = []
    for listing in chunk.listings.get(_id(case), []):
        notice = notices.get(listing.notice_id) if listing.notice_id is not None else None
        timeline = [
            event
            for event in events
            if event.listing_id == listing.id
            or (event.listing_id is None and event.notice_id in (None, listing.notice_id))
        ]
        rows.append(
            [
                case_ref(_id(case)),
                case.id,
                _iso(case.created_at),
                case.brand,
                case.right_id,
                case.infringement,
                case.description,
                " ".join(case.evidence),
                case.seller,
                case.reporter_id,
                _thread_url(case),
                listing.id,
                listing.position,
                listing.platform,
                listing.key,
                listing.url,
                listing.submitted_url,
                listing.seller,
                listing.status,
                listing.status_reason,
                listing.reference,
                listing.notice_id,
                notice.status if notice else None,
                listing.relisted_from,
                _iso(listing.created_at),
                _iso(listing.submitted_at),
                _iso(listing.decided_at),
                "; ".join(_timeline_entry(event) for event in timeline),
            ]
        )
    return rows


def _timeline_entry(event: Event) -> str:
    """`2026-06-08T09:00:00Z status_changed submitted→removed (not found) by U0LEGAL`."""
    parts = [_iso(event.created_at) or "", event.kind]
    detail = event.detail or {}
    if event.kind == "status_changed":
        parts.append(f"{detail.get('from')}→{detail.get('to')}")
        if detail.get("reason"):
            parts.append(f"({clean_line(str(detail['reason']))[:200]})")
    elif event.notice_id is not None and event.listing_id is None:
        parts.append(f"notice {event.notice_id}")
    parts.append(f"by {event.actor}")
    return " ".join(parts)


# -- json -----------------------------------------------------------------------------------------


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _iso(event.created_at),
        "actor": event.actor,
        "kind": event.kind,
        "notice_id": event.notice_id,
        "detail": event.detail,
    }


def _case_json(case: Case, chunk: _Chunk) -> dict[str, Any]:
    listings = chunk.listings.get(_id(case), [])
    events = chunk.events.get(_id(case), [])
    by_listing: dict[int | None, list[Event]] = defaultdict(list)
    for event in events:
        by_listing[event.listing_id].append(event)
    counts: dict[str, int] = defaultdict(int)
    for listing in listings:
        counts[listing.status] += 1
    return {
        "id": case.id,
        "ref": case_ref(_id(case)),
        "status": case_state(counts),
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "brand": case.brand,
        "right_id": case.right_id,
        "infringement": case.infringement,
        "description": case.description,
        "evidence": list(case.evidence),
        "seller": case.seller,
        "reporter_id": case.reporter_id,
        "team_id": case.team_id,
        "channel_id": case.channel_id,
        "thread_ts": case.thread_ts,
        "thread_url": _thread_url(case),
        "notices": [
            {
                "id": notice.id,
                "platform": notice.platform,
                "channel": notice.channel,
                "adapter": notice.adapter,
                "batch": notice.batch,
                "status": notice.status,
                "reference": notice.reference,
                "attempts": notice.attempts,
                "last_error": notice.last_error,
                "created_at": _iso(notice.created_at),
                "sent_at": _iso(notice.sent_at),
            }
            for notice in chunk.notices.get(_id(case), [])
        ],
        "events": [_event_json(event) for event in by_listing.get(None, [])],
        "listings": [
            {
                "id": listing.id,
                "position": listing.position,
                "platform": listing.platform,
                "key": listing.key,
                "url": listing.url,
                "submitted_url": listing.submitted_url,
                "seller": listing.seller,
                "status": listing.status,
                "status_reason": listing.status_reason,
                "reference": listing.reference,
                "notice_id": listing.notice_id,
                "relisted_from": listing.relisted_from,
                "created_at": _iso(listing.created_at),
                "submitted_at": _iso(listing.submitted_at),
                "decided_at": _iso(listing.decided_at),
                "events": [_event_json(event) for event in by_listing.get(listing.id, [])],
            }
            for listing in listings
        ],
    }


# -- lumen ----------------------------------------------------------------------------------------


def _lumen_notice(config: AppConfig, case: Case, notice: Notice, chunk: _Chunk) -> dict[str, Any]:
    """One notice as the body of Lumen's `POST /notices` (its `notice` object)."""
    holder = config.rights_holder
    found = config.right(case.right_id)
    right = found[1] if found else None
    listings = [item for item in chunk.listings.get(_id(case), []) if item.notice_id == notice.id]
    platform = PLATFORMS.get(notice.platform, notice.platform)
    label = INFRINGEMENT_TYPES.get(case.infringement, case.infringement)
    ref = case_ref(_id(case))
    count = len(listings)

    work: dict[str, Any] = {
        "description": _work_description(right, case),
        "infringing_urls_attributes": [{"url": item.url} for item in listings],
    }
    if right is not None and right.kind == "copyright" and clean_line(right.url):
        work["copyrighted_urls_attributes"] = [{"url": clean_line(right.url)}]

    owner = (clean_line(right.owner) if right else "") or clean_line(holder.name)
    address, country = _address(holder.address)
    principal = _entity(
        owner, kind="organization", address=address, country=country, email=holder.email
    )
    principal["phone"] = clean_line(holder.phone) or None
    agent = clean_line(holder.agent)
    sender_name = agent or clean_line(holder.signatory) or clean_line(holder.name)
    sender = _entity(
        sender_name,
        kind="organization" if agent else "individual",
        address=None if agent else address,
        country=None if agent else country,
        email=holder.email,
    )
    body: dict[str, Any] = {
        "title": f"{label} notice to {platform} ({ref})",
        "type": LUMEN_TYPES.get(case.infringement, "Other"),
        "subject": f"{label}: {clean_line(case.brand)} ({count} listing{'s' if count != 1 else ''} on {platform})",
        "body": clean_text(case.description) or None,
        "date_sent": notice.sent_at.astimezone(UTC).date().isoformat() if notice.sent_at else None,
        "source": LUMEN_SOURCES.get(notice.adapter, "API"),
        "case_id_number": ref,
        "action_taken": _action_taken(listings),
        "jurisdiction_list": clean_line(right.jurisdiction) if right else None,
        "mark_registration_number": clean_line(right.number)
        if right is not None and right.kind == "trademark"
        else None,
        "works_attributes": [work],
        "entity_notice_roles_attributes": [
            {"name": "principal", "entity_attributes": _compact(principal)},
            {"name": "sender", "entity_attributes": _compact(sender)},
            {
                "name": "recipient",
                "entity_attributes": {"name": platform, "kind": "organization"},
            },
        ],
    }
    return {"notice": _compact(body)}


def _work_description(right: Right | None, case: Case) -> str:
    """What is infringed: `ACME (trademark EUIPO 018123456; classes 18, 25)`, or the work."""
    if right is None:
        return clean_line(f"{case.brand} ({case.right_id})")
    if right.kind == "copyright":
        return clean_line(right.work) or clean_line(case.brand)
    registration = [right.kind, clean_line(right.office), clean_line(right.number)]
    details = [" ".join(part for part in registration if part)]
    if right.classes:
        details.append("classes " + ", ".join(str(c) for c in right.classes))
    return f"{clean_line(right.mark) or clean_line(case.brand)} ({'; '.join(details)})"


def _address(address: str | None) -> tuple[str | None, str | None]:
    """`Hauptstr. 1, 10115 Berlin, DE` → (`Hauptstr. 1, 10115 Berlin`, `DE`)."""
    text = clean_line(address)
    if not text:
        return None, None
    head, _, tail = text.rpartition(",")
    tail = tail.strip()
    if head and len(tail) == 2 and tail.isalpha():
        return head.strip(), tail.upper()
    return text, None


def _entity(
    name: str, *, kind: str, address: str | None, country: str | None, email: str | None
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "address_line_1": address,
        "country_code": country,
        "email": clean_line(email) or None,
    }


def _action_taken(listings: Sequence[Listing]) -> str | None:
    """Lumen's `action_taken`: Yes (all removed), Partial (some), No (all rejected)."""
    live = [item for item in listings if item.status != "withdrawn"]
    removed = sum(item.status in ("removed", "relisted") for item in live)
    rejected = sum(item.status == "rejected" for item in live)
    if live and removed == len(live):
        return "Yes"
    if removed:
        return "Partial"
    if live and rejected == len(live):
        return "No"
    return None


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Leave out the keys without a value (Lumen treats a missing key as unknown)."""
    return {key: value for key, value in mapping.items() if value not in (None, "", [])}
