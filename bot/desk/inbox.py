"""The desk's side of platforms' emails: the triage inbox as `/report-listing inbox` and a Home
tab section (approvers only), and the email forms' sealed metadata (`bot.desk.seal`)."""

from __future__ import annotations

from typing import Any

from bot.desk.seal import form_seal, sealed_metadata
from bot.mailbox import triage
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from bot.slack_ui.access import AccessDenied
from bot.slack_ui.mrkdwn import Blocks


async def inbox_answer(rt: Runtime, *, user_id: str) -> tuple[str, Blocks]:
    """`/report-listing inbox`: the emails waiting for triage, with their buttons."""
    if not await rt.access.is_approver(user_id):
        raise AccessDenied(
            "Only approvers read the inbox of platforms' emails (`access.approvers` in app.yaml)."
        )
    return ui.inbox(await triage.inbox(rt))


async def home_section(rt: Runtime, *, user_id: str) -> Blocks:
    """The Home tab's inbox section: for approvers, when something waits (or was kept but not
    read); else nothing."""
    if not await rt.access.is_approver(user_id):
        return []
    box = await triage.inbox(rt)
    if not (box.total or box.unread_total):
        return []
    _, blocks = ui.inbox(box, shown=5)
    return [{"type": "divider"}, *blocks]


def seal_mail_form(rt: Runtime, view: dict[str, Any], *, user: str, mail_id: int) -> dict[str, Any]:
    """An email form with who opened it for which email sealed in."""
    facts = {"user": user, "mail": mail_id}
    return {**view, "private_metadata": sealed_metadata(rt, str(view["callback_id"]), facts)}


def submitted_mail(rt: Runtime, *, callback_id: str, metadata: str, user: str) -> int:
    """The email a submitted form was opened for, if the bot sealed it for `user`."""
    return int(form_seal(rt).open(callback_id, metadata, user=user)["mail"])
