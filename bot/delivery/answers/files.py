"""The files a person attached to an answer, fetched from Slack when the answer is sent.

The form keeps only each file's Slack id and name; the `answer` job asks Slack where the file is
(`files.info`) and downloads it with the bot token, which goes to Slack's own hosts only (or the
configured API host: GovSlack, tests). At most FILE_MAX_BYTES a file and TOTAL_MAX_BYTES in all:
an email with more is refused by many mail servers. Trouble is typed like a channel's: Slack
away is a `TransientError` (the job tries again), a file gone or too large a `PermanentError`
naming it (the answer fails, and the person answers again without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.adapters.base import AnswerFile, PermanentError, TransientError
from bot.delivery.answers.trail import AnswerFileRef

FILE_MAX_BYTES = 5 * 1024 * 1024
TOTAL_MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = 30.0  # seconds per file
_SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")


def _slack_host(url: str, api_url: str) -> bool:
    """Only Slack's own hosts (or the configured API host) get the bot token."""
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


async def fetch_files(
    refs: Sequence[AnswerFileRef], *, slack: AsyncWebClient, http: aiohttp.ClientSession
) -> tuple[AnswerFile, ...]:
    """The answer's files, downloaded from Slack (see the module's limits)."""
    files: list[AnswerFile] = []
    total = 0
    for ref in refs:
        file = await _fetch(ref, slack=slack, http=http)
        total += len(file.data)
        if total > TOTAL_MAX_BYTES:
            raise PermanentError(
                f"the files come to more than {TOTAL_MAX_BYTES // 2**20} MB; answer again with "
                "fewer or smaller files, or put them behind evidence links"
            )
        files.append(file)
    return tuple(files)


async def _fetch(
    ref: AnswerFileRef, *, slack: AsyncWebClient, http: aiohttp.ClientSession
) -> AnswerFile:
    name = ref.name
    too_big = f"{name} is larger than {FILE_MAX_BYTES // 2**20} MB; link to it instead"
    if ref.size is not None and ref.size > FILE_MAX_BYTES:
        raise PermanentError(too_big)
    try:
        found = (await slack.files_info(file=ref.id)).get("file") or {}
    except SlackApiError as exc:
        data = exc.response.data
        error = data.get("error") if isinstance(data, dict) else None
        if error in ("file_not_found", "file_deleted"):
            raise PermanentError(f"{name} is no longer in Slack; attach it again") from None
        raise TransientError(f"Slack could not describe {name} ({error or 'no answer'})") from None
    url = found.get("url_private_download") or found.get("url_private")
    if not isinstance(url, str) or not _slack_host(url, slack.base_url):
        raise PermanentError(f"Slack gave no address for {name} on its own hosts")
    media_type = str(found.get("mimetype") or "application/octet-stream")
    try:
        async with http.get(
            url,
            headers={"Authorization": f"Bearer {slack.token}"},
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                raise TransientError(f"Slack answered HTTP {response.status} for {name}")
            if response.content_type == "text/html":  # its sign-in page: the scope is missing
                raise PermanentError(
                    f"Slack did not hand over {name}: the app needs the files:read scope "
                    "(reinstall it with `takedown-bot manifest`)"
                )
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > FILE_MAX_BYTES:
                    raise PermanentError(too_big)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(f"could not fetch {name} from Slack ({type(exc).__name__})") from None
    return AnswerFile(name=name, media_type=media_type, data=bytes(data))
