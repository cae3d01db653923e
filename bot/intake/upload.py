"""The report form's file input: a bulk report's URL file, fetched from Slack.

The file is fetched with the bot token (never sent to another host), at most MAX_UPLOAD_BYTES,
within DOWNLOAD_TIMEOUT: the submission is answered within Slack's 3 seconds. `bot.intake.bulk` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake.bulk import UrlFile, UrlFileError, read_url_file, with_file
from bot.intake.cases import ReportDraft

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a file in the report form (Slack itself allows 10 MB)
DOWNLOAD_TIMEOUT = 2.0  # seconds; the form's submission must be answered within 3
# Slack file hosts that may receive the bot token (besides the configured API host).
_SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")


def _may_receive_token(url: str, api_url: str) -> bool:
    """Only Slack's own hosts (or the configured API host: GovSlack, tests) get the bot token."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        host = (target.hostname or "").lower()
        if (target.scheme, host, target.port) == (api.scheme, api.hostname, api.port):
            return True
    except ValueError:
        return False
    return target.scheme == "https" and any(
        host == domain or host.endswith("." + domain) for domain in _SLACK_FILE_DOMAINS
    )


async def read_upload(
    file: Mapping[str, Any],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
    limit: int = MAX_UPLOAD_BYTES,
) -> UrlFile:
    """Download a file uploaded in the report form (a file object from the view's state) with the
    bot token, at most `limit` bytes, and read it. Raises UrlFileError with the message to show."""
    name = str(file.get("name") or file.get("title") or "the file")
    too_big = (
        f"{name} is larger than {limit / 2**20:g} MB; split it, or file it with "
        "`takedown-bot report --file`"
    )
    size = file.get("size")
    if isinstance(size, int) and size > limit:
        raise UrlFileError(too_big)
    url = file.get("url_private_download") or file.get("url_private")
    try:
        if not url and file.get("id"):
            info = await slack.files_info(file=str(file["id"]))
            found = info.get("file") or {}
            url = found.get("url_private_download") or found.get("url_private")
        if not isinstance(url, str) or not url:
            raise UrlFileError(f"Slack gave no address for {name}; upload it again")
        if not _may_receive_token(url, slack.base_url):
            raise UrlFileError(f"{name} is not stored by Slack; upload the file itself")
        async with http.get(
            url,
            headers={"Authorization": f"Bearer {slack.token}"},
            timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT),
        ) as response:
            if response.status != 200:
                raise UrlFileError(
                    f"Slack answered HTTP {response.status} for {name}; upload it again"
                )
            if response.content_type == "text/html":
                raise UrlFileError(
                    f"Slack did not hand over {name}: the app needs the files:read scope "
                    "(reinstall it with `takedown-bot manifest`)"
                )
            if (response.content_length or 0) > limit:
                raise UrlFileError(too_big)
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise UrlFileError(too_big)
    except SlackApiError as exc:
        answer = exc.response.data
        error = (
            answer.get("error") if isinstance(answer, dict) else f"HTTP {exc.response.status_code}"
        )
        raise UrlFileError(f"Slack refused to describe {name} ({error}); upload it again") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UrlFileError(
            f"could not fetch {name} from Slack ({type(exc).__name__}); nothing was filed, "
            "submit again"
        ) from None
    return read_url_file(bytes(data), name=name, filetype=file.get("filetype"))


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
