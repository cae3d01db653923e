"""A case's records as its evidence bundle shows them (`bot.evidence.bundle`), read once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.config.schema import AppConfig
from bot.core.cases import case_ref
from storage.cases import get_case
from storage.db import Database
from storage.events import events_of_case
from storage.evidence import items_of_case
from storage.listings import listings_of
from storage.mail_handling import of_case as mails_of_case
from storage.models import (
    Case,
    Event,
    EvidenceItem,
    Listing,
    MailHandling,
    MailMessage,
    NoticeRecord,
)
from storage.notice_records import records_of_case


class BundleError(Exception):
    """The bundle cannot be built; the message says why (no such case, evidence missing)."""


@dataclass(frozen=True, slots=True)
class CaseRecords:
    """Everything of a case the bundle shows, read once."""

    case: Case
    listings: Sequence[Listing]
    records: Sequence[NoticeRecord]
    events: Sequence[Event]
    items: Sequence[EvidenceItem]
    # The platforms' emails about the case (suggested or applied there; not those dismissed as
    # not about it), as kept from the mailbox.
    mails: Sequence[tuple[MailMessage, MailHandling]] = ()

    @property
    def ref(self) -> str:
        return case_ref(self.case.id or 0)


async def read_case(db: Database, case_id: int) -> CaseRecords:
    """The case's records, read in one session; BundleError if there is no such case."""
    async with db.sessions() as session:
        case = await get_case(session, case_id)
        if case is None:
            raise BundleError(f"there is no case {case_ref(case_id)}")
        listings = (await listings_of(session, "case_id", [case_id]))[case_id]
        records = await records_of_case(session, case_id)
        events = await events_of_case(session, case_id)
        items = await items_of_case(session, case_id)
        mails = [
            (message, handling)
            for message, handling in await mails_of_case(session, case_id)
            if handling.state != "dismissed"
        ]
    return CaseRecords(case, listings, records, events, items, mails)


def rights_holder(found: CaseRecords, config: AppConfig) -> dict[str, Any]:
    """The rights holder as the case's first notice named it (what the platforms were told);
    from app.yaml if no notice went out yet."""
    for record in found.records:
        named = record.facts.get("rights_holder")
        if isinstance(named, dict):
            return named
    return config.rights_holder.model_dump(mode="json")
