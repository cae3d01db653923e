"""The report form, for a person who may report: opened (from the command or the message shortcut)
and filed when they submit it. The listeners in `handlers` read Slack's payload and answer; the
work between is here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.intake.cases import OpenedCase, ReportDraft, follow_short_links, open_case
from bot.intake.upload import attach_upload
from bot.runtime import Runtime
from bot.slack_ui.report_form import report_modal


async def report_form(
    rt: Runtime, *, user_id: str, urls: Sequence[str], channel_id: str | None
) -> dict[str, Any]:
    """The report form prefilled with `urls`; raises AccessDenied for a person who may not report.
    The channel is kept in the form, for the case's thread to go there."""
    await rt.access.require_reporter(user_id)
    return report_modal(rt.config, urls=urls, metadata={"channel": channel_id})


async def file_report(
    rt: Runtime,
    *,
    draft: ReportDraft,
    files: Sequence[Mapping[str, Any]],
    reporter_id: str,
    team_id: str | None,
    channel_id: str | None,
    intake_key: str,
) -> OpenedCase:
    """Open the case a submitted report form describes: its uploaded file read in, its short links
    followed. Raises AccessDenied, UrlFileError (the file) or ReportRejected (the fields)."""
    await rt.access.require_reporter(reporter_id)
    draft = await attach_upload(draft, files, http=rt.http, slack=rt.slack)
    draft = await follow_short_links(draft, http=rt.http, policy=rt.short_links)
    return await open_case(
        rt.db,
        config=rt.config,
        draft=draft,
        reporter_id=reporter_id,
        team_id=team_id,
        channel_id=channel_id,
        intake_key=intake_key,
    )
