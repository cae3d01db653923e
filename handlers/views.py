"""Form submissions: the report form, and the notice forms a thread's buttons open (the
platform's reference, a decision, why a portal notice could not be filed). A submission's answer
carries the form's errors, so these validate and do their (fast) work before the ack;
`handlers.errors` turns what they raise into errors beside a field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.delivery import person as delivery
from bot.desk.notice_access import submitted_notice
from bot.desk.report import file_report, report_intake_key
from bot.intake.cases import FILE_FIELD, ReportDraft
from bot.runtime import Runtime
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui import report_form


def _value(values: dict[str, Any], block_id: str) -> str:
    element = values.get(block_id, {}).get(block_id, {})
    if element.get("type") == "static_select":
        return ((element.get("selected_option") or {}).get("value")) or ""
    return element.get("value") or ""


def draft_from_view(view: dict[str, Any]) -> ReportDraft:
    values = view.get("state", {}).get("values", {})
    return ReportDraft(
        urls_text=_value(values, report_form.URLS),
        brand=_value(values, report_form.BRAND),
        right_id=_value(values, report_form.RIGHT),
        infringement=_value(values, report_form.TYPE),
        description=_value(values, report_form.DESCRIPTION),
        evidence_text=_value(values, report_form.EVIDENCE),
        seller=_value(values, report_form.SELLER) or None,
    )


def uploaded_files(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The file objects of the form's file input (Slack puts them in the view's state)."""
    element = view.get("state", {}).get("values", {}).get(FILE_FIELD, {}).get(FILE_FIELD, {})
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
    opened = await file_report(
        rt,
        draft=draft_from_view(view),
        files=uploaded_files(view),
        reporter_id=body["user"]["id"],
        team_id=(body.get("team") or {}).get("id"),
        metadata=view.get("private_metadata") or "",
        intake_key=_intake_key(body, view),
    )
    await ack(
        response_action="update",
        view=report_form.case_filed_view(opened.ref, opened.listings, opened.created),
    )
    rt.wake_worker()


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
        reference=values.get("reference", {}).get("reference", {}).get("value") or "",
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
        reason=_value(view["state"]["values"], "reason"),
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
        note=values.get("note", {}).get("note", {}).get("value") or "",
        actor=body["user"]["id"],
    )
    await ack()
    rt.wake_worker()


def register(app: AsyncApp) -> None:
    app.view(report_form.REPORT_CALLBACK)(submit_report)
    app.view(nb.CONFIRM_VIEW)(confirm_submission)
    app.view(nb.DECISION_VIEW)(record_decision)
    app.view(nb.NOT_FILED_VIEW)(not_submitted)
