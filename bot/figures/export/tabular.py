"""The team's own record: CSV (one row per listing, with a compact timeline) and JSON (cases →
listings → events, with each case's notices, each as it was sent, and case-level events).
docs/export.md has every column and key."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.core.cases import case_state, thread_link
from bot.delivery.cleaning import clean_line
from bot.figures.export.as_sent import as_sent
from bot.figures.export.records import CaseRecord, iso, row_id
from storage.models import Case, Event, NoticeRecord

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
    "notice_kept_at",
    "notice_sha256",
    "notice_message_id",
    "notice_path",
)
_SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _thread_url(case: Case) -> str | None:
    if case.channel_id and case.thread_ts:
        return thread_link(case.channel_id, case.thread_ts)
    return None


# -- csv ------------------------------------------------------------------------------------------


def csv_line(cells: Sequence[Any]) -> str:
    """One CSV line (RFC 4180, CRLF), every cell guarded against becoming a formula."""
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


def csv_rows(record: CaseRecord) -> list[list[Any]]:
    """A case's rows, one per listing, in the order of CSV_COLUMNS."""
    case = record.case
    notices = {row_id(notice): notice for notice in record.notices}
    rows = []
    for listing in record.listings:
        notice = notices.get(listing.notice_id) if listing.notice_id is not None else None
        timeline = [
            event
            for event in record.events
            if event.listing_id == listing.id
            or (event.listing_id is None and event.notice_id in (None, listing.notice_id))
        ]
        rows.append(
            [
                record.ref,
                case.id,
                iso(case.created_at),
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
                iso(listing.created_at),
                iso(listing.submitted_at),
                iso(listing.decided_at),
                "; ".join(_timeline_entry(event) for event in timeline),
                *_kept_cells(record.kept.get(listing.notice_id or 0)),
            ]
        )
    return rows


def _kept_cells(kept: NoticeRecord | None) -> list[Any]:
    """The listing's notice as sent: when it was kept, its SHA-256, its Message-ID, its path."""
    if kept is None:
        return [None, None, None, None]
    return [iso(kept.created_at), kept.sha256, kept.message_id, kept.path]


def _timeline_entry(event: Event) -> str:
    """`2026-06-08T09:00:00Z status_changed submitted→removed (not found) by U0LEGAL`."""
    parts = [iso(event.created_at) or "", event.kind]
    detail = event.detail or {}
    if event.kind == "status_changed":
        parts.append(f"{detail.get('from')}→{detail.get('to')}")
        if detail.get("reason"):
            parts.append(f"({clean_line(str(detail['reason']))[:200]})")
    elif event.kind.startswith("mail_") and detail.get("mail_sha256"):
        parts.append(f"email {str(detail['mail_sha256'])[:12]}")  # bot.mailbox.suggestions
    elif event.notice_id is not None and event.listing_id is None:
        parts.append(f"notice {event.notice_id}")
    parts.append(f"by {event.actor}")
    return " ".join(parts)


# -- json -----------------------------------------------------------------------------------------


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.created_at),
        "actor": event.actor,
        "kind": event.kind,
        "notice_id": event.notice_id,
        "detail": event.detail,
    }


def case_json(record: CaseRecord) -> dict[str, Any]:
    """A case as one JSON object: its fields, notices, case-level events and listings (each with
    its own events)."""
    case = record.case
    by_listing: dict[int | None, list[Event]] = defaultdict(list)
    for event in record.events:
        by_listing[event.listing_id].append(event)
    counts: dict[str, int] = defaultdict(int)
    for listing in record.listings:
        counts[listing.status] += 1
    return {
        "id": case.id,
        "ref": record.ref,
        "status": case_state(counts),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
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
                "created_at": iso(notice.created_at),
                "sent_at": iso(notice.sent_at),
                "as_sent": as_sent(record.kept.get(row_id(notice)), content=True),
            }
            for notice in record.notices
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
                "created_at": iso(listing.created_at),
                "submitted_at": iso(listing.submitted_at),
                "decided_at": iso(listing.decided_at),
                "events": [_event_json(event) for event in by_listing.get(listing.id, [])],
            }
            for listing in record.listings
        ],
    }
