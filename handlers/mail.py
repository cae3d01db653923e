"""Platforms' emails in Slack: the suggestion's buttons in a case's thread (Apply, Change…, Not
about this case), the inbox's (Attach to case…, Dismiss), their forms, and the Record platform
reply shortcut. Each acks, waits for every pending ack (bot.inflight), calls bot/ and answers;
what it raises is answered by `handlers.errors`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.inbox import seal_mail_form, submitted_mail
from bot.mailbox import recorded, suggestions, triage
from bot.mailbox.forwarded import EMAIL_FILETYPE
from bot.mailbox.suggestions import Settled
from bot.manifest import REPLY_SHORTCUT
from bot.runtime import Runtime
from bot.slack_ui import mail_blocks as ui
from bot.slack_ui.access import AccessDenied
from handlers.payload import button_value, field_value, user
from handlers.respond import tell

log = logging.getLogger("takedown.handlers")


def _mail_id(body: dict[str, Any]) -> int:
    value = button_value(body)
    if not value.isdigit():
        raise AccessDenied("This button names no email.")
    return int(value)


async def _settle(client: AsyncWebClient, body: dict[str, Any], settled: Settled) -> None:
    """The suggestion's message, rewritten without its buttons (chat.update: the bot posted it,
    and unlike a response_url this works however long after it was posted). A message that cannot
    be rewritten keeps its buttons, which then say what happened."""
    channel = (body.get("channel") or {}).get("id")
    ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
    if not channel or not ts:
        return
    try:
        await client.chat_update(channel=channel, ts=ts, text=settled.text, blocks=settled.blocks)
    except Exception:
        log.warning("could not rewrite the email's suggestion", exc_info=True)


FormBuilder = Callable[..., Awaitable[dict[str, Any]]]


def _mail_form(build: FormBuilder) -> Callable[..., Awaitable[None]]:
    """The listener of a button that opens an email's form: ack, build the form with
    `build(rt, mail_id=…, actor=…)` and open it sealed to this person and email."""

    async def open_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
    ) -> None:
        await ack()
        await rt.inflight.quiet()
        mail_id, actor = _mail_id(body), user(body)
        view = await build(rt, mail_id=mail_id, actor=actor)
        view = seal_mail_form(rt, view, user=actor, mail_id=mail_id)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    return open_form


# Change… (a suggestion in a case's thread) and Attach to case… (an email in the inbox).
open_change_form = _mail_form(suggestions.change_form)
open_attach_form = _mail_form(triage.attach_form)


async def apply(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    settled = await suggestions.apply(rt, mail_id=_mail_id(body), actor=user(body))
    rt.wake_worker()
    await _settle(client, body, settled)
    await tell(client, body, settled.answer)


async def not_about(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()
    settled = await suggestions.not_about(rt, mail_id=_mail_id(body), actor=user(body))
    await _settle(client, body, settled)
    await tell(client, body, settled.answer)


async def dismiss(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    await tell(client, body, await triage.dismiss(rt, mail_id=_mail_id(body), actor=user(body)))


def _form_mail(rt: Runtime, body: dict[str, Any], view: dict[str, Any]) -> int:
    return submitted_mail(
        rt,
        callback_id=str(view.get("callback_id") or ""),
        metadata=str(view.get("private_metadata") or ""),
        user=user(body),
    )


async def submit_change(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """The Change… form: the outcomes chosen per listing, applied (once)."""
    values = view["state"]["values"]
    await suggestions.apply(
        rt,
        mail_id=_form_mail(rt, body, view),
        actor=user(body),
        outcomes=ui.chosen_outcomes(values),
        note=field_value(values, ui.NOTE_FIELD),
    )
    await ack()
    rt.wake_worker()


async def submit_attach(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """Attach to case…: the case id typed; the suggestion goes to its thread."""
    typed = field_value(view["state"]["values"], ui.CASE_FIELD)
    await triage.attach(rt, mail_id=_form_mail(rt, body, view), case_text=typed, actor=user(body))
    await ack()
    rt.wake_worker()


def _email_file(message: dict[str, Any]) -> dict[str, Any] | None:
    """The first email file shared in a Slack message (a forwarded email), if any."""
    for file in message.get("files") or []:
        if isinstance(file, dict) and file.get("filetype") == EMAIL_FILETYPE:
            return file
    return None


async def record_reply(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """Record platform reply: the message's forwarded email file (or else its text), kept and
    read as an email."""
    await ack()
    await rt.inflight.quiet()
    message = body.get("message") or {}
    said = await recorded.record_reply(
        rt,
        text=str(message.get("text") or ""),
        file=_email_file(message),
        actor=user(body),
    )
    await tell(client, body, said)


def register(app: AsyncApp) -> None:
    app.action(ui.APPLY)(apply)
    app.action(ui.CHANGE)(open_change_form)
    app.action(ui.NOT_ABOUT)(not_about)
    app.action(ui.ATTACH)(open_attach_form)
    app.action(ui.DISMISS)(dismiss)
    app.view(ui.CHANGE_VIEW)(submit_change)
    app.view(ui.ATTACH_VIEW)(submit_attach)
    app.message_shortcut(REPLY_SHORTCUT)(record_reply)
