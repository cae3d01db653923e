"""The files a person attached to an answer, fetched from Slack when the answer is sent.

The form keeps only each file's Slack id and name; the `answer` job asks Slack where the file is
(`files.info`) and downloads it through `bot.slack_ui.files`, which gives the bot token to Slack's
own hosts only (or the configured API host: GovSlack, tests). At most FILE_MAX_BYTES a file and TOTAL_MAX_BYTES in all:
an email with more is refused by many mail servers. Trouble is typed like a channel's: Slack
away is a `TransientError` (the job tries again), a file gone or too large a `PermanentError`
naming it (the answer fails, and the person answers again without it).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.adapters.base import AnswerFile, PermanentError, TransientError
from bot.delivery.answers.trail import AnswerFileRef
from bot.slack_ui.files import SlackFileError, fetch_slack_file

FILE_MAX_BYTES = 5 * 1024 * 1024
TOTAL_MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = 30.0  # seconds per file


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
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(f"could not ask Slack about {name} ({type(exc).__name__})") from None
    try:
        data = await fetch_slack_file(
            {**found, "name": name, "id": ref.id},
            http=http,
            slack=slack,
            limit=FILE_MAX_BYTES,
            seconds=TIMEOUT,
            too_big=too_big,
        )
    except SlackFileError as exc:
        raise (TransientError if exc.transient else PermanentError)(str(exc)) from None
    media_type = str(found.get("mimetype") or "application/octet-stream")
    return AnswerFile(name=name, media_type=media_type, data=data)
