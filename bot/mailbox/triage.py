"""The triage inbox: platforms' emails no case was found for (or that an approver said were not
about the case they were matched to). An approver attaches one to a case, which then suggests
its decision in that case's thread as if it had been matched, or dismisses it.

The **Record platform reply** shortcut, which feeds the same path from Slack, is
`bot.mailbox.recorded`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref, parse_case_ref
from bot.mailbox.matching import notice_in_case
from bot.mailbox.message import read_message
from bot.mailbox.recorded import SLACK_FOLDER
from bot.mailbox.suggestions import (
    Kept,
    MailRefused,
    not_waiting,
    post_suggestion,
    shown_text,
    suggest_for,
)
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from storage import mail_handling as handling
from storage.cases import get_case
from storage.models import MailMessage

INBOX_SHOWN = 10
UNREAD_SHOWN = 5
_EXCERPT = 400


def _listed(mail: MailMessage, *, read: bool = True) -> ui.Waiting:
    assert mail.id is not None
    return ui.Waiting(
        mail_id=mail.id,
        sender=mail.sender or "",
        subject=mail.subject or "",
        excerpt=read_message(mail.raw).text[:_EXCERPT] if read else "",
        received=f"{mail.created_at:%Y-%m-%d %H:%M} UTC",
        unread=None if read else (mail.note or "it could not be read"),
    )


async def inbox(rt: Runtime) -> ui.Inbox:
    """The oldest emails waiting in the inbox, the oldest kept but not read (skipped by the
    reader, nobody has acted on them), how many of each, and how many mail loops were kept."""
    async with rt.db.sessions() as session:
        found = await handling.waiting(session, limit=INBOX_SHOWN)
        total = await handling.waiting_count(session)
        unread = await handling.unread(session, limit=UNREAD_SHOWN)
        unread_total = await handling.unread_count(session)
        loops = await handling.loop_count(session)
    return ui.Inbox(
        waiting=[_listed(mail) for mail, _ in found],
        total=total,
        unread=[_listed(mail, read=False) for mail in unread],
        unread_total=unread_total,
        loops=loops,
    )


def _source(mail: MailMessage) -> str:
    return "slack" if mail.folder == SLACK_FOLDER else "mailbox"


async def _refusal(session: AsyncSession, mail_id: int) -> MailRefused:
    """Why an inbox button does nothing now: the email was settled before, or is not kept."""
    found = await handling.get(session, mail_id)
    return not_waiting(found[1]) if found else MailRefused("This email is not kept by the bot.")


async def _attachable(session: AsyncSession, mail_id: int) -> tuple[MailMessage, bool]:
    """An email a person may attach or dismiss: in the inbox, or kept but not read (then
    False: it has no handling yet)."""
    found = await handling.get(session, mail_id)
    if found is not None and found[1].state == handling.INBOX:
        return found[0], True
    mail = None if found else await handling.unread_message(session, mail_id)
    if mail is None:
        raise await _refusal(session, mail_id)
    return mail, False


async def dismiss(rt: Runtime, *, mail_id: int, actor: str) -> str:
    """Take an email out of the inbox (or out of the list of those kept but not read): it stays
    kept, about no case."""
    await rt.access.require_approver(actor)
    async with rt.db.transaction() as session:
        if await handling.move(
            session, mail_id, only_from={handling.INBOX}, to=handling.DISMISSED, actor=actor
        ):
            return "Dismissed: it is kept, and no longer waits in the inbox."
        mail = await handling.unread_message(session, mail_id)
        if mail is None or not await handling.start_once(
            session, mail_id=mail_id, state=handling.DISMISSED, source=_source(mail), actor=actor
        ):
            raise await _refusal(session, mail_id)
    return "Dismissed: it is kept, and no longer listed as not read."


async def attach_form(rt: Runtime, *, mail_id: int, actor: str) -> dict[str, Any]:
    await rt.access.require_approver(actor)
    async with rt.db.sessions() as session:
        mail, _ = await _attachable(session, mail_id)
    return ui.attach_view(mail_id, mail.subject or "")


async def attach(rt: Runtime, *, mail_id: int, case_text: str, actor: str) -> str:
    """Attach an email from the inbox (or one kept but not read) to case `case_text` (`TD-42`):
    its decision per listing is read for that case (an unread one's is `unknown`: the approver
    picks it with Change…) and suggested in its thread. Refused whole for a case that does not
    exist or an email no longer waiting."""
    case_id = parse_case_ref(case_text.strip())
    if case_id is None:
        raise MailRefused("Which case? Enter its id, for example TD-42.")
    await rt.access.require_approver(actor)
    async with rt.db.transaction() as session:
        if await get_case(session, case_id) is None:
            raise MailRefused(f"There is no case {case_ref(case_id)}.")
        mail, in_inbox = await _attachable(session, mail_id)
        attached = await _for_case(session, mail, case_id=case_id)
        values = {"actor": actor, "case_id": case_id, "notice_id": attached.notice_id,
                  "matched_by": "person", "suggestions": list(attached.suggestions)}  # fmt: skip
        if in_inbox:
            moved = await handling.move(
                session, mail_id, only_from={handling.INBOX}, to=handling.SUGGESTED, **values
            )
        else:
            moved = await handling.start_once(session, mail_id=mail_id, state=handling.SUGGESTED,
                                              source=attached.source, **values)  # fmt: skip
        if not moved:
            raise await _refusal(session, mail_id)
        await post_suggestion(session, attached, actor=actor, kind="mail_attached")
    rt.wake_worker()
    return f"Attached to {case_ref(case_id)}: its suggested decision is in the case's thread."


async def _for_case(session: AsyncSession, mail: MailMessage, *, case_id: int) -> Kept:
    """The email as attached to `case_id`: its notice there (the one to the sender's platform,
    or the only one) and the outcome it says per listing."""
    assert mail.id is not None
    notice, platform = await notice_in_case(session, case_id, sender=mail.sender)
    suggestions = await suggest_for(
        session, read_message(mail.raw), case_id=case_id,
        notice_id=notice.id if notice else None, platform=platform,
    )  # fmt: skip
    return Kept(
        mail_id=mail.id, sha256=mail.sha256, sender=mail.sender, subject=mail.subject,
        text=shown_text(mail), source=_source(mail), case_id=case_id,
        notice_id=notice.id if notice else None, platform=mail.platform, matched_by="person",
        suggestions=suggestions,
    )  # fmt: skip
