"""The triage inbox: platforms' emails no case was found for (or that an approver said were not
about the case they were matched to). An approver attaches one to a case, which then suggests
its decision in that case's thread as if it had been matched, or dismisses it.

And the **Record platform reply** shortcut: an email pasted or forwarded into Slack is kept like
one read from the mailbox (source `slack`) and goes the same way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from bot.core.cases import case_ref, parse_case_ref
from bot.mailbox.classify import platforms_of_sender
from bot.mailbox.message import read_message
from bot.mailbox.reader import MailState, keep_message
from bot.mailbox.suggestions import (
    MailRefused,
    kept_of,
    not_waiting,
    post_suggestion,
    suggest_for,
)
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from storage import mail_handling as handling
from storage import mailbox as store
from storage.cases import get_case
from storage.models import MailHandling, MailMessage

INBOX_SHOWN = 10
SLACK_FOLDER = "slack"  # where a message recorded from Slack says it came from
_EXCERPT = 400


def _waiting(mail: MailMessage) -> ui.Waiting:
    assert mail.id is not None
    return ui.Waiting(
        mail_id=mail.id,
        sender=mail.sender or "",
        subject=mail.subject or "",
        excerpt=read_message(mail.raw).text[:_EXCERPT],
        received=f"{mail.created_at:%Y-%m-%d %H:%M} UTC",
    )


async def inbox(rt: Runtime) -> tuple[list[ui.Waiting], int]:
    """The oldest emails waiting in the inbox, and how many wait."""
    async with rt.db.sessions() as session:
        found = await handling.waiting(session, limit=INBOX_SHOWN)
        total = await handling.waiting_count(session)
    return [_waiting(mail) for mail, _ in found], total


async def _in_inbox(rt: Runtime, mail_id: int) -> tuple[MailMessage, MailHandling]:
    async with rt.db.sessions() as session:
        found = await handling.get(session, mail_id)
    if found is None:
        raise MailRefused("This email is not kept by the bot.")
    if found[1].state != handling.INBOX:
        raise not_waiting(found[1])
    return found


async def dismiss(rt: Runtime, *, mail_id: int, actor: str) -> str:
    """Take an email out of the inbox: it stays kept, about no case."""
    await rt.access.require_approver(actor)
    async with rt.db.transaction() as session:
        if not await handling.move(
            session, mail_id, only_from={handling.INBOX}, to=handling.DISMISSED, actor=actor
        ):
            found = await handling.get(session, mail_id)
            raise not_waiting(found[1]) if found else MailRefused("This email is not kept.")
    return "Dismissed: it is kept, and no longer waits in the inbox."


async def attach_form(rt: Runtime, *, mail_id: int, actor: str) -> dict[str, Any]:
    await rt.access.require_approver(actor)
    mail, _ = await _in_inbox(rt, mail_id)
    return ui.attach_view(mail_id, mail.subject or "")


async def attach(rt: Runtime, *, mail_id: int, case_text: str, actor: str) -> str:
    """Attach an email from the inbox to case `case_text` (`TD-42`): its decision per listing is
    read for that case and suggested in its thread. Refused whole for a case that does not exist
    or an email no longer in the inbox."""
    case_id = parse_case_ref(case_text.strip())
    if case_id is None:
        raise MailRefused("Which case? Enter its id, for example TD-42.")
    await rt.access.require_approver(actor)
    async with rt.db.transaction() as session:
        if await get_case(session, case_id) is None:
            raise MailRefused(f"There is no case {case_ref(case_id)}.")
        found = await handling.get(session, mail_id)
        if found is None:
            raise MailRefused("This email is not kept by the bot.")
        mail, state = found
        notices = await store.notices_of_case(session, case_id)
        platforms = platforms_of_sender(mail.sender)
        chosen = [n for n in notices if n.platform in platforms] or notices
        notice = chosen[0] if len(chosen) == 1 else None
        platform = notice.platform if notice else (platforms[0] if platforms else None)
        kept = kept_of(mail, state)
        suggestions = await suggest_for(
            session, read_message(mail.raw), case_id=case_id,
            notice_id=notice.id if notice else None, platform=platform,
        )  # fmt: skip
        attached = replace(kept, case_id=case_id, notice_id=notice.id if notice else None,
                           matched_by="person", suggestions=suggestions)  # fmt: skip
        if state.state != handling.INBOX or not await handling.move(
            session, mail_id, only_from={handling.INBOX}, to=handling.SUGGESTED, actor=actor,
            case_id=case_id, notice_id=attached.notice_id, matched_by="person",
            suggestions=suggestions,
        ):  # fmt: skip
            raise not_waiting(state)
        await post_suggestion(session, attached, actor=actor, kind="mail_attached")
    rt.wake_worker()
    return f"Attached to {case_ref(case_id)}: its suggested decision is in the case's thread."


# --- Record platform reply (a message shortcut) -----------------------------------------------------

_SLACK_LINK = re.compile(r"<(mailto:)?([^<>|]+)(?:\|([^<>]*))?>")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]")


def _plain(text: str) -> str:
    """Slack's message text as typed: links and mail addresses unwrapped, escapes undone."""

    def unwrap(found: re.Match[str]) -> str:
        return (found.group(3) or found.group(2)) if found.group(1) else found.group(2)

    text = _SLACK_LINK.sub(unwrap, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def as_email(text: str) -> bytes:
    """A pasted email as RFC 5322 bytes: kept as pasted when it starts with its headers (From:,
    Subject: …), else as the text of a message with none."""
    text = _plain(text).replace("\r\n", "\n").strip("\n")
    head = text.split("\n\n", 1)[0].split("\n")
    if not (head and all(_HEADER.match(line) or line[:1] in " \t" for line in head)):
        text = "Subject: (pasted in Slack)\nMIME-Version: 1.0\n" \
               "Content-Type: text/plain; charset=utf-8\n\n" + text  # fmt: skip
    return text.replace("\n", "\r\n").encode("utf-8", errors="replace")


async def record_pasted(rt: Runtime, *, text: str, actor: str) -> str:
    """An email pasted or forwarded into Slack: kept like a read one, matched and read; what the
    person is told."""
    if not await rt.access.is_approver(actor):
        await rt.access.require_reporter(actor)
    if not text.strip():
        raise MailRefused("This message has no text: paste the platform's email into it first.")
    raw = as_email(text)
    sha256 = hashlib.sha256(raw).hexdigest()
    async with rt.db.transaction() as session:
        state = await keep_message(session, raw, folder=SLACK_FOLDER, uidvalidity=0, uid=0,
                                   source="slack")  # fmt: skip
        mail = await store.message_by_sha256(session, sha256)
    rt.wake_worker()
    if state is None:
        return "This email was recorded already; nothing changed."
    assert mail is not None
    if state == MailState.MATCHED:
        ref = case_ref(mail.case_id or 0)
        return f"Matched to {ref} ({ui.MATCHED_BY.get(mail.matched_by or '', '')}): its suggested decision is in {ref}'s thread."
    if state == MailState.UNMATCHED:
        return "No case matched: it is in the inbox (`/report-listing inbox`)."
    return f"Kept, but not read: {mail.note or 'it could not be read'}."
