"""A case's parent message's inputs, read from its summary (`storage.cases.case_summaries`): each
listing with its shown status (*awaiting you* while its portal notice waits for a person), seller
and last note, and the case's evidence, seller and last act."""

from __future__ import annotations

from bot.core.states import shown_status
from bot.slack_ui.case_details import CaseDetails, LastAct, ListingLine
from storage.cases import CaseSummary
from storage.models import Case, Listing


def listing_lines(summary: CaseSummary) -> list[ListingLine]:
    """The previewed listings (a small case's), each with its shown status."""
    return [_line(item, summary.notices) for item in summary.listings]


def case_details(case: Case, summary: CaseSummary) -> CaseDetails:
    """The case's evidence, seller and last act; for a bulk case its latest notes and sellers."""
    act = summary.last_act
    return CaseDetails(
        evidence=tuple(case.evidence or ()),
        seller=case.seller,
        last_act=None if act is None else LastAct(act.actor, act.kind, act.detail, act.created_at),
        notes=[_line(item, {}) for item in summary.bulk.notes],
        noted=summary.bulk.noted,
        sellers=tuple(summary.bulk.sellers),
        seller_count=summary.bulk.seller_count,
    )


def _line(item: Listing, notices: dict[int, str]) -> ListingLine:
    notice = notices.get(item.notice_id) if item.notice_id is not None else None
    return ListingLine(
        platform=item.platform,
        url=item.url,
        status=shown_status(item.status, notice),
        seller=item.seller,
        note=item.status_reason,
    )
