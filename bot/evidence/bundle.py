"""A case's evidence bundle: one ZIP for counsel or law enforcement.

It holds every notice as sent and every answer to one (`notice_records`, the bytes as they went,
`.eml` / `.json` / `.txt` by media type), the platforms' decisions and every other event (the
timeline, as CSV and JSON), which evidence went with each notice (`notices.json`), the case and its listings (`case.json`), the captures and files
(`evidence/`, the bytes from the evidence store, each checked against its SHA-256), the platforms'
emails about the case as they arrived (`mail/*.eml`, listed in `mail.json`), a one-page
summary (`summary.pdf`, `bot.evidence.summary_pdf`), and `MANIFEST.sha256`: the SHA-256 of every
other file, in `sha256sum` format (`sha256sum -c MANIFEST.sha256` checks them).

Reproducible: the same case and the same records give the same bytes. Files are written in a
fixed order with a fixed timestamp and mode, the PDF with a fixed creation date, and nothing
reads the clock or draws a random number; the bundle's own SHA-256 is then a chain-of-custody
anchor (posted in the case's thread).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config.schema import AppConfig
from bot.evidence.case_records import BundleError, CaseRecords, read_case, rights_holder
from bot.evidence.store import EvidenceStore, EvidenceStoreError, sha256_of
from bot.evidence.summary_pdf import summary_pdf
from storage.db import Database
from storage.models import Event, EvidenceItem, MailHandling, MailMessage, NoticeRecord

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a ZIP can say: no build time in the bytes
MANIFEST = "MANIFEST.sha256"
EXTENSIONS = {"message/rfc822": "eml", "application/json": "json", "text/plain": "txt"}
# The events that are a platform's (or a person's record of a platform's) answer or decision.
DECISION_KINDS = frozenset(
    {"status_changed", "notice_confirmed", "lookup_answered", "notice_arrived_after_withdrawal"}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Bundle:
    ref: str
    data: bytes
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.ref}-evidence.zip"


async def build_bundle(
    db: Database, store: EvidenceStore, config: AppConfig, *, case_id: int
) -> Bundle:
    """The case's bundle. Raises BundleError (no such case, evidence missing or damaged)."""
    found = await read_case(db, case_id)
    files = case_files(found, config)
    for path, item in evidence_paths(found.items).items():
        try:
            files[path] = await store.get(item.sha256)
        except EvidenceStoreError as exc:
            raise BundleError(f"{item.name} of {found.ref}: {exc}") from None
    data = zipped(files)
    return Bundle(found.ref, data, sha256_of(data))


def case_files(found: CaseRecords, config: AppConfig) -> dict[str, bytes]:
    """The bundle's files but the evidence bytes: path → bytes."""
    files: dict[str, bytes] = {}
    for record in found.records:
        files[notice_path(record)] = record.body
    listing_keys = {listing.id: listing.key for listing in found.listings}
    timeline = [_event_row(event, listing_keys) for event in found.events]
    files["timeline.json"] = _json(timeline)
    files["timeline.csv"] = _timeline_csv(timeline)
    files["decisions.json"] = _json([row for row in timeline if row["kind"] in DECISION_KINDS])
    files["notices.json"] = _json([_record_row(record) for record in found.records])
    files["evidence.json"] = _json(
        [_item_row(item, path, listing_keys) for path, item in evidence_paths(found.items).items()]
    )
    for message, _ in found.mails:
        files[mail_path(message)] = message.raw
    files["mail.json"] = _json([_mail_row(message, handling) for message, handling in found.mails])
    files["case.json"] = _json(_case_row(found, config))
    files["summary.pdf"] = summary_pdf(found, config)
    return files


def notice_path(record: NoticeRecord) -> str:
    extension = EXTENSIONS.get(record.media_type, "bin")
    return f"notices/{record.id:04d}-{record.kind}-notice{record.notice_id}-{record.channel}.{extension}"


def mail_path(message: MailMessage) -> str:
    return f"mail/{message.id or 0:04d}.eml"


def evidence_paths(items: Sequence[EvidenceItem]) -> dict[str, EvidenceItem]:
    """Each item's path in the bundle: `evidence/0003-invoice.pdf` (its id, then its name made
    safe for any file system)."""
    return {f"evidence/{item.id:04d}-{_safe(item.name)}": item for item in items}


def zipped(files: Mapping[str, bytes]) -> bytes:
    """The ZIP of `files` with MANIFEST.sha256, reproducibly: sorted paths, fixed time and mode."""
    manifest = "".join(f"{sha256_of(data)}  {path}\n" for path, data in sorted(files.items()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in [*sorted(files.items()), (MANIFEST, manifest.encode())]:
            info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever system builds it
            archive.writestr(info, data, compresslevel=9)
    return out.getvalue()


# -- the rows ------------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _event_row(event: Event, listing_keys: Mapping[int | None, str]) -> dict[str, Any]:
    return {
        "at": _when(event.created_at),
        "actor": event.actor,
        "kind": event.kind,
        "listing": listing_keys.get(event.listing_id) if event.listing_id else None,
        "notice_id": event.notice_id,
        "detail": event.detail,
    }


def _record_row(record: NoticeRecord) -> dict[str, Any]:
    return {
        "file": notice_path(record),
        "sha256": record.sha256,
        "kind": record.kind,
        "outcome": record.outcome,
        "notice_id": record.notice_id,
        "channel": record.channel,
        "adapter": record.adapter,
        "media_type": record.media_type,
        "message_id": record.message_id,
        "in_reply_to": record.in_reply_to,
        "path": record.path,
        "config_sha256": record.config_sha256,
        "actor": record.actor,
        "at": _when(record.created_at),
        # what evidence went with it: attached, or linked (`attached: false`)
        "evidence_items": record.facts.get("evidence_items", []),
    }


def _mail_row(message: MailMessage, handling: MailHandling) -> dict[str, Any]:
    return {
        "file": mail_path(message),
        "sha256": message.sha256,
        "message_id": message.message_id,
        "sender": message.sender,
        "subject": message.subject,
        "notice_id": handling.notice_id,
        "state": handling.state,
        "source": handling.source,
        "suggestions": handling.suggestions,
    }


def _item_row(
    item: EvidenceItem, path: str, listing_keys: Mapping[int | None, str]
) -> dict[str, Any]:
    return {
        "file": path,
        "sha256": item.sha256,
        "kind": item.kind,
        "name": item.name,
        "media_type": item.media_type,
        "size": item.size,
        "listing": listing_keys.get(item.listing_id) if item.listing_id else None,
        "source_url": item.source_url,
        "verdict": item.verdict,
        "note": item.note,
        "added_by": item.added_by,
        "at": _when(item.created_at),
    }


def _case_row(found: CaseRecords, config: AppConfig) -> dict[str, Any]:
    case = found.case
    return {
        "case": found.ref,
        "brand": case.brand,
        "right": case.right_id,
        "infringement": case.infringement,
        "description": case.description,
        "evidence_links": case.evidence,
        "seller": case.seller,
        "reporter": case.reporter_id,
        "opened": _when(case.created_at),
        "rights_holder": rights_holder(found, config),
        "listings": [
            {
                "platform": listing.platform,
                "key": listing.key,
                "url": listing.url,
                "status": listing.status,
                "reason": listing.status_reason,
                "reference": listing.reference,
                "submitted": _when(listing.submitted_at),
                "decided": _when(listing.decided_at),
            }
            for listing in found.listings
        ],
    }


def _timeline_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "actor", "kind", "listing", "notice_id", "detail"])
    for row in rows:
        detail = json.dumps(row["detail"], sort_keys=True, ensure_ascii=False)
        writer.writerow(
            [
                row["at"],
                row["actor"],
                row["kind"],
                row["listing"] or "",
                row["notice_id"] or "",
                detail,
            ]
        )
    return out.getvalue().encode()


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._")[:100] or "file"
