"""The one error handler: listeners let their exceptions go, and this turns each into what the
person sees.

A refusal the project raises (not allowed, not possible in the notice's state, a report or file
that cannot be used) carries the message to show, and is not logged. Anything else is a bug or an
outage: it is logged once, with its traceback, and the person gets a short apology.

Where the answer goes depends on what the person did. A form is answered before its ack (Slack
shows the errors beside a field only in the response to the submission), so its errors become the
HTTP answer. A command, a button or a shortcut was acknowledged first: the answer is an ephemeral
message. An event (the Home tab) has nobody waiting: it is only logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.person import DeliveryError
from bot.evidence.files import EvidenceRefused
from bot.intake.bulk import UrlFileError
from bot.intake.cases import ReportRejected
from bot.runtime import Runtime
from bot.slack_ui import corrections as correction_form
from bot.slack_ui import evidence_form as ef
from bot.slack_ui import mail_blocks, report_form
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.access import AccessDenied
from bot.slack_ui.answer_form import ANSWER_VIEW, TEXT
from bot.slack_ui.help import notice_text
from bot.slack_ui.report_form import FILE_FIELD
from handlers.context import RUNTIME
from handlers.respond import say_privately, tell

log = logging.getLogger("takedown.handlers")

REFUSALS = (AccessDenied, DeliveryError, ReportRejected, UrlFileError, EvidenceRefused)


@dataclass(frozen=True)
class Form:
    field: str  # the block a refusal is shown beside
    apology: str


FORMS = {  # by callback id
    report_form.REPORT_CALLBACK: Form(
        report_form.URLS,
        "Could not save the report just now; nothing was filed. Please submit again in a minute.",
    ),
    nb.CONFIRM_VIEW: Form("reference", "Could not save this just now; please try again."),
    nb.DECISION_VIEW: Form("status", "Could not save this just now; please try again."),
    nb.NOT_FILED_VIEW: Form("reason", "Could not save this just now; please try again."),
    ANSWER_VIEW: Form(
        TEXT, "Could not save the answer just now; nothing was sent. Please try again."
    ),
    correction_form.CORRECTION_VIEW: Form(
        correction_form.LISTINGS, "Could not correct this just now; nothing changed. Try again."
    ),
    ef.EVIDENCE_VIEW: Form(ef.FILES_FIELD, "Could not take the files just now; please try again."),
    mail_blocks.CHANGE_VIEW: Form(
        mail_blocks.NOTE_FIELD, "Could not save this just now; please try again."
    ),
    mail_blocks.ATTACH_VIEW: Form(
        mail_blocks.CASE_FIELD, "Could not save this just now; please try again."
    ),
}

APOLOGIES = {  # by what the person did (a slash command's payload has no type: "command")
    "command": ":warning: Something went wrong on our side; nothing was filed. "
    "Please try again in a minute.",
    "block_actions": ":warning: Something went wrong on our side; nothing was changed. "
    "Please try again.",
    "message_action": ":warning: Something went wrong on our side; please try again in a minute.",
}


async def on_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
    response: BoltResponse | None,
) -> BoltResponse | None:
    """Bolt calls this with what a listener raised. `response` is None once the listener has
    acknowledged; before that, what this returns becomes the HTTP answer."""
    rt = context.get(RUNTIME)
    if response is None and isinstance(rt, Runtime):
        # Bolt polls for the ack every 10 ms and drops it once this returns: a listener failing
        # right after its ack would leave Slack without an answer. So that answer leaves first.
        await rt.inflight.quiet()
    refused = isinstance(error, REFUSALS)
    if not refused:
        log.error("%s failed", _what(body), exc_info=error)
    kind = "command" if "command" in body else str(body.get("type") or "")
    if kind == "view_submission":
        return _form_errors(error, body) if response is not None else None
    if kind not in APOLOGIES:
        return None
    if kind == "command":
        text, shown = (str(error), None) if refused else notice_text(APOLOGIES[kind])
        await say_privately(respond, text, shown)
    else:
        await tell(client, body, str(error) if refused else APOLOGIES[kind])
    return None


def _form_errors(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
    """The submission's answer: the form stays open with the message beside a field."""
    form = FORMS.get((body.get("view") or {}).get("callback_id", ""))
    if form is None:
        return None
    if isinstance(error, ReportRejected):
        errors = error.errors
    elif isinstance(error, UrlFileError):
        errors = {FILE_FIELD: str(error)}
    elif isinstance(error, EvidenceRefused):
        errors = {ef.FILES_FIELD: str(error)}
    else:
        field = getattr(error, "field", None) or form.field  # a refusal may name its field
        errors = {field: str(error) if isinstance(error, REFUSALS) else form.apology}
    return BoltResponse(status=200, body={"response_action": "errors", "errors": errors})


def _what(body: dict[str, Any]) -> str:
    """The request in a few words, for the log."""
    if "command" in body:
        return str(body["command"])
    kind = body.get("type")
    if kind == "block_actions":
        return f"button {(body.get('actions') or [{}])[0].get('action_id')}"
    if kind == "view_submission":
        return f"form {(body.get('view') or {}).get('callback_id')}"
    if kind == "message_action":
        return f"shortcut {body.get('callback_id')}"
    if kind == "event_callback":
        return f"event {(body.get('event') or {}).get('type')}"
    return f"request {kind}"


def register(app: AsyncApp) -> None:
    app.error(on_error)
