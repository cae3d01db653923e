"""Sent notices as Lumen notices: each the request body Lumen's API (`POST
https://lumendatabase.org/notices`) takes, with principal = rights holder, sender = agent or
signatory, recipient = platform, and the listings as infringing URLs (docs/export.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig, Right
from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.delivery.cleaning import clean_line, clean_text
from bot.figures.export.records import CaseRecord
from storage.models import Case, Listing, Notice

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


def lumen_notice(config: AppConfig, record: CaseRecord, notice: Notice) -> dict[str, Any]:
    """One notice of the case in `record` as the body of Lumen's `POST /notices` (its `notice`
    object)."""
    case = record.case
    holder = config.rights_holder
    found = config.right(case.right_id)
    right = found[1] if found else None
    listings = [item for item in record.listings if item.notice_id == notice.id]
    platform = platform_name(notice.platform)
    label = INFRINGEMENT_TYPES.get(case.infringement, case.infringement)
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
        "title": f"{label} notice to {platform} ({record.ref})",
        "type": LUMEN_TYPES.get(case.infringement, "Other"),
        "subject": f"{label}: {clean_line(case.brand)} ({count} listing{'s' if count != 1 else ''} on {platform})",
        "body": clean_text(case.description) or None,
        "date_sent": notice.sent_at.astimezone(UTC).date().isoformat() if notice.sent_at else None,
        "source": LUMEN_SOURCES.get(notice.adapter, "API"),
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
