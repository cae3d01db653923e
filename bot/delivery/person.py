"""What people do with a notice's buttons: confirm it was filed or arrived, say it could not be
filed, send it again, withdraw it, record the platform's decision; and the forms those open.

Each locks the notice's row first (`storage.notices.lock_notice`), then checks who may act and
what the notice's state allows, and changes it with guarded writes (`bot.delivery.states`). So two
presses on one notice run one after the other, and the second is answered from what the first
did; a job recording the notice's outcome meanwhile waits for the press, or the press for it.
Whatever is refused is refused whole: nothing of it is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.core.states import NOTICE_TRANSITIONS, ListingStatus, NoticeState, sources
from bot.delivery.adapters.base import InvalidReference, ListingDecision
from bot.delivery.adapters.portal import PortalAdapter
from bot.delivery.channel import adapter_for
from bot.delivery.decisions import allowed, apply_decisions
from bot.delivery.plan import enqueue_poll, enqueue_submit
from bot.delivery.record import NotFiled, fail_in, withdrawal_asked
from bot.delivery.states import move_notice
from bot.jobs.notify import enqueue_thread_reply
from bot.runtime import Runtime
from bot.slack_ui.notice_blocks import (
    MAX_REASON,
    confirm_view,
    decision_view,
    not_filed_view,
    tracking_buttons,
)
from bot.slack_ui.notice_outcomes import (
    PERSON_STATUSES,
    arrived_after_withdrawal,
    note_posted,
    withdrawal_answer,
    withdrawal_note,
)
from storage.events import add_event, add_events
from storage.models import Case, Listing, Notice
from storage.notices import lock_notice, notice_bundles

N = NoticeState
# A confirm form is opened for a notice a person files (a portal) or one that may have arrived.
FORM_STATES = frozenset({N.AWAITING_PERSON, N.HELD})
RETRYABLE = frozenset({N.FAILED, N.HELD})
WITHDRAWABLE = sources(NOTICE_TRANSITIONS, N.WITHDRAWN)  # before it was sent, or not known sent


class DeliveryError(Exception):
    """A person asked for something the notice's state does not allow; the message says why."""


def _already(notice: Notice) -> DeliveryError:
    return DeliveryError(f"This notice is already {notice.status.replace('_', ' ')}.")


def _moved() -> DeliveryError:
    return DeliveryError("This notice changed just now; look at its thread for where it stands.")


def _open(item: Listing) -> bool:
    return ListingStatus(item.status).is_open


async def load_notice(session: AsyncSession, notice_id: int) -> tuple[Notice, Case, list[Listing]]:
    """The notice, its case and its listings; DeliveryError if there is no such notice."""
    found = (await notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        raise DeliveryError(f"notice {notice_id} does not exist")
    return found.notice, found.case, found.listings


async def locked_notice(
    session: AsyncSession, notice_id: int
) -> tuple[Notice, Case, list[Listing]]:
    """The notice, its case and its listings, read after locking the notice's row (held until
    the caller's transaction ends)."""
    if await lock_notice(session, notice_id) is None:
        raise DeliveryError(f"notice {notice_id} does not exist")
    return await load_notice(session, notice_id)


async def _may_resolve(rt: Runtime, actor: str, notice: Notice, case: Case) -> None:
    """Who may say what became of a notice: an approver; for a portal notice also its reporter,
    who files it there. A notice on an API channel (eBay, Mercado Libre, a webhook, email) was sent
    by the bot: only an approver says it arrived."""
    on_portal = notice.adapter == PortalAdapter.name
    await rt.access.require_approver(actor, reporter_id=case.reporter_id if on_portal else None)


def _stale(notice: Notice, opened_for: str | None) -> DeliveryError:
    now = notice.status.replace("_", " ")
    if opened_for is None:
        return DeliveryError(
            f"This notice is no longer waiting for its number: it is {now}. Nothing was saved."
        )
    return DeliveryError(
        f"This form was opened while the notice was {opened_for.replace('_', ' ')}; it is no "
        f"longer (it is {now}{', and was sent again since' if notice.status == opened_for else ''})."
        " Nothing was saved; look at the thread for where it stands."
    )


async def confirm_submission(
    rt: Runtime,
    *,
    notice_id: int,
    reference: str,
    actor: str,
    opened_for: str | None = None,
    sends: int | None = None,
) -> str:
    """A person filed the notice (portal) or found it arrived (held): record the platform's number.
    A form opened for a state the notice has left since (`opened_for`), or for an earlier send of
    it (`sends`), is refused."""
    reference = reference.strip()
    if not reference:
        raise DeliveryError("Enter the platform's complaint or report number.")
    async with rt.db.sessions() as session:  # who may act: before the lock (it may ask Slack)
        notice, case, _ = await load_notice(session, notice_id)
    await _may_resolve(rt, actor, notice, case)
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        expected = FORM_STATES if opened_for is None else FORM_STATES & {opened_for}
        if notice.status not in expected or sends not in (None, notice.attempts):
            raise _stale(notice, opened_for)
        try:  # in the platform's shape: it is kept, shown, and may go into a request's path
            reference = adapter_for(rt, notice).parse_reference(reference)
        except InvalidReference as exc:
            raise DeliveryError(str(exc)) from None
        assert case.id is not None
        if not await move_notice(
            session,
            notice_id,
            N.SENT,
            only_from=expected,
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
            detail={"reference": reference, "from": notice.status},
        )
        if withdrawal_asked(listings):  # it was on its way when withdrawn: the platform has it
            text, blocks = arrived_after_withdrawal(platform=notice.platform, reference=reference)
            await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)
            return case_ref(case.id)
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
            await enqueue_poll(session, notice, config=rt.config)
        return case_ref(case.id)


async def not_submitted(
    rt: Runtime,
    *,
    notice_id: int,
    actor: str,
    reason: str,
    opened_for: str | None = None,
    sends: int | None = None,
) -> None:
    """A person could not file the portal notice on the platform's form, and says why: the
    notice and its listings fail, keeping the reason, and the thread says it with a Retry
    button. A form opened for a state the notice has left, or for an earlier guide, is refused."""
    reason = " ".join(reason.split())
    if not reason:
        raise DeliveryError(
            "Say why it could not be filed, e.g. the form rejects the registration number."
        )
    if len(reason) > MAX_REASON:
        raise DeliveryError(f"At most {MAX_REASON:,} characters, please.")
    async with rt.db.sessions() as session:  # who may act: before the lock (it may ask Slack)
        notice, case, _ = await load_notice(session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    async with rt.db.transaction() as session:
        notice, case, _ = await locked_notice(session, notice_id)
        if notice.status != N.AWAITING_PERSON or sends not in (None, notice.attempts):
            raise _stale(notice, opened_for or N.AWAITING_PERSON)
        reason = rt.scrub(reason)
        not_filed = NotFiled(actor=actor, reason=reason)
        error = f"Not filed on the platform's form: {reason}"
        if not await fail_in(
            rt, session, notice, error, only_from={N.AWAITING_PERSON}, not_filed=not_filed
        ):
            raise _moved()


async def not_submitted_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form asking why a portal notice could not be filed; it remembers the guide it was
    opened for."""
    async with rt.db.sessions() as session:
        notice, case, _ = await load_notice(session, notice_id)
    await rt.access.require_approver(actor, reporter_id=case.reporter_id)
    if notice.status != N.AWAITING_PERSON:
        raise _already(notice)
    return not_filed_view(
        notice_id=notice_id,
        platform=notice.platform,
        opened_for=notice.status,
        sends=notice.attempts,
    )


async def retry_notice(rt: Runtime, *, notice_id: int, actor: str) -> None:
    """Send a failed notice again, or a held one on an approver's word (it may be a duplicate)."""
    await rt.access.require_approver(actor)  # before the lock: it may ask Slack
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        if notice.status not in RETRYABLE:
            raise DeliveryError(
                f"Only a failed or held notice can be sent again; this one is {notice.status.replace('_', ' ')}."
            )
        if not any(_open(item) for item in listings):
            raise DeliveryError("Its listings were withdrawn: there is nothing to send again.")
        assert case.id is not None
        if not await move_notice(
            session, notice_id, N.PENDING, only_from={N(notice.status)}, last_error=None
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
    """A person records the platform's decision for some listings of a notice, with an optional
    note; returns how many listings changed. A note on listings already in that status is kept as
    a note. Refused whole if a listing was decided since the form was opened (the platform's
    decision, polled meanwhile, stands) or nothing would be recorded."""
    try:
        decided = ListingStatus(status)
    except ValueError:
        raise DeliveryError("Choose what the platform decided.") from None
    note = note.strip()
    label = PERSON_STATUSES.get(decided, decided.replace("_", " "))
    await rt.access.require_approver(actor)  # before the lock: it may ask Slack
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        assert case.id is not None
        wanted = set(listing_ids)
        chosen = [item for item in listings if item.id in wanted]
        if not chosen:
            raise DeliveryError("Choose at least one listing of this notice.")
        # The form offers open listings only: one closed since was decided by someone else.
        if closed := [item for item in chosen if not _open(item)]:
            raise _decided_meanwhile(notice, closed)
        same = [item for item in chosen if item.status == decided]
        changing = [item for item in chosen if item.status != decided]
        if refused := [i for i in changing if not allowed(i.status, decided, by_person=True)]:
            raise DeliveryError(
                f"{refused[0].key} is {refused[0].status.replace('_', ' ')}: it cannot be "
                f"marked {label}."
            )
        changes = await apply_decisions(
            session,
            case=case,
            listings=changing,
            decisions=[ListingDecision(item.id or 0, decided, note or None) for item in changing],
            actor=actor,
            by_person=True,
        )
        if len(changes) < len(changing):  # a poll moved one between our read and our write
            raise _decided_meanwhile(notice, [])
        if note and same:
            await _add_note(session, notice, case, same, note=note, status=decided, actor=actor)
        elif not changes:
            raise DeliveryError(
                f"Nothing changed: {'this listing is' if len(same) == 1 else 'these listings are'}"
                f" already {label}. Add a note to record something about them."
            )
        rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
        return len(changes)


def _decided_meanwhile(notice: Notice, closed: list[Listing]) -> DeliveryError:
    what = ", ".join(f"{item.key}: {item.status.replace('_', ' ')}" for item in closed[:5])
    return DeliveryError(
        f"{notice.platform} decided meanwhile{f' ({what})' if what else ''}; its decision stands "
        "and nothing was saved. Look at the thread, then record what is still open."
    )


async def _add_note(
    session: AsyncSession,
    notice: Notice,
    case: Case,
    listings: list[Listing],
    *,
    note: str,
    status: str,
    actor: str,
) -> None:
    """A note on listings whose status stays: an event each, and a reply in the thread."""
    assert case.id is not None
    await add_events(
        session,
        [
            {
                "case_id": case.id,
                "listing_id": item.id,
                "notice_id": notice.id,
                "actor": actor,
                "kind": "note",
                "detail": {"note": note, "status": status},
            }
            for item in listings
        ],
    )
    text, blocks = note_posted(
        actor=actor,
        platform=notice.platform,
        status=status,
        listings=[(item.url, item.key) for item in listings],
        note=note,
    )
    await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)


async def withdraw(rt: Runtime, *, notice_id: int, actor: str) -> str:
    """The team takes a notice back; returns what the person is told. A notice not sent yet (or
    not known to be) is withdrawn and never sent. One on its way cannot be stopped: its listings
    are withdrawn, which the job recording its outcome honours (`bot.delivery.record`). One the
    platform has keeps its status; its listings stop being tracked."""
    await rt.access.require_approver(actor)  # before the lock: it may ask Slack
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        assert case.id is not None
        was = NoticeState(notice.status)
        opened = [item for item in listings if _open(item)]
        events: list[dict[str, Any]] = []
        if was == N.WITHDRAWN:
            raise _already(notice)
        if was in WITHDRAWABLE:
            if not await move_notice(session, notice_id, N.WITHDRAWN, only_from={was}):
                raise _moved()
            events.append(_event(case, notice_id, actor, "notice_withdrawn", {"from": was}))
        elif was == N.SENDING:
            if not opened:
                raise DeliveryError(
                    "Its withdrawal was asked for already; the thread will say whether it arrived."
                )
            events.append(_event(case, notice_id, actor, "withdrawal_asked", {"while": was}))
        changes = await apply_decisions(
            session,
            case=case,
            listings=opened,
            decisions=[ListingDecision(item.id or 0, ListingStatus.WITHDRAWN) for item in opened],
            actor=actor,
            by_person=True,
            context=withdrawal_note(was=was, platform=notice.platform),
            events=events,
        )
        return withdrawal_answer(
            was=was, platform=notice.platform, reference=notice.reference, count=len(changes)
        )


def _event(
    case: Case, notice_id: int, actor: str, kind: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "notice_id": notice_id,
        "actor": actor,
        "kind": kind,
        "detail": {key: str(value) for key, value in detail.items()},
    }


async def decision_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form to record a decision, listing the notice's open listings."""
    async with rt.db.sessions() as session:
        notice, _, listings = await load_notice(session, notice_id)
    await rt.access.require_approver(actor)
    choices = [(item.id or 0, item.key) for item in listings if _open(item)]
    if not choices:
        raise DeliveryError(
            "Every listing of this notice is already decided. To change a decision recorded by "
            "mistake, press Correct decision…"
        )
    return decision_view(notice_id=notice_id, platform=notice.platform, listings=choices)


async def confirm_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The form asking for the platform's number, for a portal notice or a held one; it remembers
    the state it was opened for."""
    async with rt.db.sessions() as session:
        notice, case, _ = await load_notice(session, notice_id)
    await _may_resolve(rt, actor, notice, case)
    if notice.status not in FORM_STATES:
        raise _already(notice)
    return confirm_view(
        notice_id=notice_id,
        platform=notice.platform,
        opened_for=notice.status,
        sends=notice.attempts,
    )
