"""The report form, for a person who may report: opened (from the command or the message shortcut)
and filed when they submit it. The listeners in `handlers` read Slack's payload and answer; the
work between is here.

The form is opened with its facts sealed in (`bot.desk.seal`): who opened it, the channel it came
from, and whether that channel is private, which makes the case readable only by its members and
the approvers, and keeps its thread there. Each person may file `limits.reports_per_hour` reports
an hour, counted from the cases table: the same count for every process, lost by no restart.

Opened from a message, the form is prefilled with the message's marketplace links only, and says
which links it left out and why. The lines of a report that cannot be filed are listed in the form
(beside their field, or in the filed view when the person chose to skip them); when they do not
all fit, the person gets every one as a CSV file in a direct message (`send_bad_lines`).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.listings import ListingURLError, find_urls, parse_listing_url
from bot.desk.evidence import check_files
from bot.desk.seal import form_seal
from bot.evidence.added import queue_files
from bot.intake.bad_lines import BadLine, bad_lines_csv
from bot.intake.cases import OpenedCase, ReportDraft, follow_short_links, open_case
from bot.intake.shortlinks import ShortLinkPolicy, short_link_host
from bot.intake.upload import attach_upload
from bot.jobs.backoff import with_retries
from bot.runtime import Runtime
from bot.slack_ui.access import RateLimited
from bot.slack_ui.report_form import (
    REPORT_CALLBACK,
    SKIP_OPTION,
    LeftOut,
    case_filed_view,
    report_modal,
    skipped_shown,
)
from storage.cases import reports_since

HOUR = timedelta(hours=1)

log = logging.getLogger("takedown.desk")


async def report_form(
    rt: Runtime,
    *,
    user_id: str,
    urls: Sequence[str],
    channel_id: str | None,
    left_out: Sequence[LeftOut] | None = None,
) -> dict[str, Any]:
    """The report form prefilled with `urls`; raises AccessDenied for a person who may not report
    (or not now), or from a private channel the bot is not in. The channel is kept in the form,
    for the case's thread to go there, with a nonce naming this one form for its intake key
    (see `report_intake_key`). Given `left_out` (opened from a message), the form says which of
    the message's links it left out."""
    await rt.access.require_reporter(user_id)
    await require_report_allowance(rt, user_id)
    private = await rt.access.private_channel(channel_id)
    facts = {
        "user": user_id,
        "channel": channel_id,
        "private": private is not None,
        FORM_NONCE: secrets.token_urlsafe(12),
    }
    return report_modal(
        rt.config,
        urls=urls,
        left_out=left_out or (),
        from_message=left_out is not None,
        metadata=form_seal(rt).seal(REPORT_CALLBACK, facts),
    )


async def message_form(
    rt: Runtime, *, user_id: str, text: str, channel_id: str | None
) -> dict[str, Any]:
    """The report form opened on a message (the message shortcut): prefilled with the message's
    links that can be filed, saying which others it left out and why."""
    urls, left_out = message_links(text, short_links=rt.short_links)
    return await report_form(
        rt, user_id=user_id, urls=urls, channel_id=channel_id, left_out=left_out
    )


def message_links(text: str, *, short_links: ShortLinkPolicy) -> tuple[list[str], list[LeftOut]]:
    """The links of a message that are marketplace listings (or short links, which the form
    follows), and the others with the reason each cannot be filed."""
    urls: list[str] = []
    left_out: list[LeftOut] = []
    for url in find_urls(text):
        if not short_link_host(url, hosts=short_links):
            try:
                parse_listing_url(url)
            except ListingURLError as exc:
                left_out.append(LeftOut(url, exc.reason))
                continue
        urls.append(url)
    return urls, left_out


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


def filed_view(opened: OpenedCase) -> tuple[dict[str, Any], bool]:
    """The view the form turns into once `opened`, and whether it leaves out some of the skipped
    lines (then `send_bad_lines` sends them all)."""
    skipped = [str(line) for line in opened.skipped]
    view = case_filed_view(opened.ref, opened.listings, opened.created, skipped=skipped)
    return view, skipped_shown(skipped) < len(skipped)


async def send_bad_lines(
    rt: Runtime,
    *,
    user_id: str,
    lines: Sequence[BadLine],
    filed: OpenedCase | None = None,
    good: int = 0,
) -> None:
    """Send `user_id`, in a direct message, every line of their report that cannot be filed as a
    CSV file: those of a report not filed (`good` lines could be, skipping these), or those
    skipped when the `filed` case was opened."""
    count = f"{len(lines):,} line{'s' if len(lines) != 1 else ''}"
    if filed is not None:
        comment = f"{filed.ref} was filed without these {count}, which cannot be filed."
    else:
        comment = f"Your report was not filed: {count} cannot be filed."
        if good:
            comment += f" Fix them, or tick “{SKIP_OPTION}” to file the other {good:,}."
    comment += (
        " The file lists each with its line number and why; fix the URLs in it and you can"
        " upload it in the form."
    )
    content = bad_lines_csv(lines)
    try:
        opened = await with_retries(lambda: rt.slack.conversations_open(users=user_id))
        await with_retries(
            lambda: rt.slack.files_upload_v2(
                channel=str(opened["channel"]["id"]),
                content=content,
                filename="lines-that-cannot-be-filed.csv",
                title="Lines that cannot be filed",
                initial_comment=comment,
            )
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        # After the form's answer: nobody waits for this one. Said once, without a traceback.
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning(
            "could not send %s the lines of their report that cannot be filed: %s", user_id, why
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
