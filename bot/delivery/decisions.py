"""Recording what happens to listings: platform decisions, a person's confirmations, withdrawals.

Every change is one Event, one reply in the case's status thread (what changed, the platform's
words, the reference; the reporter mentioned when a decision needs them), and a refresh of the
parent message. All of it is written in the caller's transaction, so a change is recorded and
announced together or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import platform_name
from bot.core.states import (
    LISTING_TRANSITIONS,
    LISTING_TRANSITIONS_BY_PERSON,
    ListingStatus,
)
from bot.core.states import allowed as table_allows
from bot.delivery.adapters.base import ListingDecision
from bot.delivery.states import move_listings
from bot.jobs.notify import enqueue_parent_update, enqueue_thread_reply
from bot.slack_ui.answer_form import answer_button
from bot.slack_ui.case_message import STATUS_EMOJI
from bot.slack_ui.mrkdwn import escape_cut, listing_link, mrkdwn
from storage.events import add_events
from storage.models import Case, Listing

L = ListingStatus
MENTION_ON = frozenset({L.REMOVED, L.REJECTED, L.NEEDS_INFO, L.FAILED})
_SHOWN = 10
_VERB: dict[str, str] = {
    L.SUBMITTED: "Submitted",
    L.IN_REVIEW: "In review",
    L.REMOVED: "Removed",
    L.REJECTED: "Rejected",
    L.NEEDS_INFO: "Needs information",
    L.FAILED: "Failed",
    L.WITHDRAWN: "Withdrawn",
    L.QUEUED: "Queued again",
}


@dataclass(frozen=True, slots=True)
class Change:
    listing: Listing
    old: str
    new: str
    reason: str | None
    reference: str | None


def allowed(old: str, new: str, *, by_person: bool) -> bool:
    """May a listing go from `old` to `new`? Platform answers only move it forward; a person (an
    approver) may also correct a decision."""
    return table_allows(
        LISTING_TRANSITIONS_BY_PERSON if by_person else LISTING_TRANSITIONS, old, new
    )


async def apply_decisions(
    session: AsyncSession,
    *,
    case: Case,
    listings: Sequence[Listing],
    decisions: Sequence[ListingDecision],
    actor: str,
    by_person: bool = False,
    context: str = "",
    announce: bool = True,
    extra_blocks: Sequence[dict[str, object]] = (),
    events: Sequence[dict[str, Any]] = (),
    detail: dict[str, Any] | None = None,
) -> list[Change]:
    """Record the decisions that change something; announce them in the thread. Returns the changes.

    `listings` are the case's listings as the caller read them. Each status change is conditional
    on the status read: a listing someone else changed meanwhile is left alone (and not announced),
    so no read is repeated here and no change is lost or doubled. Set-based: one update per
    (from, to, reason, reference) group and one insert for these events and the caller's `events`
    (a notice of 150 listings costs a handful of statements). `detail` is added to each change's
    event (where a decision came from: `{"source": "mailbox", "mail_sha256": …}`).
    """
    assert case.id is not None
    wanted = _wanted(case.id, listings, decisions, by_person=by_person)
    moved = await _move(session, wanted, by_person=by_person)
    changes = [change for change in wanted if change.listing.id in moved]
    await add_events(
        session, [*events, *_change_events(case.id, changes, actor=actor, detail=detail)]
    )
    if not changes:
        return changes
    if announce:
        text, blocks = describe_changes(
            changes, reporter_id=case.reporter_id, actor=actor, context=context
        )
        # A platform that needs information gets an answer from the thread.
        asked = sorted({n for c in changes if c.new == L.NEEDS_INFO and (n := c.listing.notice_id)})
        # One job posts the reply and then refreshes the parent message's summary.
        await enqueue_thread_reply(
            session,
            case_id=case.id,
            text=text,
            blocks=[*blocks, *extra_blocks, *(answer_button(n) for n in asked)],
            refresh_parent=True,
        )
    else:
        await enqueue_parent_update(session, case_id=case.id)
    return changes


def _wanted(
    case_id: int,
    listings: Sequence[Listing],
    decisions: Sequence[ListingDecision],
    *,
    by_person: bool,
) -> list[Change]:
    """The decisions that would change one of the case's listings, as the caller read them."""
    by_id = {listing.id: listing for listing in listings if listing.case_id == case_id}
    wanted: list[Change] = []
    for decision in decisions:
        listing = by_id.get(decision.listing_id)
        if listing is None:
            continue
        same = (
            listing.status == decision.status and (decision.reason or None) == listing.status_reason
        )
        if same or not allowed(listing.status, decision.status, by_person=by_person):
            continue
        wanted.append(
            Change(listing, listing.status, decision.status, decision.reason, decision.reference)
        )
    return wanted


async def _move(session: AsyncSession, wanted: Sequence[Change], *, by_person: bool) -> set[int]:
    """Write the changes, each only if its listing is still in the status read; the ids moved."""
    groups: dict[tuple[str, str, str | None, str | None], list[int]] = defaultdict(list)
    for change in wanted:
        assert change.listing.id is not None
        groups[(change.old, change.new, change.reason, change.reference)].append(change.listing.id)
    moved: set[int] = set()
    for (old, new, reason, reference), ids in groups.items():
        moved |= await move_listings(
            session,
            ids,
            ListingStatus(new),
            by_person=by_person,
            only_from={ListingStatus(old)},
            reason=reason,
            reference=reference,
        )
    return moved


def _change_events(
    case_id: int, changes: Sequence[Change], *, actor: str, detail: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case_id,
            "listing_id": change.listing.id,
            "notice_id": change.listing.notice_id,
            "actor": actor,
            "kind": "status_changed",
            "detail": {
                "from": change.old,
                "to": change.new,
                "reason": change.reason,
                "reference": change.reference,
                **(detail or {}),
            },
        }
        for change in changes
    ]


def describe_changes(
    changes: Sequence[Change], *, reporter_id: str, actor: str, context: str = ""
) -> tuple[str, list[dict[str, object]]]:
    """One thread reply for a batch of changes, grouped by new status and reason."""
    groups: dict[tuple[str, str | None, str | None], list[Change]] = defaultdict(list)
    for change in changes:
        groups[(change.new, change.reason, change.reference)].append(change)
    lines = []
    for (status, reason, reference), items in groups.items():
        platform = platform_name(items[0].listing.platform)
        head = f"{STATUS_EMOJI.get(status, '')} *{_VERB.get(status, status)}* on {escape_cut(platform, 100)}"
        if reference:
            head += f" (ref. `{escape_cut(reference, 100)}`)"
        shown = ", ".join(
            listing_link(item.listing.url, item.listing.key[:100]) for item in items[:_SHOWN]
        )
        more = f" and {len(items) - _SHOWN:,} more" if len(items) > _SHOWN else ""
        line = f"{head}: {shown}{more}"
        if reason:
            line += f"\n> {escape_cut(reason, _REASON)}"
        lines.append(line)
    # The mention comes first: a long reply is split into sections, and it must not be cut off.
    if any(change.new in MENTION_ON for change in changes):
        lines.insert(0, f"<@{reporter_id}>")
    by = (
        ""
        if actor in ("bot", "platform", "mailbox") or actor.startswith("platform:")
        else f" · by <@{actor}>"
    )
    footer = f"{escape_cut(context, 500)}{by}" if context or by else ""
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": mrkdwn(text)} for text in _sections(lines)
    ]
    if footer:
        blocks.append({"type": "context", "elements": [mrkdwn(footer.lstrip(" ·"))]})
    summary = "; ".join(f"{_VERB.get(s, s)}: {len(v)}" for (s, _, _), v in groups.items())
    return summary, blocks


_REASON = 1000  # characters of a platform's reason shown per group
_SECTIONS = 40  # a thread reply holds at most 50 blocks; leave room for buttons


def _sections(lines: list[str]) -> list[str]:
    """Lines packed into section texts of at most 3,000 characters, none cut in the middle."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= 3000:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    if len(texts) > _SECTIONS:
        more = "… and more changes than one message holds; the case's status shows them all."
        texts = [*texts[: _SECTIONS - 1], more]
    return texts
