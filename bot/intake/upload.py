"""The report form's file input: a bulk report's URL file, fetched from Slack.

The file is fetched with the bot token (never sent to another host: `bot.slack_ui.files`), at
most MAX_UPLOAD_BYTES, within DOWNLOAD_TIMEOUT: the submission is answered within Slack's 3
seconds. `bot.intake.bulk` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake.bulk import UrlFile, UrlFileError, read_url_file, with_file
from bot.intake.cases import ReportDraft
from bot.slack_ui.files import SlackFileError, fetch_slack_file, file_name

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a file in the report form (Slack itself allows 10 MB)
DOWNLOAD_TIMEOUT = 2.0  # seconds; the form's submission must be answered within 3


async def read_upload(
    file: Mapping[str, Any],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
    limit: int = MAX_UPLOAD_BYTES,
) -> UrlFile:
    """Download a file uploaded in the report form (a file object from the view's state) with the
    bot token, at most `limit` bytes, and read it. Raises UrlFileError with the message to show."""
    name = file_name(file)
    too_big = (
        f"{name} is larger than {limit / 2**20:g} MB; split it, or file it with "
        "`takedown-bot report --file`"
    )
    try:
        data = await fetch_slack_file(
            file, http=http, slack=slack, limit=limit, seconds=DOWNLOAD_TIMEOUT, too_big=too_big
        )
    except SlackFileError as exc:
        again = "; nothing was filed, submit again" if exc.transient else ""
        raise UrlFileError(f"{exc}{again}") from None
    return read_url_file(data, name=name, filetype=file.get("filetype"))


async def attach_upload(
    draft: ReportDraft,
    files: Sequence[Mapping[str, Any]],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
) -> ReportDraft:
    """The report form's draft with the file uploaded in its file input (if any) read into it."""
    if not files:
        return draft
    if len(files) > 1:
        raise UrlFileError("one file per report: put all the URLs in one CSV or TXT file")
    return with_file(draft, await read_upload(files[0], http=http, slack=slack))
