"""Who may press a notice's buttons and submit the forms they open, checked against the database.

A button carries a notice id and a form its sealed facts (`bot.desk.seal`), but neither is trusted
as it comes: the notice's case is read from the database, the person must be allowed to read that
case (a viewer; for a case filed in a private channel, a member of it or an approver), a button
must have been pressed in the case's own channel, and a form must come back sealed, from the
person who opened it, for a notice of the case it was opened for. What needs an approver on top is
checked where the change is made (`bot.delivery.person`). A refusal raises AccessDenied, before
anything is read further or changed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.core.cases import case_ref
from bot.desk.seal import form_seal, sealed_metadata
from bot.runtime import Runtime
from bot.slack_ui.access import AccessDenied
from storage.cases import case_of_notice
from storage.models import Case

log = logging.getLogger("takedown.access")


@dataclass(frozen=True)
class PressedNotice:
    """A notice button a person may press: the notice, its case, the person."""

    notice_id: int
    case_id: int
    user: str


async def pressed_notice(
    rt: Runtime, *, user: str, value: str, channel: str | None
) -> PressedNotice:
    """The notice a thread's button names (its `value`), once `user` may act on it from
    `channel`, where the button was pressed."""
    if not value.isdigit():
        raise AccessDenied("This button names no notice.")
    notice_id = int(value)
    case = await _case(rt, notice_id)
    await rt.access.require_reader(user, ref=_ref(case), private_channel=case.private_channel)
    if channel != case.channel_id:
        log.warning(
            "button for notice %s pressed by %s in %s, not in its case's", notice_id, user, channel
        )
        raise AccessDenied(
            f"This button does not belong to {_ref(case)}: use the buttons in its own thread."
        )
    assert case.id is not None
    return PressedNotice(notice_id=notice_id, case_id=case.id, user=user)


def seal_notice_form(rt: Runtime, view: dict[str, Any], pressed: PressedNotice) -> dict[str, Any]:
    """The form a notice button opens, with who opened it for which case and notice sealed in,
    beside what the form itself keeps in its metadata (the state it was opened for)."""
    try:
        own = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        own = {}
    facts = {
        **(own if isinstance(own, dict) else {}),
        "user": pressed.user,
        "case": pressed.case_id,
        "notice": pressed.notice_id,
    }
    return {**view, "private_metadata": sealed_metadata(rt, str(view["callback_id"]), facts)}


async def submitted_notice(rt: Runtime, *, user: str, callback_id: str, metadata: str) -> int:
    """The notice a submitted notice form was opened for, once the form (`callback_id`, its
    `metadata`) is the one the bot sealed for `user` and the notice still belongs to that case,
    which they may read."""
    facts = form_seal(rt).open(callback_id, metadata, user=user)
    notice_id = int(facts["notice"])  # sealed by us: anything else here is a bug
    case = await _case(rt, notice_id)
    if case.id != facts.get("case"):
        log.warning("form for notice %s from %s refused: sealed for another case", notice_id, user)
        raise AccessDenied(
            f"This form's notice belongs to {_ref(case)}, not to the case it was opened for."
        )
    await rt.access.require_reader(user, ref=_ref(case), private_channel=case.private_channel)
    return notice_id


async def _case(rt: Runtime, notice_id: int) -> Case:
    async with rt.db.sessions() as session:
        case = await case_of_notice(session, notice_id)
    if case is None:
        raise AccessDenied(f"notice {notice_id} does not exist")
    return case


def _ref(case: Case) -> str:
    return case_ref(case.id or 0)
