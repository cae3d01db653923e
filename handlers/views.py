"""Form submissions: the report form, and the notice forms a thread's buttons open (the
platform's reference, a decision, an answer to the platform, why a portal notice could not be
filed). A submission's answer carries the form's errors, so these validate and do their (fast)
work before the ack; `handlers.errors` turns what they raise into errors beside a field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.delivery import corrections
from bot.delivery import person as delivery
from bot.delivery.answers import forms as answers
from bot.desk import evidence
from bot.desk.notice_access import submitted_notice
from bot.desk.report import file_report, filed_view, report_intake_key, send_bad_lines
from bot.intake.cases import FILE_FIELD, ReportDraft, ReportRejected
from bot.runtime import Runtime
from bot.slack_ui import corrections as correction_form
from bot.slack_ui import evidence_form as ef
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui import report_form
from bot.slack_ui.answer_form import ANSWER_VIEW, FILES, LINKS, LISTINGS, TEXT
from handlers.payload import field_value


def _ticked(values: dict[str, Any], block_id: str) -> bool:
    """Whether a checkbox of the block is ticked."""
    return bool(values.get(block_id, {}).get(block_id, {}).get("selected_options"))


def draft_from_view(view: dict[str, Any]) -> ReportDraft:
    values = view.get("state", {}).get("values", {})
    return ReportDraft(
        urls_text=field_value(values, report_form.URLS),
        brand=field_value(values, report_form.BRAND),
        right_id=field_value(values, report_form.RIGHT),
        infringement=field_value(values, report_form.TYPE),
        description=field_value(values, report_form.DESCRIPTION),
        evidence_text=field_value(values, report_form.EVIDENCE),
        seller=field_value(values, report_form.SELLER) or None,
        skip_invalid=_ticked(values, report_form.SKIP_INVALID),
    )


def uploaded_files(view: dict[str, Any], field: str = FILE_FIELD) -> list[dict[str, Any]]:
    """The file objects of a form's file input (Slack puts them in the view's state)."""
    element = view.get("state", {}).get("values", {}).get(field, {}).get(field, {})
    return [item for item in element.get("files") or [] if isinstance(item, dict)]


def _intake_key(body: dict[str, Any], view: dict[str, Any]) -> str:
    team = body.get("team") or {}
    enterprise = body.get("enterprise") or {}
    return report_intake_key(
        enterprise_id=enterprise.get("id") if isinstance(enterprise, dict) else None,
        # An org-wide install sends no `team`: the view still names the workspace it lives in.
        team_id=view.get("team_id") or (team.get("id") if isinstance(team, dict) else None),
        view_id=str(view["id"]),
        metadata=str(view.get("private_metadata") or ""),
    )


async def _submitted_notice(rt: Runtime, body: dict[str, Any], view: dict[str, Any]) -> int:
    return await submitted_notice(
        rt,
        user=str(body["user"]["id"]),
        callback_id=str(view.get("callback_id") or ""),
        metadata=str(view.get("private_metadata") or ""),
    )


async def submit_report(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    # Filing is fast (parsing and one transaction); posting the thread is a job, after the ack.
    # An uploaded file is fetched from Slack first, with a size limit and a short timeout.
    # Lines that cannot be filed and do not all fit in the answer follow it as a file.
    user = body["user"]["id"]
    try:
        opened = await file_report(
            rt,
            draft=draft_from_view(view),
            files=uploaded_files(view),
            evidence_files=uploaded_files(view, ef.FILES_FIELD),
            reporter_id=user,
            team_id=(body.get("team") or {}).get("id"),
            metadata=view.get("private_metadata") or "",
            intake_key=_intake_key(body, view),
        )
    except ReportRejected as exc:
        if not exc.unshown:
            raise  # handlers.errors answers with the form's errors
        await ack(response_action="errors", errors=exc.errors)
        await rt.inflight.quiet()
        await send_bad_lines(rt, user_id=user, lines=exc.bad_lines, good=exc.good)
        return
    answer, more = filed_view(opened)
    await ack(response_action="update", view=answer)
    rt.wake_worker()
    if more:
        await rt.inflight.quiet()
        await send_bad_lines(rt, user_id=user, lines=opened.skipped, filed=opened)


async def confirm_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """The platform's complaint or report number, for a notice filed on its portal or one that
    may have arrived (held); refused if the notice moved on since the form was opened."""
    values = view["state"]["values"]
    opened = nb.confirm_form_notice(view["private_metadata"])
    await delivery.confirm_submission(
        rt,
        notice_id=await _submitted_notice(rt, body, view),
        reference=field_value(values, "reference"),
        actor=body["user"]["id"],
        opened_for=opened.state,
        sends=opened.sends,
    )
    await ack()
    rt.wake_worker()


async def not_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """Why a portal notice could not be filed on the platform's form (required)."""
    opened = nb.confirm_form_notice(view["private_metadata"])
    await delivery.not_submitted(
        rt,
        notice_id=await _submitted_notice(rt, body, view),
        reason=field_value(view["state"]["values"], "reason"),
        actor=body["user"]["id"],
        opened_for=opened.state,
        sends=opened.sends,
    )
    await ack()
    rt.wake_worker()


async def record_decision(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """What the platform decided, for some or all listings of a notice."""
    values = view["state"]["values"]
    selected = values.get("status", {}).get("status", {}).get("selected_option") or {}
    status = selected.get("value", "")
    chosen = values.get("listings", {}).get("listings", {}).get("selected_options") or []
    if status not in nb.PERSON_STATUSES:
        await ack(response_action="errors", errors={"status": "Choose what the platform decided."})
        return
    if not chosen:
        await ack(response_action="errors", errors={"listings": "Choose at least one listing."})
        return
    await delivery.record_decision(
        rt,
        notice_id=await _submitted_notice(rt, body, view),
        status=status,
        listing_ids=[int(option["value"]) for option in chosen],
        note=field_value(values, "note"),
        actor=body["user"]["id"],
    )
    await ack()
    rt.wake_worker()


async def send_answer(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """The answer to a platform's request for information: kept and queued (the thread says when
    it went); a field that cannot be sent is answered beside it."""
    values = view["state"]["values"]
    chosen = values.get(LISTINGS, {}).get(LISTINGS, {})
    files = values.get(FILES, {}).get(FILES, {}).get("files") or []
    try:
        await answers.request_answer(
            rt,
            notice_id=await _submitted_notice(rt, body, view),
            actor=body["user"]["id"],
            message=field_value(values, TEXT),
            links_text=field_value(values, LINKS),
            listing_ids=[
                int(option["value"])
                for option in chosen.get("selected_options") or []
                if str(option.get("value", "")).isdigit()
            ],
            files=[item for item in files if isinstance(item, dict)],
        )
    except answers.AnswerRejected as exc:
        await ack(response_action="errors", errors=exc.errors)
        return
    await ack()


async def correct_decision(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """A decision recorded by mistake, corrected with a reason; refusals go beside the field."""
    values = view["state"]["values"]
    form = correction_form
    chosen = values.get(form.LISTINGS, {}).get(form.LISTINGS, {}).get("selected_options") or []
    await corrections.correct_decision(
        rt,
        notice_id=await _submitted_notice(rt, body, view),
        listing_ids=[int(option["value"]) for option in chosen],
        to=field_value(values, form.STATUS),
        reason=field_value(values, form.REASON),
        actor=body["user"]["id"],
        opened_with=form.opened_with(view["private_metadata"]),
    )
    await ack()
    rt.wake_worker()


async def add_evidence(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """The **Add evidence** form: its files are checked and queued; the thread lists them."""
    note = field_value(view.get("state", {}).get("values", {}), ef.NOTE_FIELD)
    ref, count = await evidence.add_evidence(
        rt,
        user=str(body["user"]["id"]),
        metadata=str(view.get("private_metadata") or ""),
        files=uploaded_files(view, ef.FILES_FIELD),
        note=note,
    )
    await ack(response_action="update", view=ef.accepted_view(ref, count))
    rt.wake_worker()


def register(app: AsyncApp) -> None:
    app.view(report_form.REPORT_CALLBACK)(submit_report)
    app.view(ef.EVIDENCE_VIEW)(add_evidence)
    app.view(nb.CONFIRM_VIEW)(confirm_submission)
    app.view(nb.DECISION_VIEW)(record_decision)
    app.view(ANSWER_VIEW)(send_answer)
    app.view(correction_form.CORRECTION_VIEW)(correct_decision)
    app.view(nb.NOT_FILED_VIEW)(not_submitted)
