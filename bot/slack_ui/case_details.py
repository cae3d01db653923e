"""What a case's parent message and `/report-listing status` show beside its counts: its evidence
links, its sellers, each listing's last note (the reason of its last status change: the
platform's words, a person's note, why it could not be filed), and who acted last.

The shapes here are filled from the database by `bot.jobs.parent_details`; the message is laid
out by `bot.slack_ui.case_message`. Everything a person or a platform wrote is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.slack_ui.mrkdwn import escape_cut, packed, web_link

MAX_EVIDENCE_SECTIONS = 4
_USER = re.compile(r"[UW][A-Z0-9]{2,30}")
# A status change as the last act names it.
CHANGED_TO: dict[str, str] = {
    ListingStatus.QUEUED: "Queued again",
    ListingStatus.SUBMITTED: "Submitted",
    ListingStatus.IN_REVIEW: "In review",
    ListingStatus.REMOVED: "Removed",
    ListingStatus.REJECTED: "Rejected",
    ListingStatus.NEEDS_INFO: "Needs information",
    ListingStatus.FAILED: "Failed",
    ListingStatus.WITHDRAWN: "Withdrawn",
    ListingStatus.RELISTED: "Relisted",
}


@dataclass(frozen=True)
class ListingLine:
    """One listing as the parent message shows it; `status` is its shown status."""

    platform: str
    url: str
    status: str
    seller: str | None = None
    note: str | None = None  # the reason of its last status change


@dataclass(frozen=True)
class LastAct:
    """The case's latest event someone or something did: who (`actor`), what (`kind`, `detail`)
    and when."""

    actor: str
    kind: str
    detail: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class CaseDetails:
    """What the parent message shows beside the counts. For a bulk case, whose listings are not
    listed, `notes` are its latest noted listings (of `noted`) and `sellers` its most reported
    sellers with their listings (of `seller_count`)."""

    evidence: Sequence[str] = ()
    seller: str | None = None
    last_act: LastAct | None = None
    notes: Sequence[ListingLine] = ()
    noted: int = 0
    sellers: Sequence[tuple[str, int]] = ()
    seller_count: int = 0


def who(actor: str) -> str:
    """An event's actor in mrkdwn: a person mentioned, a platform checked by the bot, the bot."""
    if _USER.fullmatch(actor):
        return f"<@{actor}>"
    if actor.startswith("platform:"):
        return f"{escape_cut(platform_name(actor.removeprefix('platform:')), 100)} (poll)"
    if actor in ("bot", "mailbox"):
        return f"the {actor}"
    return escape_cut(actor, 50)


def last_act_text(act: LastAct, zone: ZoneInfo) -> str:
    """`<@U123> recorded Removed · 2026-06-08 10:00 CEST`."""
    when = act.at.astimezone(zone)
    return f"{who(act.actor)} {_what(act)} · {when:%Y-%m-%d %H:%M %Z}"


def _text(detail: Mapping[str, Any], key: str, limit: int) -> str:
    value = detail.get(key)
    return escape_cut(str(value), limit) if value else ""


def _ref(detail: Mapping[str, Any]) -> str:
    reference = _text(detail, "reference", 100)
    return f" (ref. `{reference}`)" if reference else ""


def _what(act: LastAct) -> str:
    detail, kind = act.detail, act.kind
    if kind == "status_changed":
        to = str(detail.get("to") or "")
        changed = escape_cut(CHANGED_TO.get(to, to.replace("_", " ")), 50)
        verb = "said" if act.actor.startswith("platform:") else "recorded"
        return f"{verb} {changed}{_ref(detail)}"
    if kind == "notice_failed":
        if reason := _text(detail, "reason", 150):
            return f"could not file a notice on the platform's form: {reason}"
        return f"could not deliver a notice: {_text(detail, 'error', 150)}"
    if kind == "portal_guide_posted":
        return (
            f"posted the guide to file a notice on {_text(detail, 'portal', 100) or 'its portal'}"
        )
    if kind == "note":
        return f"added a note: {_text(detail, 'note', 150)}"
    if kind == "decision_corrected":
        to = str(detail.get("to") or "")
        changed = escape_cut(CHANGED_TO.get(to, to.replace("_", " ")), 50)
        return f"corrected a decision to {changed}: {_text(detail, 'reason', 150)}"
    simple = {
        "opened": "reported the case",
        "notice_sent": "sent a notice",
        "notice_confirmed": "confirmed a notice was filed",
        "notice_retried": "sent a notice again",
        "notice_withdrawn": "withdrew a notice",
        "withdrawal_asked": "asked to withdraw a notice on its way",
        "notice_held": "held a notice whose fate is unknown",
        "notice_arrived_after_withdrawal": "learnt a withdrawn notice had arrived",
        "lookup_answered": "heard back about a held notice",
        "evidence_added": "added evidence",
        "answer_requested": "answered the platform",
        "answer_sent": "sent an answer to the platform",
        "answer_guided": "passed an answer on to the platform",
        "answer_failed": "could not send an answer to the platform",
        "mail_suggested": "found a platform's email about the case",
        "mail_attached": "attached a platform's email to the case",
    }
    return simple.get(kind, escape_cut(kind.replace("_", " "), 60)) + _ref(detail)


def evidence_texts(evidence: Sequence[str]) -> list[str]:
    """The evidence links, as links (each labelled with its address, cut), in as few section
    texts as hold them, at most MAX_EVIDENCE_SECTIONS."""
    if not evidence:
        return []
    lines = ["*Evidence*", *(web_link(url) for url in evidence)]
    return packed(lines, most=MAX_EVIDENCE_SECTIONS)


def sellers_text(sellers: Sequence[tuple[str, int]], seller_count: int) -> str:
    """A bulk case's most reported sellers: `*Sellers* (12)\nShady Deals — 30 listings`."""
    lines = [
        f"{escape_cut(name, 80)} — {count:,} listing{'s' if count != 1 else ''}"
        for name, count in sellers
    ]
    more = seller_count - len(sellers)
    if more > 0:
        lines.append(f"… and {more:,} more seller{'s' if more != 1 else ''}")
    return "\n".join([f"*Sellers* ({seller_count:,})", *lines])
