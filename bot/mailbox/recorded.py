"""The **Record platform reply** message shortcut: a platform's email brought into Slack is kept
like one read from the mailbox (folder and source `slack`), matched and read the same way.

Two ways in. An email **forwarded** into Slack (Slack's forwarding address, or the Email app)
arrives as a file of filetype `email`: it is made an RFC 5322 message again from the file
object's fields (`bot.mailbox.forwarded`), asking `files.info` for the rest when the object in
the message is cut short. An email **pasted** as a message's text is kept as pasted when it starts
with its headers, else as the body of one. A message with both is read from its file.

The file itself (`url_private`) is never downloaded: everything comes from Slack's Web API with
the bot token, through the configured API host.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.core.cases import case_ref
from bot.core.pasted import unescape_slack
from bot.mailbox.forwarded import EMAIL_FILETYPE, cut_short, email_of_file
from bot.mailbox.reader import MailState, keep_message
from bot.mailbox.suggestions import MailRefused
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from storage import mailbox as store

SLACK_FOLDER = "slack"  # where a message recorded from Slack says it came from
_CUT_SHORT = (
    " Slack gave only the start of the email's text, so only that was read: if the suggestion "
    "looks wrong, paste the whole email into a message and record that instead."
)

_SLACK_LINK = re.compile(r"<(mailto:)?([^<>|]+)(?:\|([^<>]*))?>")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]")


def _plain(text: str) -> str:
    """Slack's message text as typed: links and mail addresses unwrapped, escapes undone."""

    def unwrap(found: re.Match[str]) -> str:
        return (found.group(3) or found.group(2)) if found.group(1) else found.group(2)

    text = _SLACK_LINK.sub(unwrap, text)
    return unescape_slack(text)


def as_email(text: str) -> bytes:
    """A pasted email as RFC 5322 bytes: kept as pasted when it starts with its headers (From:,
    Subject: …), else as the text of a message with none."""
    text = _plain(text).replace("\r\n", "\n").strip("\n")
    head = text.split("\n\n", 1)[0].split("\n")
    if not (head and all(_HEADER.match(line) or line[:1] in " \t" for line in head)):
        text = "Subject: (pasted in Slack)\nMIME-Version: 1.0\n" \
               "Content-Type: text/plain; charset=utf-8\n\n" + text  # fmt: skip
    return text.replace("\n", "\r\n").encode("utf-8", errors="replace")


async def _described(rt: Runtime, file: dict[str, Any]) -> dict[str, Any]:
    """The email file with its full text when the message's copy is cut short: `files.info`
    (Slack's Web API, the bot token). Refused with what to do when Slack will not say."""
    if not cut_short(file) or not file.get("id"):
        return file
    try:
        answer = await rt.slack.files_info(file=str(file["id"]))
    except SlackApiError as exc:
        data = exc.response.data
        error = data.get("error") if isinstance(data, dict) else exc.response.status_code
        raise MailRefused(
            f"Slack would not describe the forwarded email ({error}): forward it again, "
            "or paste its text into a message and record that."
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MailRefused(
            f"Could not ask Slack for the forwarded email ({type(exc).__name__}); try again."
        ) from None
    found = answer.get("file")
    if isinstance(found, dict) and found.get("filetype") == EMAIL_FILETYPE:
        return {**file, **found}
    return file


async def record_reply(rt: Runtime, *, text: str, file: dict[str, Any] | None, actor: str) -> str:
    """The shortcut used on a Slack message: its forwarded email `file` (the file object, when
    it has one), or else its `text`, kept, matched and read; what the person is told."""
    if not await rt.access.is_approver(actor):
        await rt.access.require_reporter(actor)
    if file is not None:
        file = await _described(rt, file)
        if not (file.get("plain_text") or file.get("preview_plain_text") or file.get("subject")):
            raise MailRefused("Slack gave nothing of this forwarded email: forward it again.")
        answer = await _record(rt, email_of_file(file))
        return answer + (_CUT_SHORT if cut_short(file) else "")
    if not text.strip():
        raise MailRefused("This message has no text: paste the platform's email into it first.")
    return await _record(rt, as_email(text))


async def _record(rt: Runtime, raw: bytes) -> str:
    sha256 = hashlib.sha256(raw).hexdigest()
    async with rt.db.transaction() as session:
        state = await keep_message(session, raw, folder=SLACK_FOLDER, uidvalidity=0, uid=0,
                                   source="slack")  # fmt: skip
        mail = await store.message_by_sha256(session, sha256)
    rt.wake_worker()
    if state is None:
        return "This email was recorded already; nothing changed."
    assert mail is not None
    if state == MailState.MATCHED:
        ref = case_ref(mail.case_id or 0)
        why = ui.MATCHED_BY.get(mail.matched_by or "", "")
        return f"Matched to {ref} ({why}): its suggested decision is in {ref}'s thread."
    if state == MailState.UNMATCHED:
        return "No case matched: it is in the inbox (`/report-listing inbox`)."
    return f"Kept, but not read: {mail.note or 'it could not be read'}."
