"""What people do with a notice's buttons: confirm it was filed, say it could not be, send it again,
withdraw it, record the platform's decision; and the forms those open.

Each checks who may act and what the notice's state allows, then changes it with a guarded write
(`bot.delivery.states`): a notice that moved between the read and the write (another person, a
job) is not changed, and the person is told.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.core.states import ListingStatus, NoticeState
from bot.delivery.adapters.base import InvalidReference, ListingDecision
from bot.delivery.channel import adapter_for
from bot.delivery.decisions import apply_decisions
from bot.delivery.plan import enqueue_poll, enqueue_submit
from bot.delivery.states import move_notice
from bot.delivery.submit import fail_notice
from bot.runtime import Runtime
from bot.slack_ui.notice_blocks import confirm_view, decision_view, tracking_buttons
from storage.events import add_event
from storage.models import Case, Listing, Notice
from storage.notices import notice_bundles

N = NoticeState
CONFIRMABLE = frozenset({N.AWAITING_PERSON, N.HELD, N.FAILED})
RETRYABLE = frozenset({N.FAILED, N.HELD})


class DeliveryError(Exception):
    """A person asked for something the notice's state does not allow; the message says why."""


def _already(notice: Notice) -> DeliveryError:
    return DeliveryError(f"This notice is already {notice.status.replace('_', ' ')}.")


def _moved() -> DeliveryError:
    return DeliveryError("This notice changed just now; look at its thread for where it stands.")


def _open(item: Listing) -> bool:
    return ListingStatus(item.status).is_open


async def _load(session: AsyncSession, notice_id: int) -> tuple[Notice, Case, list[Listing]]:
    found = (await notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        raise DeliveryError(f"notice {notice_id} does not exist")
    return found.notice, found.case, found.listings


async def confirm_submission(rt: Runtime, *, notice_id: int, reference: str, actor: str) -> str:
    """A person filed the notice (portal) or found it arrived (held): record the platform's number."""
    reference = reference.strip()
    if not reference:
        raise DeliveryError("Enter the platform's complaint or report number.")
    async with rt.db.transaction() as session:
        notice, case, listings = await _load(session, notice_id)
        await rt.access.require_approver(actor, reporter_id=case.reporter_id)
        if notice.status not in CONFIRMABLE:
            raise _already(notice)
        try:  # in the platform's shape: it is kept, shown, and may go into a request's path
            reference = adapter_for(rt, notice).parse_reference(reference)
        except InvalidReference as exc:
            raise DeliveryError(str(exc)) from None
        assert case.id is not None
        if not await move_notice(
            session,
            notice_id,
            N.SENT,
            only_from=CONFIRMABLE,
            reference=reference,
            sent_at=rt.clock(),
            last_error=None,
        ):
            raise _moved()
        await add_event(
            session,
            case_id=case.id,
            notice_id=notice_id,
            actor=actor,
            kind="notice_confirmed",
            detail={"reference": reference},
        )
        await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, ListingStatus.SUBMITTED, reference=reference)
                for item in listings
                if _open(item)
            ],
            actor=actor,
            by_person=True,
            extra_blocks=[tracking_buttons(notice_id)],
        )
        if adapter_for(rt, notice).can_check:
            await enqueue_poll(session, notice, config=rt.config, now=rt.clock())
        return case_ref(case.id)


async def not_submitted(rt: Runtime, *, notice_id: int, actor: str) -> None:
    """The reporter could not file the notice on the portal."""
    async with rt.db.sessions() as session:
        notice, case, listings = await _load(session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    if notice.status != N.AWAITING_PERSON:
        raise _already(notice)
    error = "the reporter could not file it on the platform's form"
    if not await fail_notice(
        rt, None, notice, case, listings, error, only_from={N.AWAITING_PERSON}
    ):
        raise _moved()


async def retry_notice(rt: Runtime, *, notice_id: int, actor: str) -> None:
    """Send a failed (or held, on a person's word) notice again."""
    async with rt.db.transaction() as session:
        notice, case, listings = await _load(session, notice_id)
        await rt.access.require_approver(actor)
        if notice.status not in RETRYABLE:
            raise DeliveryError(
                f"Only a failed or held notice can be sent again; this one is {notice.status.replace('_', ' ')}."
            )
        assert case.id is not None
        if not await move_notice(
            session, notice_id, N.PENDING, only_from=RETRYABLE, last_error=None
        ):
            raise _moved()
        await add_event(
            session,
            case_id=case.id,
            notice_id=notice_id,
            actor=actor,
            kind="notice_retried",
            detail={"from": notice.status},
        )
        await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, ListingStatus.QUEUED)
                for item in listings
                if item.status == ListingStatus.FAILED
            ],
            actor=actor,
            by_person=True,
        )
        await enqueue_submit(session, notice_id=notice_id, case_id=case.id)
    rt.wake_worker()


async def record_decision(
    rt: Runtime, *, notice_id: int, status: str, listing_ids: list[int], note: str, actor: str
) -> int:
    """A person records the platform's decision for some listings of a notice; returns how many changed."""
    try:
        decided = ListingStatus(status)
    except ValueError:
        raise DeliveryError("Choose what the platform decided.") from None
    async with rt.db.transaction() as session:
        _, case, listings = await _load(session, notice_id)
        await rt.access.require_approver(actor)
        wanted = set(listing_ids)
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, decided, note.strip() or None)
                for item in listings
                if item.id in wanted
            ],
            actor=actor,
            by_person=True,
        )
        rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
        return len(changes)


async def withdraw(rt: Runtime, *, notice_id: int, actor: str) -> int:
    """Stop tracking a notice's open listings (the team withdrew them). The notice itself is
    withdrawn where its state allows (not while it is being sent, nor once sent)."""
    async with rt.db.transaction() as session:
        _, case, listings = await _load(session, notice_id)
        await rt.access.require_approver(actor)
        assert case.id is not None
        await move_notice(session, notice_id, N.WITHDRAWN)
        changes = await apply_decisions(
            session,
            case=case,
            listings=listings,
            decisions=[
                ListingDecision(item.id or 0, ListingStatus.WITHDRAWN)
                for item in listings
                if _open(item)
            ],
            actor=actor,
            by_person=True,
        )
        return len(changes)


async def decision_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form to record a decision, listing the notice's open listings."""
    async with rt.db.sessions() as session:
        notice, _, listings = await _load(session, notice_id)
    await rt.access.require_approver(actor)
    choices = [(item.id or 0, item.key) for item in listings if _open(item)]
    if not choices:
        raise DeliveryError("Every listing of this notice is already decided.")
    return decision_view(notice_id=notice_id, platform=notice.platform, listings=choices)


async def confirm_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    async with rt.db.sessions() as session:
        notice, case, _ = await _load(session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    if notice.status not in (N.AWAITING_PERSON, N.HELD):
        raise _already(notice)
    return confirm_view(notice_id=notice_id, platform=notice.platform)
