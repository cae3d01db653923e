"""The report form's submission: validate every line, open the case, or show errors in the form."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.intake.bulk import UrlFileError
from bot.intake.cases import FILE_FIELD, ReportDraft, ReportRejected, follow_short_links, open_case
from bot.intake.upload import attach_upload
from bot.runtime import Runtime
from bot.slack_ui import report_form
from bot.slack_ui.access import AccessDenied

log = logging.getLogger("takedown.handlers")


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


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.view(report_form.REPORT_CALLBACK)
    async def submit_report(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        # The answer to a submission carries the form's errors, so validation comes before the ack;
        # it is fast (parsing and one transaction). Posting the thread is a job, after the ack.
        # An uploaded file is fetched from Slack first, with a size limit and a short timeout.
        user = body["user"]["id"]
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        try:
            await rt.access.require_reporter(user)
            draft = await attach_upload(
                draft_from_view(view), uploaded_files(view), http=rt.http, slack=rt.slack
            )
            draft = await follow_short_links(draft, http=rt.http, policy=rt.short_links)
            opened = await open_case(
                rt.db,
                config=rt.config,
                draft=draft,
                reporter_id=user,
                team_id=(body.get("team") or {}).get("id"),
                channel_id=metadata.get("channel") if isinstance(metadata, dict) else None,
                intake_key=f"view:{view['id']}",
            )
        except ReportRejected as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        except UrlFileError as exc:
            await ack(response_action="errors", errors={FILE_FIELD: str(exc)})
            return
        except AccessDenied as exc:
            await ack(response_action="errors", errors={report_form.URLS: str(exc)})
            return
        except Exception:
            log.exception("could not open a case")
            await ack(
                response_action="errors",
                errors={
                    report_form.URLS: "Could not save the report just now; nothing was filed. Please submit again in a minute."
                },
            )
            return
        await ack(
            response_action="update",
            view=report_form.case_filed_view(opened.ref, opened.listings, opened.created),
        )
        rt.wake_worker()
