"""Buttons: the ones in status threads (confirm, decide, retry, withdraw a notice) and the case
list's pages. Each acks, waits for every pending ack (bot.inflight), calls bot/ and answers; what
it raises is answered by `handlers.errors`."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import person as delivery
from bot.desk.case_list import PAGE_ACTION, list_answer
from bot.desk.notice_access import PressedNotice, pressed_notice, seal_notice_form
from bot.runtime import Runtime
from bot.slack_ui import notice_blocks as nb
from handlers.respond import tell


async def _pressed(rt: Runtime, body: dict[str, Any]) -> PressedNotice:
    """The button's notice, once the person may act on it from here (bot.desk.notice_access)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return await pressed_notice(rt, user=_user(body), value=value, channel=channel)


async def _notice_id(rt: Runtime, body: dict[str, Any]) -> int:
    return (await _pressed(rt, body)).notice_id


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


async def open_confirm_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """The buttons Submitted… (in a portal) and It arrived… (a held notice): the form asking
    for the platform's reference."""
    await ack()
    await rt.inflight.quiet()
    pressed = await _pressed(rt, body)
    view = await delivery.confirm_form(rt, notice_id=pressed.notice_id, actor=_user(body))
    await client.views_open(trigger_id=body["trigger_id"], view=seal_notice_form(rt, view, pressed))


async def open_decision_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()
    pressed = await _pressed(rt, body)
    view = await delivery.decision_form(rt, notice_id=pressed.notice_id, actor=_user(body))
    await client.views_open(trigger_id=body["trigger_id"], view=seal_notice_form(rt, view, pressed))


async def open_not_filed_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """The button Could not submit (in a portal guide): the form asking why."""
    await ack()
    await rt.inflight.quiet()
    pressed = await _pressed(rt, body)
    view = await delivery.not_submitted_form(rt, notice_id=pressed.notice_id, actor=_user(body))
    await client.views_open(trigger_id=body["trigger_id"], view=seal_notice_form(rt, view, pressed))


async def retry(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    await delivery.retry_notice(rt, notice_id=await _notice_id(rt, body), actor=_user(body))
    await tell(client, body, "Sending it again; the thread will say how it went.")


async def withdraw(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """Withdraw: the notice is withdrawn if it was not sent; the person is told what became of it
    (already on its way, or already with the platform: what they can still do)."""
    await ack()
    await rt.inflight.quiet()
    answer = await delivery.withdraw(rt, notice_id=await _notice_id(rt, body), actor=_user(body))
    rt.wake_worker()
    await tell(client, body, answer)


async def turn_page(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, rt: Runtime
) -> None:
    """The case list's "Next" / "Previous": the same ephemeral message, another page."""
    await ack()
    await rt.inflight.quiet()
    wanted = json.loads(body["actions"][0]["value"])
    text, blocks = await list_answer(
        rt, user_id=_user(body), what=str(wanted["what"]), page=int(wanted["page"])
    )
    await respond(text=text, blocks=blocks, replace_original=True, response_type="ephemeral")


def register(app: AsyncApp) -> None:
    app.action(nb.PORTAL_SUBMITTED)(open_confirm_form)
    app.action(nb.HELD_SENT)(open_confirm_form)
    app.action(nb.DECIDE)(open_decision_form)
    app.action(nb.PORTAL_FAILED)(open_not_filed_form)
    app.action(nb.RETRY)(retry)
    app.action(nb.WITHDRAW)(withdraw)
    app.action(re.compile(rf"^{PAGE_ACTION}:\d+$"))(turn_page)
