"""Sent notices as Lumen notices: each the request body Lumen's API (`POST
https://lumendatabase.org/notices`) takes, with principal = rights holder, sender = agent or
signatory, recipient = platform, and the listings as infringing URLs (docs/export.md).

Built from the notice as it was sent (its kept record's facts), never from today's app.yaml: a
rights holder renamed since is not put on an old notice. Only a notice sent before notices were
kept is rebuilt from app.yaml, and its entry says so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig, Right, RightsHolder
from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.delivery.cleaning import clean_line, clean_text
from bot.figures.export.as_sent import as_sent
from bot.figures.export.records import CaseRecord, row_id
from storage.models import Case, Listing, Notice, NoticeRecord

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


# Said beside a notice sent before notices were kept: its parts come from today's app.yaml.
REBUILT = (
    "no copy of this notice was kept (sent before notices were kept): rebuilt from app.yaml as it "
    "is at export time, which may differ from what was sent"
)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a Lumen notice says about the notice: as sent (its kept facts) or rebuilt."""

    holder: RightsHolder
    right: Right | None
    right_id: str
    brand: str
    infringement: str
    description: str
    urls: list[str]


def _as_sent(kept: NoticeRecord) -> _Parts:
    """The notice's parts from its kept facts. Built without validation: a record is history,
    and today's rules for app.yaml must not refuse what was sent then."""
    facts = kept.facts
    right = facts.get("right") or {}
    return _Parts(
        holder=RightsHolder.model_construct(**(facts.get("rights_holder") or {})),
        right=Right.model_construct(**right) if right else None,
        right_id=str(right.get("id") or ""),
        brand=str(facts.get("brand") or ""),
        infringement=str(facts.get("infringement") or ""),
        description=str(facts.get("description") or ""),
        urls=[str(item.get("url")) for item in facts.get("listings") or [] if item.get("url")],
    )


def _rebuilt(config: AppConfig, case: Case, listings: Sequence[Listing]) -> _Parts:
    found = config.right(case.right_id)
    return _Parts(
        holder=config.rights_holder,
        right=found[1] if found else None,
        right_id=case.right_id,
        brand=case.brand,
        infringement=case.infringement,
        description=case.description,
        urls=[item.url for item in listings],
    )


def lumen_notice(config: AppConfig, record: CaseRecord, notice: Notice) -> dict[str, Any]:
    """One notice of the case in `record` as the body of Lumen's `POST /notices` (its `notice`
    object), beside `as_sent`: the kept record it was built from. A notice without one is rebuilt
    from today's app.yaml and says so (`as_sent` null, `rebuilt`)."""
    listings = [item for item in record.listings if item.notice_id == notice.id]
    kept = record.kept.get(row_id(notice))
    parts = _as_sent(kept) if kept is not None else _rebuilt(config, record.case, listings)
    entry: dict[str, Any] = {
        "notice": _lumen_body(record, notice, listings, parts, adapter=_adapter(notice, kept)),
        "as_sent": as_sent(kept, content=False),
    }
    if kept is None:
        entry["rebuilt"] = REBUILT
    return entry


def _adapter(notice: Notice, kept: NoticeRecord | None) -> str:
    return kept.adapter if kept is not None else notice.adapter


def _lumen_body(
    record: CaseRecord, notice: Notice, listings: list[Listing], parts: _Parts, *, adapter: str
) -> dict[str, Any]:
    holder, right = parts.holder, parts.right
    platform = platform_name(notice.platform)
    label = INFRINGEMENT_TYPES.get(parts.infringement, parts.infringement)
    count = len(parts.urls)

    work: dict[str, Any] = {
        "description": _work_description(right, parts),
        "infringing_urls_attributes": [{"url": url} for url in parts.urls],
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
        "title": f"{label} notice to {platform} ({record.ref})",
        "type": LUMEN_TYPES.get(parts.infringement, "Other"),
        "subject": f"{label}: {clean_line(parts.brand)} ({count} listing{'s' if count != 1 else ''} on {platform})",
        "body": clean_text(parts.description) or None,
        "date_sent": notice.sent_at.astimezone(UTC).date().isoformat() if notice.sent_at else None,
        "source": LUMEN_SOURCES.get(adapter, "API"),
        "case_id_number": record.ref,
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
    return _compact(body)


def _work_description(right: Right | None, parts: _Parts) -> str:
    """What is infringed: `ACME (trademark EUIPO 018123456; classes 18, 25)`, or the work."""
    if right is None:
        return clean_line(f"{parts.brand} ({parts.right_id})")
    if right.kind == "copyright":
        return clean_line(right.work) or clean_line(parts.brand)
    registration = [right.kind, clean_line(right.office), clean_line(right.number)]
    details = [" ".join(part for part in registration if part)]
    if right.classes:
        details.append("classes " + ", ".join(str(c) for c in right.classes))
    return f"{clean_line(right.mark) or clean_line(parts.brand)} ({'; '.join(details)})"


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
    live = [item for item in listings if item.status != ListingStatus.WITHDRAWN]
    removed = sum(item.status in (ListingStatus.REMOVED, ListingStatus.RELISTED) for item in live)
    rejected = sum(item.status == ListingStatus.REJECTED for item in live)
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
