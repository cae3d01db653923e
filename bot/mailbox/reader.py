"""The `mailbox` job: read the team's mailbox folder from where the last run stopped, keep each
message once, match it to a case and read its outcome per listing.

Incremental by UID: the folder's last UID read is stored with its UIDVALIDITY, in the same
transaction as the message it follows, so a run killed between two messages resumes at the
next one. A folder whose UIDVALIDITY changed (renumbered, recreated) is read from the start
again; each message's SHA-256 is unique in `mail_messages`, so nothing is stored twice, and a
message read again (a restart, a second worker, a renumbered folder) changes nothing.

A message the reader will not read (malformed, too large, too long, one of our own notices come
back) is stored with a note and skipped; the reader goes on with the next.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import MailboxConfig
from bot.jobs.payloads import ReadMailbox
from bot.jobs.worker import JobContext
from bot.mailbox.classify import outcome_of
from bot.mailbox.imap import READ_ERRORS, ImapSession
from bot.mailbox.matching import match_message
from bot.mailbox.message import ReadMessage, read_message
from bot.mailbox.suggestions import Kept, after_kept, suggest_for
from bot.runtime import Runtime
from storage import mailbox as store
from storage.db import Database

log = logging.getLogger("takedown.mailbox")


class MailState:
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    SKIPPED = "skipped"
    LOOP = "loop"


@dataclass
class Summary:
    """What one run did: how many messages it stored in each state, and how many it had seen."""

    stored: dict[str, int] = field(default_factory=dict)
    seen: int = 0

    def count(self, state: str) -> None:
        self.stored[state] = self.stored.get(state, 0) + 1


async def read_folder(db: Database, config: MailboxConfig) -> Summary:
    """Read `config.folder` from where the last run stopped."""
    summary = Summary()
    async with await ImapSession.open(config) as imap:
        folder = await imap.select(config.folder)
        async with db.transaction() as session:
            where = await store.position(session, config.folder)
        last = where.last_uid if where and where.uidvalidity == folder.uidvalidity else 0
        if where and where.uidvalidity != folder.uidvalidity:
            log.warning("mailbox %s: UIDVALIDITY changed; reading it again from the start",
                        config.folder)  # fmt: skip
        for uid in await imap.uids_after(last):
            size = await imap.size(uid)
            if size is None:
                continue  # expunged since the search
            raw = await imap.fetch(uid, size)
            summary.seen += 1
            async with db.transaction() as session:
                state = await keep_message(session, raw, folder=config.folder,
                                           uidvalidity=folder.uidvalidity, uid=uid,
                                           auto_apply=config.auto_apply)  # fmt: skip
                await store.advance(session, folder=config.folder,
                                    uidvalidity=folder.uidvalidity, last_uid=uid)  # fmt: skip
            if state is not None:
                summary.count(state)
            if config.move_to:
                await imap.move(uid, config.move_to)
    return summary


async def keep_message(
    session: AsyncSession,
    raw: bytes,
    *,
    folder: str,
    uidvalidity: int,
    uid: int,
    auto_apply: bool = False,
    source: str = "mailbox",
) -> str | None:
    """Store `raw` once with what the reader makes of it, and suggest its decision in its case's
    thread (`bot.mailbox.suggestions`) or put it in the triage inbox; its state, or None if it
    was kept already (then nothing else happens)."""
    sha256 = hashlib.sha256(raw).hexdigest()
    if await store.is_kept(session, sha256):
        return None
    message = read_message(raw)
    read = store.NewMessage(
        sha256=sha256,
        raw=raw,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        state=MailState.UNMATCHED,
        message_id=message.message_id,
        sender=message.sender,
        subject=message.subject,
    )
    if message.skip is not None:
        log.info("mailbox: UID %s stored and skipped: %s", uid, message.skip)
        state = MailState.LOOP if message.ours else MailState.SKIPPED
        new = replace(read, state=state, note=message.skip)
    else:
        new = await _understood(session, message, read)
    mail_id = await store.keep(session, new)
    if mail_id is None:
        return None
    if new.state in (MailState.MATCHED, MailState.UNMATCHED):
        kept = Kept(
            mail_id=mail_id,
            sha256=sha256,
            sender=new.sender,
            subject=new.subject,
            text=message.text,
            source=source,
            case_id=new.case_id,
            notice_id=new.notice_id,
            platform=new.platform,
            matched_by=new.matched_by,
            suggestions=new.suggestions,
        )
        await after_kept(session, kept, auto_apply=auto_apply)
    return new.state


async def _understood(
    session: AsyncSession, message: ReadMessage, read: store.NewMessage
) -> store.NewMessage:
    try:
        match = await match_message(session, message)
        if match is None:
            return replace(read, outcome=str(outcome_of(message.text)))
        suggestions = await suggest_for(session, message, case_id=match.case_id,
                                        notice_id=match.notice_id, platform=match.platform)  # fmt: skip
    except Exception as exc:
        log.exception("mailbox: could not match a message; stored and skipped")
        return replace(read, state=MailState.SKIPPED,
                       note=f"could not be matched: {type(exc).__name__}")  # fmt: skip
    return replace(
        read,
        state=MailState.MATCHED,
        case_id=match.case_id,
        notice_id=match.notice_id,
        platform=match.platform,
        matched_by=match.matched_by,
        outcome=str(outcome_of(message.text, platform=match.platform)),
        suggestions=suggestions,
    )


async def run_mailbox(rt: Runtime, ctx: JobContext[ReadMailbox]) -> None:
    """The periodic `mailbox` job. A mailbox that cannot be reached is logged; the next period's
    run tries again (nothing is lost: the position is only moved past what was stored)."""
    config = rt.config.mailbox
    if config is not None:
        try:
            summary = await read_folder(rt.db, config)
        except READ_ERRORS as exc:
            log.warning("mailbox: %s", rt.scrub(f"{type(exc).__name__}: {exc}"))
        else:
            if summary.seen:
                log.info("mailbox %s: read %s message(s), stored %s", config.folder,
                         summary.seen, summary.stored)  # fmt: skip
    async with rt.db.transaction() as session:
        await ctx.complete(session)
