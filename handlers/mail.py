"""Platforms' emails in Slack: the suggestion's buttons in a case's thread (Apply, Change…, Not
about this case), the inbox's (Attach to case…, Dismiss), their forms, and the Record platform
reply shortcut. Each acks, waits for every pending ack (bot.inflight), calls bot/ and answers;
what it raises is answered by `handlers.errors`."""

from __future__ import annotations

import logging
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
from handlers.respond import tell

log = logging.getLogger("takedown.handlers")


def _mail_id(body: dict[str, Any]) -> int:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    if not value.isdigit():
        raise AccessDenied("This button names no email.")
    return int(value)


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


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


async def apply(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    settled = await suggestions.apply(rt, mail_id=_mail_id(body), actor=_user(body))
    rt.wake_worker()
    await _settle(client, body, settled)
    await tell(client, body, settled.answer)


async def open_change_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()
    mail_id, user = _mail_id(body), _user(body)
    view = await suggestions.change_form(rt, mail_id=mail_id, actor=user)
    view = seal_mail_form(rt, view, user=user, mail_id=mail_id)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def not_about(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()
    settled = await suggestions.not_about(rt, mail_id=_mail_id(body), actor=_user(body))
    await _settle(client, body, settled)
    await tell(client, body, settled.answer)


async def open_attach_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()
    mail_id, user = _mail_id(body), _user(body)
    view = await triage.attach_form(rt, mail_id=mail_id, actor=user)
    view = seal_mail_form(rt, view, user=user, mail_id=mail_id)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def dismiss(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    await tell(client, body, await triage.dismiss(rt, mail_id=_mail_id(body), actor=_user(body)))


def _form_mail(rt: Runtime, body: dict[str, Any], view: dict[str, Any]) -> int:
    return submitted_mail(
        rt,
        callback_id=str(view.get("callback_id") or ""),
        metadata=str(view.get("private_metadata") or ""),
        user=_user(body),
    )


async def submit_change(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """The Change… form: the outcomes chosen per listing, applied (once)."""
    values = view["state"]["values"]
    note = values.get(ui.NOTE_FIELD, {}).get(ui.NOTE_FIELD, {}).get("value") or ""
    await suggestions.apply(
        rt,
        mail_id=_form_mail(rt, body, view),
        actor=_user(body),
        outcomes=ui.chosen_outcomes(values),
        note=str(note),
    )
    await ack()
    rt.wake_worker()


async def submit_attach(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], rt: Runtime
) -> None:
    """Attach to case…: the case id typed; the suggestion goes to its thread."""
    typed = view["state"]["values"].get(ui.CASE_FIELD, {}).get(ui.CASE_FIELD, {}).get("value")
    await triage.attach(
        rt, mail_id=_form_mail(rt, body, view), case_text=str(typed or ""), actor=_user(body)
    )
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
        actor=_user(body),
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
