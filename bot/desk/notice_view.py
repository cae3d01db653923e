"""View notice: a notice exactly as it was sent, for a person who may read its case.

The button's notice is checked first (`bot.desk.notice_access.pressed_notice`: the person reads
the case, which for a private channel's case means a member of it or an approver, and pressed the
button in the case's own thread). The modal shows the notice's latest kept record: its header and
its text. A notice too long for a modal (`bot.slack_ui.notice_view.MODAL_SECTIONS`) is sent to
the person as a file of its exact bytes, in their direct messages with the bot, and the modal says
so: a file in the thread would go to everyone in it, who did not ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.kept import KeptNotice, kept_of_case, readable
from bot.delivery.person import DeliveryError
from bot.desk.notice_access import PressedNotice
from bot.runtime import Runtime
from bot.slack_ui.notice_view import fits_in_modal, notice_view_modal


@dataclass(frozen=True, slots=True)
class NoticeFile:
    """A kept notice's exact bytes, to send as a file."""

    filename: str
    content: bytes
    title: str
    comment: str


@dataclass(frozen=True, slots=True)
class ShownNotice:
    """The modal to open and, for a notice too long for it, the file to send the person."""

    view: dict[str, Any]
    file: NoticeFile | None


async def notice_view(rt: Runtime, *, pressed: PressedNotice) -> ShownNotice:
    """What View notice shows for the pressed notice. Refused (`DeliveryError`) when no copy of
    it was kept."""
    async with rt.db.sessions() as session:
        kept = [
            item
            for item in await kept_of_case(session, pressed.case_id)
            if item.notice_id == pressed.notice_id
        ]
    if not kept:
        raise DeliveryError(
            "No copy of this notice was kept: it was sent before the bot kept notices as sent, "
            "or by a run that stopped mid-send. The thread says what is known of it."
        )
    latest = kept[-1]
    text = readable(latest.record)
    fits = fits_in_modal(text)
    title = f"{latest.case_ref}, notice {latest.notice_id}"
    view = notice_view_modal(
        title=title,
        header=latest.header(),
        text=text if fits else None,
        sent_as_file=None if fits else latest.filename(),
        records=len(kept),
        every=f"takedown-bot notice {latest.case_ref} --notice {latest.notice_id}",
    )
    return ShownNotice(view, None if fits else _as_file(latest, title))


def _as_file(kept: KeptNotice, title: str) -> NoticeFile:
    return NoticeFile(
        filename=kept.filename(),
        content=kept.record.body,
        title=f"{title}, as sent",
        comment=f"{title}, exactly as sent (SHA-256 {kept.record.sha256}).",
    )


async def send_file(client: AsyncWebClient, *, user: str, file: NoticeFile) -> None:
    """Send the notice's file to `user`, in their direct messages with the bot."""
    opened = await client.conversations_open(users=user)
    await client.files_upload_v2(
        channel=str(opened["channel"]["id"]),
        content=file.content,
        filename=file.filename,
        title=file.title,
        initial_comment=file.comment,
    )
