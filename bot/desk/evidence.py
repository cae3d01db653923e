"""Evidence people add: the **Add evidence** button's form, its submission, and the report form's
evidence files. Who may add: the case's reporter and the approvers, who may read the case (a
private case: its channel's members and the approvers); the button works only in the case's own
channel. The files are checked as far as Slack's file objects tell, then fetched and kept by the
`keep_files` job (`bot.evidence.added`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.cases import case_ref, parse_case_ref
from bot.desk.seal import form_seal, sealed_metadata
from bot.evidence.added import queue_files
from bot.evidence.files import EvidenceRefused, Limits, check_declared
from bot.runtime import Runtime
from bot.slack_ui.access import AccessDenied
from bot.slack_ui.evidence_form import EVIDENCE_VIEW, evidence_modal
from bot.slack_ui.files import file_address, file_name, may_receive_token
from storage.cases import get_case
from storage.evidence import case_bytes
from storage.models import Case


async def evidence_form(rt: Runtime, *, user: str, ref: str, channel: str | None) -> dict[str, Any]:
    """The form **Add evidence** opens, for case `ref` (the button's value), pressed in
    `channel`; raises AccessDenied for a person who may not add evidence to it from there."""
    case = await _case(rt, ref)
    await require_contributor(rt, user, case)
    if channel != case.channel_id:
        raise AccessDenied(
            f"This button does not belong to {_ref(case)}: use the one in its own thread."
        )
    settings = rt.config.evidence
    view = evidence_modal(_ref(case), file_mb=settings.file_max_mb, case_mb=settings.case_max_mb)
    view["private_metadata"] = sealed_metadata(rt, EVIDENCE_VIEW, {"user": user, "case": case.id})
    return view


async def add_evidence(
    rt: Runtime, *, user: str, metadata: str, files: Sequence[Mapping[str, Any]], note: str
) -> tuple[str, int]:
    """Queue the files submitted in the evidence form; → (the case's ref, how many files).
    Raises AccessDenied (or StaleForm) and EvidenceRefused (shown beside the file input)."""
    facts = form_seal(rt).open(EVIDENCE_VIEW, metadata, user=user)
    case = await _case(rt, str(facts["case"]))  # sealed by us
    await require_contributor(rt, user, case)
    if not files:
        raise EvidenceRefused("Add at least one file.")
    assert case.id is not None
    async with rt.db.transaction() as session:
        check_files(rt, files, held=await case_bytes(session, case.id))
        await queue_files(session, case_id=case.id, files=files, added_by=user, note=note)
    return _ref(case), len(files)


def check_files(rt: Runtime, files: Sequence[Mapping[str, Any]], *, held: int = 0) -> None:
    """What can be checked before the files are fetched: each is a type the bot keeps, within
    the limits with what the case holds (`held` bytes), and stored by Slack (the bot token goes
    nowhere else). Raises EvidenceRefused."""
    check_declared(files, limits=Limits.of(rt.config.evidence), case_bytes=held)
    for file in files:
        url = file_address(file)
        if url is not None and not may_receive_token(url, rt.slack.base_url):
            raise EvidenceRefused(
                f"{file_name(file)} is not stored by Slack; upload the file itself."
            )


async def require_contributor(rt: Runtime, user: str, case: Case) -> None:
    """`user` may add evidence to `case`: a reader of it who reported it or is an approver."""
    await rt.access.require_reader(user, ref=_ref(case), private_channel=case.private_channel)
    if user != case.reporter_id and not await rt.access.is_approver(user):
        raise AccessDenied(
            f"Only {_ref(case)}'s reporter (<@{case.reporter_id}>) and the approvers can add "
            "evidence to it."
        )


async def _case(rt: Runtime, ref: str) -> Case:
    case_id = parse_case_ref(ref)
    async with rt.db.sessions() as session:
        case = await get_case(session, case_id) if case_id is not None else None
    if case is None:
        raise AccessDenied(f"There is no case {ref[:20]}.")
    return case


def _ref(case: Case) -> str:
    return case_ref(case.id or 0)
