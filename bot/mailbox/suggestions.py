"""What the bot does with a platform's email once it is kept: suggest its decision in the case's
thread, apply it when an approver presses Apply (or changes it first), or send it to the triage
inbox when it is not about that case; with `mailbox.auto_apply`, apply it without a click when
the match and the outcome leave no doubt.

What happens to a message is kept in `mail_handling` (`storage.mail_handling`; the message itself
is write-once). Every change is a guarded write of its state, made before anything else in the
same transaction: two presses of Apply apply once, and the second is told who pressed first.
Decisions go through `bot.delivery.decisions.apply_decisions`, with `source: mailbox` and the
message's SHA-256 in each event, so the figures can tell them from a poll's or a person's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.core.states import ListingStatus
from bot.delivery.adapters.base import ListingDecision
from bot.delivery.decisions import Change, apply_decisions
from bot.delivery.person import DeliveryError
from bot.jobs.notify import enqueue_thread_reply
from bot.mailbox.classify import DECISIVE, Named, mentions_of, per_listing
from bot.mailbox.message import ReadMessage, read_message
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from storage import mail_handling as handling
from storage import mailbox as store
from storage.cases import get_case
from storage.events import add_event
from storage.models import Case, Listing, MailHandling, MailMessage

L = ListingStatus
# What each outcome records; `unknown` records nothing.
OUTCOME_STATUS: Mapping[str, ListingStatus] = {
    "removed": L.REMOVED,
    "rejected": L.REJECTED,
    "needs_info": L.NEEDS_INFO,
    "received": L.IN_REVIEW,
}
AUTO_MATCHES = frozenset({"reply_header", "complaint_number"})
MAILBOX_ACTOR = "mailbox"  # who applied a decision automatically
_EXCERPT = 1000


class MailRefused(DeliveryError):
    """A person asked for something the email's state does not allow; the message says why."""


@dataclass(frozen=True)
class Kept:
    """A message just kept, with what the reader made of it."""

    mail_id: int
    sha256: str
    sender: str | None
    subject: str | None
    text: str
    source: str  # mailbox | slack
    case_id: int | None = None
    notice_id: int | None = None
    platform: str | None = None
    matched_by: str | None = None
    suggestions: Sequence[dict[str, Any]] = ()


async def suggest_for(
    session: AsyncSession, message: ReadMessage, *, case_id: int, notice_id: int | None,
    platform: str | None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The outcome the message says for each listing of the notice (or of the case)."""
    listings = await store.listings_of(session, case_id=case_id, notice_id=notice_id)
    named = [
        Named(listing.id, mentions_of(key=listing.key, url=listing.url))
        for listing in listings
        if listing.id is not None
    ]
    outcomes = per_listing(message.text, named, platform=platform)
    return [{"listing_id": lid, "outcome": str(outcome)} for lid, outcome in outcomes.items()]


async def after_kept(session: AsyncSession, kept: Kept, *, auto_apply: bool) -> str:
    """A message just kept: suggested in its case's thread (or applied, under `auto_apply`), or
    put in the triage inbox. Returns its handling state. In the caller's transaction."""
    if kept.case_id is None:
        await handling.start(
            session, mail_id=kept.mail_id, state=handling.INBOX, source=kept.source
        )
        return handling.INBOX
    automatic = auto_apply and _unambiguous(kept)
    await handling.start(
        session,
        mail_id=kept.mail_id,
        state=handling.APPLIED if automatic else handling.SUGGESTED,
        source=kept.source,
        case_id=kept.case_id,
        notice_id=kept.notice_id,
        matched_by=kept.matched_by,
        suggestions=list(kept.suggestions),
        actor=MAILBOX_ACTOR if automatic else None,
    )
    if not automatic:
        await post_suggestion(session, kept, actor=MAILBOX_ACTOR, kind="mail_suggested")
        return handling.SUGGESTED
    case = await get_case(session, kept.case_id)
    assert case is not None
    await _event(session, kept, "mail_suggested", actor=MAILBOX_ACTOR)
    card = await _card(session, kept, case)  # the email first, then what it changed
    text, blocks = ui.settled(card, note=ui.applied_note(MAILBOX_ACTOR, automatically=True))
    await enqueue_thread_reply(session, case_id=kept.case_id, text=text, blocks=blocks)
    await _apply(session, kept, case, _outcomes(kept.suggestions), actor=MAILBOX_ACTOR)
    return handling.APPLIED


async def post_suggestion(session: AsyncSession, kept: Kept, *, actor: str, kind: str) -> None:
    """The suggestion with its buttons, queued in the case's thread, and its event (`kind`)."""
    assert kept.case_id is not None
    case = await get_case(session, kept.case_id)
    assert case is not None
    await _event(session, kept, kind, actor=actor)
    text, blocks = ui.suggestion(await _card(session, kept, case))
    await enqueue_thread_reply(session, case_id=kept.case_id, text=text, blocks=blocks)


def _unambiguous(kept: Kept) -> bool:
    """Matched by a reply header or an exact complaint number, to one notice, and every listing
    given the same decisive outcome."""
    outcomes = {str(item["outcome"]) for item in kept.suggestions}
    return (
        kept.matched_by in AUTO_MATCHES
        and kept.notice_id is not None
        and len(outcomes) == 1
        and outcomes <= {str(o) for o in DECISIVE}
    )


def _outcomes(suggestions: Sequence[dict[str, Any]]) -> dict[int, str]:
    return {int(item["listing_id"]): str(item["outcome"]) for item in suggestions}


async def _card(session: AsyncSession, kept: Kept, case: Case) -> ui.MailCard:
    assert case.id is not None
    listings = {
        item.id: item
        for item in await store.listings_of(session, case_id=case.id, notice_id=kept.notice_id)
    }
    shown = [
        (listings[lid].key, listings[lid].url, outcome)
        for lid, outcome in _outcomes(kept.suggestions).items()
        if lid in listings
    ]
    return ui.MailCard(
        mail_id=kept.mail_id,
        sender=kept.sender or "",
        subject=kept.subject or "",
        excerpt=kept.text[:_EXCERPT],
        sha256=kept.sha256,
        matched_by=kept.matched_by,
        listings=shown,
        source=kept.source,
    )


async def _event(session: AsyncSession, kept: Kept, kind: str, *, actor: str, **more: Any) -> None:
    assert kept.case_id is not None
    await add_event(
        session,
        case_id=kept.case_id,
        notice_id=kept.notice_id,
        actor=actor,
        kind=kind,
        detail={
            "mail_id": kept.mail_id,
            "mail_sha256": kept.sha256,
            "sender": (kept.sender or "")[:200],
            "subject": (kept.subject or "")[:300],
            "source": kept.source,
            **more,
        },
    )


async def _apply(
    session: AsyncSession, kept: Kept, case: Case, outcomes: Mapping[int, str], *, actor: str,
    note: str = "",
) -> list[Change]:  # fmt: skip
    """Record the outcomes (those that decide something) through the one decision path."""
    assert case.id is not None
    listings: list[Listing] = await store.listings_of(session, case_id=case.id, notice_id=None)
    decisions = [
        ListingDecision(listing_id, OUTCOME_STATUS[outcome], note.strip() or None)
        for listing_id, outcome in outcomes.items()
        if outcome in OUTCOME_STATUS
    ]
    automatically = actor == MAILBOX_ACTOR
    how = "automatically from" if automatically else "from"
    context = f"Applied {how} the email “{(kept.subject or '(no subject)')[:200]}” (SHA-256 {kept.sha256[:12]})"
    changes = await apply_decisions(
        session,
        case=case,
        listings=listings,
        decisions=decisions,
        actor=actor,
        by_person=not automatically,
        context=context,
        detail={"source": "mailbox", "mail_sha256": kept.sha256, "mail_id": kept.mail_id},
    )
    await _event(session, kept, "mail_applied", actor=actor, changed=len(changes))
    return changes


# --- what people do with a suggestion --------------------------------------------------------------


def shown_text(mail: MailMessage) -> str:
    """What a card shows of a stored message: the text read, or why it was not read."""
    message = read_message(mail.raw)
    return message.text if message.skip is None else f"(kept, not read: {message.skip})"


def kept_of(mail: MailMessage, state: MailHandling) -> Kept:
    """A stored message and its handling, as `Kept` (its text read again from the raw bytes)."""
    assert mail.id is not None
    return Kept(
        mail_id=mail.id,
        sha256=mail.sha256,
        sender=mail.sender,
        subject=mail.subject,
        text=shown_text(mail),
        source=state.source,
        case_id=state.case_id,
        notice_id=state.notice_id,
        platform=mail.platform,
        matched_by=state.matched_by,
        suggestions=state.suggestions,
    )


async def _load(session: AsyncSession, mail_id: int) -> tuple[MailMessage, MailHandling]:
    found = await handling.get(session, mail_id)
    if found is None:
        raise MailRefused("This email is not kept by the bot.")
    return found


def not_waiting(state: MailHandling) -> MailRefused:
    """Why a suggestion's button does nothing now: it was settled before."""
    by = f" by <@{state.actor}>" if state.actor and state.actor != MAILBOX_ACTOR else ""
    what = {
        handling.APPLIED: f"was applied already{by or ' automatically'}",
        handling.INBOX: f"was moved to the inbox{by}",
        handling.DISMISSED: f"was dismissed{by}",
        handling.SUGGESTED: f"is suggested in {case_ref(state.case_id or 0)}'s thread",
    }.get(state.state, state.state)
    return MailRefused(f"This email {what}; nothing was changed.")


@dataclass(frozen=True)
class Settled:
    """What the person is told, and the suggestion's message as it should now read."""

    answer: str
    text: str
    blocks: list[dict[str, Any]]


async def apply(
    rt: Runtime, *, mail_id: int, actor: str, outcomes: Mapping[int, str] | None = None,
    note: str = "",
) -> Settled:  # fmt: skip
    """Apply the suggested decisions (or `outcomes`, chosen in the Change… form). Once: a second
    press finds the email applied and is refused."""
    await rt.access.require_approver(actor)  # before the transaction: it may ask Slack
    async with rt.db.transaction() as session:
        mail, state = await _load(session, mail_id)
        chosen = dict(outcomes) if outcomes is not None else _outcomes(state.suggestions)
        values: dict[str, Any] = {"actor": actor}
        if outcomes is not None:
            values["suggestions"] = [{"listing_id": k, "outcome": v} for k, v in chosen.items()]
        if state.state != handling.SUGGESTED or not await handling.move(
            session, mail_id, only_from={handling.SUGGESTED}, to=handling.APPLIED, **values
        ):
            raise not_waiting((await _load(session, mail_id))[1])
        kept = kept_of(mail, state)
        case = await get_case(session, kept.case_id or 0)
        if case is None:
            raise MailRefused("This email's case no longer exists.")
        changes = await _apply(session, kept, case, chosen, actor=actor, note=note)
        shown = replace(kept, suggestions=values.get("suggestions", kept.suggestions))
        card = await _card(session, shown, case)
    rt.metrics.count_decisions((change.listing.platform, change.new) for change in changes)
    text, blocks = ui.settled(card, note=ui.applied_note(actor, automatically=False))
    ref = case_ref(case.id or 0)
    answer = (
        f"Applied to {ref}: {len(changes)} listing{'s' if len(changes) != 1 else ''} changed."
        if changes
        else f"Applied to {ref}, but nothing changed: its listings already stand where the email says."
    )
    return Settled(answer, text, blocks)


async def change_form(rt: Runtime, *, mail_id: int, actor: str) -> dict[str, Any]:
    """The form to pick other outcomes per listing, the suggestion preselected."""
    await rt.access.require_approver(actor)
    async with rt.db.sessions() as session:
        _, state = await _load(session, mail_id)
        if state.state != handling.SUGGESTED:
            raise not_waiting(state)
        listings = await store.listings_of(
            session, case_id=state.case_id or 0, notice_id=state.notice_id
        )
    suggested = _outcomes(state.suggestions)
    rows = [
        (item.id or 0, item.key, suggested.get(item.id or 0, "unknown"))
        for item in listings
        if L(item.status).is_open or (item.id in suggested)
    ]
    if not rows:
        raise MailRefused("Every listing of this case is decided already.")
    return ui.change_view(mail_id, rows)


async def not_about(rt: Runtime, *, mail_id: int, actor: str) -> Settled:
    """The email is not about the case it was matched to: it goes to the triage inbox."""
    await rt.access.require_approver(actor)
    async with rt.db.transaction() as session:
        mail, state = await _load(session, mail_id)
        if state.state != handling.SUGGESTED or not await handling.move(
            session, mail_id, only_from={handling.SUGGESTED}, to=handling.INBOX, actor=actor,
            case_id=None, notice_id=None, matched_by=None, suggestions=[],
        ):  # fmt: skip
            raise not_waiting((await _load(session, mail_id))[1])
        kept = kept_of(mail, state)
        await _event(session, kept, "mail_not_about", actor=actor)
        case = await get_case(session, kept.case_id or 0)
        assert case is not None
        card = await _card(session, kept, case)
    ref = case_ref(kept.case_id or 0)
    note = f":leftwards_arrow_with_hook: Not about {ref} (<@{actor}>): moved to the inbox."
    text, blocks = ui.settled(card, note=note)
    return Settled(
        f"Moved to the inbox: it is no longer suggested for {ref}. "
        "Attach it to the right case from `/report-listing inbox`.",
        text,
        blocks,
    )
