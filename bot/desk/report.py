"""The report form, for a person who may report: opened (from the command or the message shortcut)
and filed when they submit it. The listeners in `handlers` read Slack's payload and answer; the
work between is here.

The form is opened with its facts sealed in (`bot.desk.seal`): who opened it, the channel it came
from, and whether that channel is private, which makes the case readable only by its members and
the approvers, and keeps its thread there. Each person may file `limits.reports_per_hour` reports
an hour, counted from the cases table: the same count for every process, lost by no restart.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.evidence import check_files
from bot.desk.seal import form_seal
from bot.evidence.added import queue_files
from bot.intake.cases import OpenedCase, ReportDraft, follow_short_links, open_case
from bot.intake.upload import attach_upload
from bot.runtime import Runtime
from bot.slack_ui.access import RateLimited
from bot.slack_ui.report_form import REPORT_CALLBACK, report_modal
from storage.cases import reports_since

HOUR = timedelta(hours=1)


async def report_form(
    rt: Runtime, *, user_id: str, urls: Sequence[str], channel_id: str | None
) -> dict[str, Any]:
    """The report form prefilled with `urls`; raises AccessDenied for a person who may not report
    (or not now), or from a private channel the bot is not in. The channel is kept in the form,
    for the case's thread to go there, with a nonce naming this one form for its intake key
    (see `report_intake_key`)."""
    await rt.access.require_reporter(user_id)
    await require_report_allowance(rt, user_id)
    private = await rt.access.private_channel(channel_id)
    facts = {
        "user": user_id,
        "channel": channel_id,
        "private": private is not None,
        FORM_NONCE: secrets.token_urlsafe(12),
    }
    return report_modal(rt.config, urls=urls, metadata=form_seal(rt).seal(REPORT_CALLBACK, facts))


FORM_NONCE = "form"  # the key of the form's own nonce in its private_metadata


def report_intake_key(
    *, enterprise_id: str | None, team_id: str | None, view_id: str, metadata: str
) -> str:
    """The intake key of a submitted report form: the same for every submission of one opened
    form (Slack resends a submission it got no answer to, and a person submits again after a
    field's error), different for any other form, in any workspace, at any time.

    Slack's view id names a view while it is open, within its workspace; Slack does not promise
    that the id never comes back, nor that another workspace never uses it (and a stand-in such
    as the shell's once restarted its ids each session). So the key holds the workspace
    (enterprise and team), the view id, and the nonce `report_form` wrote into the form's
    `metadata` (its private_metadata), which Slack hands back unchanged with each submission."""
    try:
        facts = json.loads(metadata or "{}")
    except ValueError:
        facts = {}
    nonce = facts.get(FORM_NONCE) if isinstance(facts, dict) else None
    parts = [enterprise_id or "-", team_id or "-", view_id]
    if isinstance(nonce, str) and nonce:
        parts.append(nonce)  # a form opened before forms carried one: workspace and view id
    return "form:" + ":".join(parts)


async def file_report(
    rt: Runtime,
    *,
    draft: ReportDraft,
    files: Sequence[Mapping[str, Any]],
    reporter_id: str,
    evidence_files: Sequence[Mapping[str, Any]] = (),
    team_id: str | None,
    metadata: str,
    intake_key: str,
) -> OpenedCase:
    """Open the case a submitted report form describes: its uploaded file read in, its short links
    followed, its evidence files queued to be kept with the case. `metadata` is the form's
    private_metadata as submitted. Raises AccessDenied (or StaleForm, RateLimited), UrlFileError
    (the URL file), EvidenceRefused (the evidence files) or ReportRejected (the fields)."""
    await rt.access.require_reporter(reporter_id)
    facts = form_seal(rt).open(REPORT_CALLBACK, metadata, user=reporter_id)
    channel = facts.get("channel") if isinstance(facts.get("channel"), str) else None
    await require_report_allowance(rt, reporter_id)
    check_files(rt, evidence_files)

    async def keep_evidence(session: AsyncSession, case_id: int) -> None:
        await queue_files(session, case_id=case_id, files=evidence_files, added_by=reporter_id)

    draft = await attach_upload(draft, files, http=rt.http, slack=rt.slack)
    draft = await follow_short_links(draft, http=rt.http, policy=rt.short_links)
    return await open_case(
        rt.db,
        config=rt.config,
        draft=draft,
        reporter_id=reporter_id,
        team_id=team_id,
        channel_id=channel,
        intake_key=intake_key,
        private_channel=channel if facts.get("private") else None,
        then=keep_evidence if evidence_files else None,
    )


async def require_report_allowance(rt: Runtime, user_id: str) -> None:
    """Raises RateLimited when `user_id` filed `limits.reports_per_hour` cases in the last hour.
    Two reports submitted at the same moment can both pass the count: the limit is against abuse,
    not exact."""
    limit = rt.config.limits.reports_per_hour
    now = rt.clock()
    async with rt.db.sessions() as session:
        count, first = await reports_since(session, reporter_id=user_id, since=now - HOUR)
    if count < limit:
        return
    minutes = max(1, math.ceil(((first or now) + HOUR - now).total_seconds() / 60))
    raise RateLimited(
        f"You have filed {count} reports in the last hour (`limits.reports_per_hour` is "
        f"{limit}); nothing was filed. Please try again in {minutes} min."
    )
