"""Correcting a recorded decision: an approver, giving a reason, puts decided listings of a notice
(removed, rejected, needs information) back in review or records another decision instead.

One transaction, refused whole or done whole: the intake lock (a reopened listing is open again,
and intakes must see it or be seen by it), the notice's row lock (a press or a job on the same
notice waits), the checks, the guarded moves (`LISTING_CORRECTIONS`), a `status_changed` and a
`decision_corrected` event per listing (the latter naming the decision it replaces, who recorded
it and when, and why it was corrected), the thread's reply and the parent's refresh. The earlier
decision's events are never touched: the trail keeps both.

Relisted listings are not offered: they were removed and reported again, and their new case
tracks them. A listing whose key is open in another case (reported again after a rejection)
cannot be reopened: a key is open in one case at a time.

What a correction does to the figures (see `storage.stats`): they count each listing's current
status, so the corrected decision replaces the old one. A correction to another decision keeps
the time the first was recorded (the platform decided then); one back to in review clears it,
and the decision recorded next sets it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref, thread_link
from bot.core.platforms import platform_name
from bot.core.states import CORRECTABLE, CORRECTION_TARGETS, ListingStatus, NoticeState
from bot.delivery.channel import adapter_for
from bot.delivery.person import DeliveryError, load_notice, locked_notice
from bot.delivery.plan import enqueue_poll
from bot.delivery.states import move_listings
from bot.jobs.notify import enqueue_thread_reply
from bot.runtime import Runtime
from bot.slack_ui.corrections import (
    LISTINGS,
    REASON,
    REASON_LENGTH,
    STATUS,
    Corrected,
    correction_posted,
    correction_view,
    label,
)
from storage.cases import hold_intake_lock
from storage.events import add_events, latest_status_changes
from storage.listings import find_open_listings
from storage.models import Case, Event, Listing, Notice

DOING = "correct a recorded decision"


class CorrectionRefused(DeliveryError):
    """A correction that cannot be made as asked; `field` is the form block the message goes
    beside."""

    def __init__(self, message: str, *, field: str = LISTINGS) -> None:
        super().__init__(message)
        self.field = field


def _is_open(status: str) -> bool:
    return ListingStatus(status).is_open


async def correction_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form **Correct decision…** opens, offering the notice's decided listings."""
    await rt.access.require_approver(actor, doing=DOING)
    async with rt.db.sessions() as session:
        notice, _, listings = await load_notice(session, notice_id)
    decided = [
        (item.id or 0, item.key, item.status) for item in listings if item.status in CORRECTABLE
    ]
    if not decided:
        raise DeliveryError(
            "No listing of this notice has a decision to correct: only removed, rejected and "
            "needs-information decisions can be (a relisted listing is followed in its new case)."
        )
    return correction_view(notice_id=notice_id, platform=notice.platform, listings=decided)


async def correct_decision(
    rt: Runtime,
    *,
    notice_id: int,
    listing_ids: Sequence[int],
    to: str,
    reason: str,
    actor: str,
    opened_with: Mapping[int, str],
) -> int:
    """Correct the decision of some listings of a notice (`opened_with`: the status the form
    showed each in); returns how many were corrected. Refused whole (CorrectionRefused) without a
    reason, for a listing decided again since the form was opened, or one whose key another case
    holds open."""
    reason = reason.strip()
    if not reason:
        raise CorrectionRefused(
            "Say why the decision is corrected: the thread shows it beside both decisions.",
            field=REASON,
        )
    if len(reason) > REASON_LENGTH:  # the form stops there; a request made by hand may not
        raise CorrectionRefused(
            f"Keep the reason under {REASON_LENGTH:,} characters.", field=REASON
        )
    target = next((status for status in CORRECTION_TARGETS if status == to), None)
    if target is None:
        raise CorrectionRefused("Choose the state the listings go to.", field=STATUS)
    await rt.access.require_approver(actor, doing=DOING)  # before the locks: it may ask Slack
    async with rt.db.transaction() as session:
        await hold_intake_lock(session)
        notice, case, listings = await locked_notice(session, notice_id)
        chosen = _chosen(listings, listing_ids, target, opened_with)
        await _refuse_keys_open_elsewhere(session, chosen, target)
        previous = await latest_status_changes(session, [item.id or 0 for item in chosen])
        items = [_corrected(item, previous.get(item.id or 0)) for item in chosen]
        polled = any(_is_open(item.status) for item in listings)  # before the moves
        moved = await _move(session, items, target)
        if len(moved) < len(items):  # a poll recorded the platform's word since our read
            raise CorrectionRefused(_meanwhile(notice))
        await add_events(session, _events(case, items, target, reason, actor))
        checked = await _check_again(rt, session, notice, target, polled=polled)
        text, blocks = correction_posted(
            platform=notice.platform,
            to=target,
            reason=reason,
            actor=actor,
            reporter_id=case.reporter_id,
            items=items,
            checked=checked,
        )
        assert case.id is not None
        await enqueue_thread_reply(
            session, case_id=case.id, text=text, blocks=blocks, refresh_parent=True
        )
    rt.metrics.count_decisions((item.platform, target) for item in items)
    return len(items)


def _chosen(
    listings: Sequence[Listing],
    listing_ids: Sequence[int],
    target: ListingStatus,
    opened_with: Mapping[int, str],
) -> list[Listing]:
    """The notice's listings the person chose, once each may be corrected to `target`."""
    wanted = set(listing_ids)
    chosen = [item for item in listings if item.id in wanted]
    if not chosen:
        raise CorrectionRefused("Choose at least one listing of this notice.")
    if changed := [item for item in chosen if opened_with.get(item.id or 0) != item.status]:
        item = changed[0]
        raise CorrectionRefused(
            f"{item.key} is {label(item.status)} now, not as this form showed it; nothing was "
            "corrected. Close the form and open it again to see where it stands."
        )
    if undecided := [item for item in chosen if item.status not in CORRECTABLE]:
        item = undecided[0]
        raise CorrectionRefused(
            f"{item.key} is {label(item.status)}: only a removed, rejected or needs-information "
            "decision can be corrected."
        )
    if same := [item for item in chosen if item.status == target]:
        raise CorrectionRefused(
            f"{same[0].key} is already {label(target)}: choose another state, or leave it out.",
            field=STATUS,
        )
    return chosen


async def _refuse_keys_open_elsewhere(
    session: AsyncSession, chosen: Sequence[Listing], target: ListingStatus
) -> None:
    """A removed or rejected listing reopened is open again; its key may be open in one case
    only. Under the intake lock, no report can take the key between this check and the move."""
    if not target.is_open:
        return
    reopening = [item for item in chosen if not _is_open(item.status)]
    taken = await find_open_listings(session, [item.key for item in reopening])
    for item in reopening:
        if (other := taken.get(item.key)) is not None:
            where = case_ref(other.case_id)
            if other.channel_id and other.thread_ts:
                where += f" ({thread_link(other.channel_id, other.thread_ts)})"
            raise CorrectionRefused(
                f"{item.key} was reported again and is open in {where}: it cannot be reopened "
                f"here as well. Nothing was corrected; follow it in {case_ref(other.case_id)}, "
                "or correct this one to another decision."
            )


def _corrected(item: Listing, was: Event | None) -> Corrected:
    """A listing's correction as read before it is made: the decision it had, who recorded it and
    when (its latest status change)."""
    assert item.id is not None
    if was is not None and was.detail.get("to") != item.status:
        was = None  # it recorded something else: who recorded this decision is not known
    return Corrected(
        listing_id=item.id,
        notice_id=item.notice_id,
        platform=item.platform,
        url=item.url,
        key=item.key,
        old=item.status,
        previous_event=was.id if was else None,
        previous_actor=was.actor if was else None,
        previous_at=was.created_at if was else None,
    )


async def _move(
    session: AsyncSession, items: Sequence[Corrected], target: ListingStatus
) -> set[int]:
    """The guarded moves, one per status corrected from; the old decision's reason is cleared
    (the correction's is in its events)."""
    by_status: dict[str, list[int]] = defaultdict(list)
    for item in items:
        by_status[item.old].append(item.listing_id)
    moved: set[int] = set()
    for status, ids in by_status.items():
        moved |= await move_listings(
            session, ids, target, correcting=True, only_from={ListingStatus(status)}
        )
    return moved


def _events(
    case: Case, items: Sequence[Corrected], target: ListingStatus, reason: str, actor: str
) -> list[dict[str, Any]]:
    """Per listing: the status change, and the correction naming the decision it replaces."""
    events: list[dict[str, Any]] = []
    for item in items:
        common = {
            "case_id": case.id,
            "listing_id": item.listing_id,
            "notice_id": item.notice_id,
            "actor": actor,
        }
        move = {"from": item.old, "to": str(target), "reason": reason}
        corrected = {
            **move,
            "previous_actor": item.previous_actor,
            "previous_at": item.previous_at.isoformat() if item.previous_at else None,
            # text on both databases: the scorecard compares it with an event id as text
            "corrects": None if item.previous_event is None else str(item.previous_event),
        }
        events.append({**common, "kind": "status_changed", "detail": {**move, "reference": None}})
        events.append({**common, "kind": "decision_corrected", "detail": corrected})
    return events


async def _check_again(
    rt: Runtime, session: AsyncSession, notice: Notice, target: ListingStatus, *, polled: bool
) -> bool:
    """Whether the platform is asked again for reopened listings: on a notice the bot checks, its
    checks resume, unless they never stopped (`polled`: a listing of it was open, so its next poll
    is queued already)."""
    if not target.is_open or notice.status != NoticeState.SENT:
        return False
    if not adapter_for(rt, notice).can_check:
        return False
    if not polled:
        await enqueue_poll(session, notice, config=rt.config)
    return True


def _meanwhile(notice: Notice) -> str:
    return (
        f"A listing of this notice to {platform_name(notice.platform)} changed just now; nothing "
        "was corrected. "
        "Look at the thread, then open the form again."
    )
