"""Files people upload in a form's file input, fetched from Slack with the bot token.

The token goes only to Slack's own file hosts (`files.slack.com` and the like, over https) or to
the configured API host (`SLACK_API_URL`: GovSlack, the tests' fake Slack): a file object whose
address points anywhere else is refused before any request is made. A download is cut off at
`limit` bytes, whatever size the file object claims. The report form's URL file
(`bot.intake.upload`) and the evidence files people add (`bot.evidence.added`) both read through
`fetch_slack_file`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

# Slack file hosts that may receive the bot token (besides the configured API host).
_SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")


class SlackFileError(Exception):
    """A file could not be fetched from Slack; the message is for the person who uploaded it.
    `transient`: trying again later may work (a network error, Slack's 5xx)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def file_name(file: Mapping[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or "the file")


def may_receive_token(url: str, api_url: str) -> bool:
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


def file_address(file: Mapping[str, Any]) -> str | None:
    url = file.get("url_private_download") or file.get("url_private")
    return url if isinstance(url, str) and url else None


async def fetch_slack_file(
    file: Mapping[str, Any],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
    limit: int,
    seconds: float,
    too_big: str,
) -> bytes:
    """The bytes of an uploaded file (a file object from a view's state, or one with only its
    `id`), at most `limit` bytes (else SlackFileError(`too_big`)). Raises SlackFileError with
    the message to show."""
    name = file_name(file)
    size = file.get("size")
    if isinstance(size, int) and size > limit:
        raise SlackFileError(too_big)
    try:
        url = file_address(file)
        if not url and file.get("id"):
            info = await slack.files_info(file=str(file["id"]))
            url = file_address(info.get("file") or {})
        if not url:
            raise SlackFileError(f"Slack gave no address for {name}; upload it again")
        if not may_receive_token(url, slack.base_url):
            raise SlackFileError(f"{name} is not stored by Slack; upload the file itself")
        return await _download(
            url, name, http=http, token=slack.token, limit=limit, seconds=seconds, too_big=too_big
        )
    except SlackApiError as exc:
        answer = exc.response.data
        error = (
            answer.get("error") if isinstance(answer, dict) else f"HTTP {exc.response.status_code}"
        )
        raise SlackFileError(
            f"Slack refused to describe {name} ({error}); upload it again"
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackFileError(
            f"could not fetch {name} from Slack ({type(exc).__name__})", transient=True
        ) from None


async def _download(
    url: str,
    name: str,
    *,
    http: aiohttp.ClientSession,
    token: str | None,
    limit: int,
    seconds: float,
    too_big: str,
) -> bytes:
    async with http.get(
        url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=seconds),
    ) as response:
        if response.status != 200:
            raise SlackFileError(
                f"Slack answered HTTP {response.status} for {name}; upload it again",
                transient=response.status >= 500,
            )
        if response.content_type == "text/html":
            raise SlackFileError(
                f"Slack did not hand over {name}: the app needs the files:read scope "
                "(reinstall it with `takedown-bot manifest`)"
            )
        if (response.content_length or 0) > limit:
            raise SlackFileError(too_big)
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise SlackFileError(too_big)
    return bytes(data)
